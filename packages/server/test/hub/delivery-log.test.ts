import { describe, expect, test } from 'vitest'
import type { Clock } from '../../src/clock.js'
import { DeliveryLog } from '../../src/hub/delivery-log.js'
import { formatStreamPoint, STREAM_START } from '@switchboard/protocol'

function manualClock(start = 1_000_000): Clock & { advance(ms: number): void } {
  let now = start
  return {
    now: () => now,
    setTimeout: (callback, ms) => setTimeout(callback, ms),
    clearTimeout: (timer) => clearTimeout(timer),
    advance: (ms) => void (now += ms),
  }
}

const limits = { maxMessages: 1_000, maxBytes: 1_000_000, maxAgeMs: 60_000 }

describe('DeliveryLog', () => {
  test('positions are consecutive from 1 and since() returns what follows a position, in order', () => {
    const log = new DeliveryLog<string>(limits, manualClock(), 'e1')
    expect(['a', 'b', 'c', 'd'].map((v) => log.append(v, 1))).toEqual([1, 2, 3, 4])
    const result = log.since('e1', 2)
    expect(result).toMatchObject({ ok: true, lastSeq: 4, point: STREAM_START })
    if (result.ok) expect(result.entries.map((e) => [e.seq, e.value])).toEqual([[3, 'c'], [4, 'd']])
    const all = log.since('e1', 0)
    if (all.ok) expect(all.entries).toHaveLength(4)
    const none = log.since('e1', 4)
    if (none.ok) expect(none.entries).toEqual([])
  })

  test('another epoch or a future position is refused, never answered partially', () => {
    const log = new DeliveryLog<string>(limits, manualClock(), 'e1')
    log.append('a', 1)
    expect(log.since('e0', 0)).toEqual({ ok: false, reason: 'epoch' })
    expect(log.since('e1', 7)).toEqual({ ok: false, reason: 'future' })
  })

  test('bounded by count: the oldest entries go, and a position before them is a gap', () => {
    const log = new DeliveryLog<number>({ ...limits, maxMessages: 3 }, manualClock(), 'e')
    for (let i = 1; i <= 10; i++) log.append(i, 1)
    expect(log.size).toBeLessThanOrEqual(3)
    expect(log.since('e', 6)).toEqual({ ok: false, reason: 'evicted' })
    const tail = log.since('e', 8)
    expect(tail.ok && tail.entries.map((e) => e.value)).toEqual([9, 10])
  })

  test('bounded by bytes', () => {
    const log = new DeliveryLog<number>({ ...limits, maxBytes: 100 }, manualClock(), 'e')
    for (let i = 1; i <= 10; i++) log.append(i, 30)
    expect(log.bytes).toBeLessThanOrEqual(100)
    expect(log.size).toBe(3)
    expect(log.since('e', 1)).toEqual({ ok: false, reason: 'evicted' })
  })

  test('bounded by age, also when nothing new is appended', () => {
    const clock = manualClock()
    const log = new DeliveryLog<number>({ ...limits, maxAgeMs: 1_000 }, clock, 'e')
    log.append(1, 1)
    clock.advance(600)
    log.append(2, 1)
    clock.advance(600)
    expect(log.since('e', 0)).toEqual({ ok: false, reason: 'evicted' })
    const rest = log.since('e', 1)
    expect(rest.ok && rest.entries.map((e) => e.value)).toEqual([2])
    clock.advance(1_000)
    const empty = log.since('e', 2)
    expect(empty).toEqual({ ok: true, entries: [], lastSeq: 2, point: STREAM_START })
    expect(log.size).toBe(0)
  })

  test('the ring grows past its first capacity and keeps order across wrap-around', () => {
    const log = new DeliveryLog<number>({ ...limits, maxMessages: 5_000 }, manualClock(), 'e')
    for (let i = 1; i <= 12_000; i++) log.append(i, 1)
    expect(log.size).toBe(5_000)
    const tail = log.since('e', 11_990)
    expect(tail.ok && tail.entries.map((e) => e.value)).toEqual([11_991, 11_992, 11_993, 11_994, 11_995, 11_996, 11_997, 11_998, 11_999, 12_000])
  })

  test('each log has its own random epoch', () => {
    const a = new DeliveryLog(limits, manualClock())
    const b = new DeliveryLog(limits, manualClock())
    expect(a.epoch).not.toBe(b.epoch)
    expect(a.epoch.length).toBeGreaterThanOrEqual(8)
  })

  test('entries carry stream points: changes their own, broadcasts the newest change before them', () => {
    const log = new DeliveryLog<string>(limits, manualClock(), 'e')
    const a = formatStreamPoint(0x100n, 0)
    const b = formatStreamPoint(0x100n, 1)
    log.append('broadcast before any change', 1)
    log.append('change a', 1, a)
    log.append('change b', 1, b)
    log.append('broadcast after b', 1)
    const all = log.since('e', 0)
    expect(all.ok && all.entries.map((e) => e.point)).toEqual([STREAM_START, a, b, b])
    expect(log.headPoint).toBe(b)
  })

  test('a resume from an earlier epoch is served by stream point from the rebuilt history, plus all of this epoch', () => {
    const log = new DeliveryLog<string>(limits, manualClock(), 'new')
    const p = (lsn: number, i: number) => formatStreamPoint(BigInt(lsn), i)
    // Re-read from the slot after a restart (historical), then this process's own messages.
    log.append('h1', 1, p(0x200, 0), true)
    log.append('h2', 1, p(0x300, 0), true)
    log.append('live broadcast', 1)
    log.append('live change', 1, p(0x400, 0))
    expect(log.sinceStreamPoint(p(0x200, 0))).toEqual({ ok: false, reason: 'epoch' }) // not rebuilt yet
    log.setFloor(p(0x180, 0))
    const served = log.sinceStreamPoint(p(0x200, 0))
    expect(served.ok && served.entries.map((e) => e.value)).toEqual(['h2', 'live broadcast', 'live change'])
    // Older than what the slot kept: the changes in between are gone.
    expect(log.sinceStreamPoint(p(0x100, 0))).toEqual({ ok: false, reason: 'evicted' })
  })

  test('once an entry of this epoch is evicted, no resume from an earlier epoch can be whole', () => {
    const log = new DeliveryLog<string>({ ...limits, maxMessages: 2 }, manualClock(), 'new')
    log.setFloor(STREAM_START)
    log.append('live 1', 1)
    log.append('live 2', 1)
    expect(log.sinceStreamPoint(STREAM_START).ok).toBe(true)
    log.append('live 3', 1)
    expect(log.sinceStreamPoint(STREAM_START)).toEqual({ ok: false, reason: 'evicted' })
  })

  test('evictExpired drops old entries without an append, and evictedThrough says how far', () => {
    const clock = manualClock()
    const log = new DeliveryLog<number>({ ...limits, maxAgeMs: 1_000 }, clock, 'e')
    log.append(1, 1)
    log.append(2, 1)
    expect(log.evictedThrough).toBe(0)
    clock.advance(1_001)
    log.evictExpired()
    expect(log.evictedThrough).toBe(2)
    expect(log.size).toBe(0)
  })
})
