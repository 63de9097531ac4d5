/** The trace's store: bounded by messages and by subscriber references, found by id and position. */
import { describe, expect, test } from 'vitest'
import { TraceRing, type RingItem } from '../../src/inspect/trace-ring.js'

const item = (id: number, weight = 1, position: number | null = id * 10): RingItem => ({ id, position, weight })

describe('TraceRing', () => {
  test('keeps the newest maxItems, found by id and by position', () => {
    const ring = new TraceRing<RingItem>(3, 1_000)
    for (let id = 1; id <= 5; id++) ring.push(item(id))
    expect([...ring.newestFirst()].map((i) => i.id)).toEqual([5, 4, 3])
    expect(ring.get(4)?.id).toBe(4)
    expect(ring.get(2)).toBeUndefined()
    expect(ring.atPosition(30)?.id).toBe(3)
    expect(ring.atPosition(20)).toBeUndefined()
  })

  test('evicts the oldest while the references held pass maxWeight, never the newest', () => {
    const ring = new TraceRing<RingItem>(100, 10)
    ring.push(item(1, 4))
    ring.push(item(2, 4))
    ring.push(item(3, 4))
    expect([...ring.newestFirst()].map((i) => i.id)).toEqual([3, 2])
    expect(ring.weight).toBe(8)
    ring.push(item(4, 50))
    expect([...ring.newestFirst()].map((i) => i.id)).toEqual([4])
  })

  test('an item that grows makes older ones leave', () => {
    const ring = new TraceRing<RingItem>(100, 10)
    const first = item(1, 3)
    const second = item(2, 3)
    ring.push(first)
    ring.push(second)
    ring.grow(second, 5)
    expect(ring.get(1)).toBeUndefined()
    expect(ring.weight).toBe(8)
  })

  test('indexed items are found by position without a scan; the index forgets what leaves', () => {
    const ring = new TraceRing<RingItem>(2, 1_000)
    ring.push(item(1), true)
    ring.push(item(2))
    expect(ring.indexedAt(10)?.id).toBe(1)
    expect(ring.indexedAt(20)).toBeUndefined()
    expect(ring.atPosition(20)?.id).toBe(2)
    ring.push(item(3), true)
    expect(ring.indexedAt(10)).toBeUndefined()
    expect(ring.indexedAt(30)?.id).toBe(3)
  })

  test('stays correct over many pushes (compaction)', () => {
    const ring = new TraceRing<RingItem>(500, 1e9)
    for (let id = 1; id <= 10_000; id++) ring.push(item(id))
    expect(ring.size).toBe(500)
    expect(ring.get(9_501)?.id).toBe(9_501)
    expect(ring.get(10_000)?.position).toBe(100_000)
    expect(ring.atPosition(95_000)).toBeUndefined()
  })
})
