/**
 * Messages per second per topic (and per table), from the trace recorder's running counts:
 * the count's growth over the last window of about five seconds. Only while tracing (nothing
 * is counted per topic otherwise); a topic without a rate shows none. Pure.
 */

const WINDOW_MS = 5_000

export class TopicRates {
  #windowStart: number | null = null
  #startCounts = new Map<string, number>()
  #rates = new Map<string, number>()

  /** Called every second with the recorder's counts (null while not tracing). */
  update(counts: ReadonlyMap<string, number> | null, now: number): void {
    if (counts === null) {
      this.#rates.clear()
      this.#startCounts.clear()
      this.#windowStart = null
      return
    }
    if (this.#windowStart === null) {
      this.#windowStart = now
      this.#startCounts = new Map(counts)
      return
    }
    const elapsed = now - this.#windowStart
    if (elapsed < WINDOW_MS) return
    const rates = new Map<string, number>()
    for (const [key, count] of counts) {
      const delta = count - (this.#startCounts.get(key) ?? 0)
      if (delta > 0) rates.set(key, Math.round((delta / elapsed) * 10_000) / 10)
    }
    this.#rates = rates
    this.#windowStart = now
    this.#startCounts = new Map(counts)
  }

  /** Messages per second on `key` over the last window: 0 when none, null when not measured (not tracing). */
  rate(key: string): number | null {
    if (this.#windowStart === null) return null
    return this.#rates.get(key) ?? 0
  }
}
