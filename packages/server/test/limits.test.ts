import { describe, expect, test } from 'vitest'
import { DEFAULT_LIMITS, resolveLimits } from '../src/limits.js'
import { RateWindow } from '../src/rate-window.js'
import type { Clock } from '../src/clock.js'

describe('limits', () => {
  test('defaults suit a self-hosted server and match docs/limits.md', () => {
    expect(DEFAULT_LIMITS).toMatchObject({ maxChannelsPerSocket: 100, maxPayloadBytes: 3_000_500, maxFrameBytes: 5_000_000, idleTimeoutMs: 60_000 })
  })

  test('overrides merge with the defaults; nonsense is refused', () => {
    expect(resolveLimits({ maxChannelsPerSocket: 3 })).toMatchObject({ maxChannelsPerSocket: 3, maxFrameBytes: 5_000_000 })
    expect(() => resolveLimits({ maxEventsPerSecond: 0 })).toThrow(/maxEventsPerSecond must be a positive number/)
    expect(() => resolveLimits({ idleTimeoutMs: Number.NaN })).toThrow(RangeError)
  })
})

describe('RateWindow', () => {
  test('allows `limit` hits per window and starts again in the next one', () => {
    let now = 0
    const clock = { now: () => now } as Clock
    const window = new RateWindow(3, 1_000, clock)
    expect([window.hit(), window.hit(), window.hit(), window.hit()]).toEqual([true, true, true, false])
    now = 999
    expect(window.hit()).toBe(false)
    now = 1_000
    expect(window.hit()).toBe(true)
  })
})
