/**
 * Latency histogram in microseconds: 10 µs buckets up to 100 ms, 1 ms buckets up to 60 s
 * (everything above lands in the last bucket). Recording is one array increment, so the
 * receivers can record every delivery rather than a sample (no sampling).
 * Used by bench/broadcast/clients.js, bench/cdc/clients.js and bench/cdc/trace.js.
 */
const FINE_US = 10
const FINE_LIMIT_US = 100_000
const COARSE_US = 1_000
const COARSE_LIMIT_US = 60_000_000
const FINE_BUCKETS = FINE_LIMIT_US / FINE_US
const BUCKETS = FINE_BUCKETS + (COARSE_LIMIT_US - FINE_LIMIT_US) / COARSE_US

export class LatencyHistogram {
  counts = new Uint32Array(BUCKETS)
  total = 0
  max = 0

  record(us) {
    if (us < 0) us = 0
    const index = us < FINE_LIMIT_US ? Math.floor(us / FINE_US) : Math.min(BUCKETS - 1, FINE_BUCKETS + Math.floor((us - FINE_LIMIT_US) / COARSE_US))
    this.counts[index] += 1
    this.total += 1
    if (us > this.max) this.max = us
  }

  /** Adds `n` samples of the same value (frames that arrived in the same read). */
  recordMany(us, n) {
    if (us < 0) us = 0
    const index = us < FINE_LIMIT_US ? Math.floor(us / FINE_US) : Math.min(BUCKETS - 1, FINE_BUCKETS + Math.floor((us - FINE_LIMIT_US) / COARSE_US))
    this.counts[index] += n
    this.total += n
    if (us > this.max) this.max = us
  }

  reset() {
    this.counts.fill(0)
    this.total = 0
    this.max = 0
  }

  /**
   * The upper edge of the bucket holding quantile `q`, in milliseconds (null when empty). With
   * `missing`, that many more values are taken as larger than any recorded one: null when the
   * quantile falls among them.
   */
  quantileMs(q, missing = 0) {
    if (this.total + missing === 0) return null
    const rank = Math.ceil(q * (this.total + missing))
    if (rank > this.total) return null
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]
      if (seen >= rank) return (i < FINE_BUCKETS ? (i + 1) * FINE_US : FINE_LIMIT_US + (i - FINE_BUCKETS + 1) * COARSE_US) / 1000
    }
    return this.max / 1000
  }
}
