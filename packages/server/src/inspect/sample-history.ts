/**
 * A tenant's recent history for the inspector's charts: one sample per second for the last two
 * minutes, and one per ten seconds for the last fifteen (gauges: the last value of the ten
 * seconds; rates: their mean). Bounded: 120 + 90 samples per tenant. Pure.
 */

import type { Sample } from './api-types.js'

export type { Sample }

const RATES = ['messagesIn', 'messagesOut', 'changes', 'rlsChecks', 'errors'] as const

export const SECOND_SAMPLES = 120
export const TEN_SECOND_SAMPLES = 90

export class SampleHistory {
  readonly #seconds: Sample[] = []
  readonly #tens: Sample[] = []
  /** Samples of the ten seconds in progress. */
  #bucket: Sample[] = []

  add(sample: Sample): void {
    push(this.#seconds, sample, SECOND_SAMPLES)
    const start = Math.floor(sample.t / 10_000) * 10_000
    if (this.#bucket.length > 0 && Math.floor(this.#bucket[0]!.t / 10_000) * 10_000 !== start) {
      push(this.#tens, aggregate(this.#bucket), TEN_SECOND_SAMPLES)
      this.#bucket = []
    }
    this.#bucket.push(sample)
  }

  /** The newest sample (null before the first). */
  get latest(): Sample | null {
    return this.#seconds[this.#seconds.length - 1] ?? null
  }

  /** Per-second samples, oldest first (two minutes). */
  get seconds(): readonly Sample[] {
    return this.#seconds
  }

  /** Per-ten-second samples, oldest first (fifteen minutes), with the ten seconds in progress last. */
  get tenSeconds(): Sample[] {
    return this.#bucket.length > 0 ? [...this.#tens, aggregate(this.#bucket)] : [...this.#tens]
  }
}

function push(list: Sample[], sample: Sample, max: number): void {
  list.push(sample)
  if (list.length > max) list.splice(0, list.length - max)
}

function aggregate(samples: readonly Sample[]): Sample {
  const last = samples[samples.length - 1]!
  const out: Sample = { ...last, t: Math.floor(samples[0]!.t / 10_000) * 10_000 }
  for (const key of RATES) out[key] = Math.round((samples.reduce((sum, s) => sum + s[key], 0) / samples.length) * 100) / 100
  return out
}
