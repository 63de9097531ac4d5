/**
 * A fixed-window counter: at most `limit` hits per `windowMs`. Cheap enough for every frame
 * (two numbers, no timers); the window restarts on the first hit after it ends.
 */
import type { Clock } from './clock.js'

export class RateWindow {
  #windowStart = 0
  #count = 0

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly clock: Clock,
  ) {}

  /** Counts one hit; false when it is over the limit for the current window. */
  hit(): boolean {
    const now = this.clock.now()
    if (now - this.#windowStart >= this.windowMs) {
      this.#windowStart = now
      this.#count = 0
    }
    this.#count += 1
    return this.#count <= this.limit
  }
}
