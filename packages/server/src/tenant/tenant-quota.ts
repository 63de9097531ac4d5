/**
 * A tenant's quotas summed over all its sockets and REST calls (Supabase's per-tenant
 * `max_events_per_second`, `max_joins_per_second`, `max_bytes_per_second`): what keeps one
 * tenant's flood from taking the server's time from the others. Per-socket and per-channel
 * limits stay where they are (socket/connection.ts, channel features); these are checked next
 * to them. Limits are read at every check, so a quota changed by the admin API applies to
 * live connections at once.
 */
import type { Clock } from '../clock.js'
import type { Limits } from '../limits.js'
import { RateWindow } from '../rate-window.js'

export class TenantQuota {
  readonly #events: RateWindow
  readonly #bytes: RateWindow
  readonly #joins: RateWindow

  constructor(limits: Limits, clock: Clock) {
    this.#events = new RateWindow(() => limits.maxTenantEventsPerSecond, 1_000, clock)
    this.#bytes = new RateWindow(() => limits.maxTenantBytesPerSecond, 1_000, clock)
    this.#joins = new RateWindow(() => limits.maxTenantJoinsPerSecond, 1_000, clock)
  }

  /** Counts one event of `bytes` (a client push or a REST message); false when over the quota. */
  allowEvent(bytes: number): boolean {
    const events = this.#events.hit()
    const withinBytes = this.#bytes.hit(bytes)
    return events && withinBytes
  }

  /** Counts one join; false when over the tenant's joins per second. */
  allowJoin(): boolean {
    return this.#joins.hit()
  }
}
