/**
 * A fixed-window counter: at most `limit` hits (or units, with a weight) per `windowMs`. Cheap
 * enough for every frame (two numbers, no timers); the window restarts on the first hit after
 * it ends. `limit` may be a function, read at every hit, so a limit changed while the counter
 * is in use (a tenant's quota updated by the admin API) applies at once.
 */
import type { Clock } from './clock.js'

export class RateWindow {
  #windowStart = 0
  #count = 0
  readonly #limit: () => number

  constructor(
    limit: number | (() => number),
    private readonly windowMs: number,
    private readonly clock: Clock,
  ) {
    this.#limit = typeof limit === 'number' ? () => limit : limit
  }

  /** Counts one hit of `weight` units; false when it is over the limit for the current window. */
  hit(weight = 1): boolean {
    const now = this.clock.now()
    if (now - this.#windowStart >= this.windowMs) {
      this.#windowStart = now
      this.#count = 0
    }
    this.#count += weight
    return this.#count <= this.#limit()
  }
}
