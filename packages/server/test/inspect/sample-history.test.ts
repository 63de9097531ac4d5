/** The charts' history (per second for two minutes, per ten seconds for fifteen) and the per-topic rates. */
import { describe, expect, test } from 'vitest'
import { SampleHistory, SECOND_SAMPLES, TEN_SECOND_SAMPLES, type Sample } from '../../src/inspect/sample-history.js'
import { TopicRates } from '../../src/inspect/topic-rates.js'

const sample = (t: number, messagesIn: number, connections = 1): Sample => ({
  t, connections, channels: 0, presences: 0, messagesIn, messagesOut: 0, changes: 0, rlsChecks: 0, errors: 0, slotLagBytes: null, slotLagSeconds: null,
})

describe('SampleHistory', () => {
  test('ten-second samples: gauges last, rates averaged; bounded both ways', () => {
    const history = new SampleHistory()
    const start = 1_700_000_000_000
    for (let s = 0; s < 20 * 60; s++) history.add(sample(start + s * 1000, s % 10 === 0 ? 10 : 0, s))
    expect(history.seconds).toHaveLength(SECOND_SAMPLES)
    const tens = history.tenSeconds
    expect(tens.length).toBe(TEN_SECOND_SAMPLES + 1) // plus the ten seconds in progress
    const full = tens[tens.length - 2]!
    expect(full.messagesIn).toBe(1)
    expect(full.t % 10_000).toBe(0)
    expect(full.connections).toBe(Math.floor((full.t - start) / 1000) + 9)
    expect(history.latest?.t).toBe(start + (20 * 60 - 1) * 1000)
  })
})

describe('TopicRates', () => {
  test('messages per second over about five seconds; null while not measured', () => {
    const rates = new TopicRates()
    expect(rates.rate('public:a')).toBeNull()
    const counts = new Map([['public:a', 0]])
    rates.update(counts, 0)
    counts.set('public:a', 50)
    counts.set('public:b', 5)
    rates.update(counts, 5_000)
    expect(rates.rate('public:a')).toBe(10)
    expect(rates.rate('public:b')).toBe(1)
    expect(rates.rate('public:c')).toBe(0)
    rates.update(null, 6_000)
    expect(rates.rate('public:a')).toBeNull()
  })
})
