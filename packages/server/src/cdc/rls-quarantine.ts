/**
 * Subscribers whose RLS check raised, taken off the change path until they rejoin or refresh
 * their token, so one bad token cannot cost everyone else their changes (rls-check-failure.ts).
 *
 *   routed ──check raised (holds)──► quarantined: `system` error sent once, bindings suspended
 *     ▲                                   │        in the index (no routing, no checks)
 *     └──── token refreshed (release) ◄───┤
 *                                         └── unsubscribed / rejoined ──► forgotten
 *
 * A refreshed token (`access_token`) replaces the entry's auth context object; `release()`,
 * run at the start of every batch, sees that and routes the bindings again (if the new claims
 * still make the policy raise, the next batch quarantines them again, with a new message). A
 * rejoin registers a new entry and removes the old one's bindings from the index.
 */
import type { AuthContext } from '../auth/auth-context.js'
import type { Logger } from '../logger.js'
import type { SubscriberEntry } from './change-dispatcher.js'
import type { CheckFailure } from './rls-check-failure.js'
import type { SubscriptionIndex } from './subscription-index.js'

export class RlsQuarantine {
  /** Quarantined entries, with the auth context they were quarantined under. */
  readonly #held = new Map<SubscriberEntry, AuthContext>()

  constructor(private readonly index: SubscriptionIndex<SubscriberEntry>, private readonly logger: Logger) {}

  /** Subscribers quarantined now. */
  get size(): number {
    return this.#held.size
  }

  /**
   * True when `entry` must get nothing: it was quarantined before, or `failure` (its check on
   * this change's table raised) quarantines it now, which tells it once.
   */
  holds(entry: SubscriberEntry, failure: CheckFailure | undefined): boolean {
    if (failure === undefined) return this.#held.size !== 0 && this.#held.has(entry)
    if (this.#held.has(entry)) return true
    this.#held.set(entry, entry.auth)
    this.index.suspend(entry)
    this.logger.warn({ table: failure.table, code: failure.code, role: entry.auth.role }, 'cdc: RLS check raised for a subscriber; quarantined until it rejoins or refreshes its token')
    try {
      entry.sink.systemMessage?.('error', failure.message)
    } catch (error) {
      this.logger.error({ err: error }, 'cdc: subscriber threw in systemMessage')
    }
    return true
  }

  /** Routes again the entries whose token was refreshed, and forgets those that left. */
  release(): void {
    for (const [entry, auth] of this.#held) {
      if (!this.index.isSuspended(entry)) {
        this.#held.delete(entry)
      } else if (entry.auth !== auth) {
        this.#held.delete(entry)
        this.index.resume(entry)
      }
    }
  }
}
