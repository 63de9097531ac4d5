/**
 * A token bucket: `capacity` sends at once, refilled at `perSecond`. One per channel, checked before
 * every client broadcast, so a runaway render loop gets a clear `RATE_LIMITED` error here instead of
 * the server shutting the whole channel down ("Too many messages per second").
 */
import type { Clock } from './clock.js'

export interface RateLimit {
  /** Sustained sends per second (default 20). */
  perSecond: number
  /** Sends allowed in a burst (default: `perSecond`). */
  burst?: number
}

export const DEFAULT_BROADCAST_RATE: Readonly<RateLimit> = Object.freeze({ perSecond: 20 })

export class TokenBucket {
  #tokens: number
  #last: number
  readonly #capacity: number
  readonly #perMs: number
  readonly #clock: Pick<Clock, 'now'>

  constructor(limit: RateLimit, clock: Pick<Clock, 'now'>) {
    this.#capacity = Math.max(1, limit.burst ?? limit.perSecond)
    this.#perMs = limit.perSecond / 1000
    this.#clock = clock
    this.#tokens = this.#capacity
    this.#last = clock.now()
  }

  #refill(): void {
    const now = this.#clock.now()
    this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#last) * this.#perMs)
    this.#last = now
  }

  /** Takes one token; returns 0 on success or the ms to wait until one is available. */
  take(): number {
    this.#refill()
    if (this.#tokens >= 1) {
      this.#tokens -= 1
      return 0
    }
    return this.#perMs > 0 ? Math.ceil((1 - this.#tokens) / this.#perMs) : Number.POSITIVE_INFINITY
  }
}
