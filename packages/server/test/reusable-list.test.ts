import { describe, expect, test } from 'vitest'
import { ReusableList } from '../src/socket/reusable-list.js'

const items = <T>(list: ReusableList<T>): T[] => Array.from({ length: list.size }, (_, i) => list.at(i))

describe('ReusableList', () => {
  test('push, read in order, clear, and refill', () => {
    const list = new ReusableList<string>(8)
    list.push('a')
    list.push('b')
    expect(list.size).toBe(2)
    expect(items(list)).toEqual(['a', 'b'])
    list.clear()
    expect(list.size).toBe(0)
    list.push('c')
    expect(items(list)).toEqual(['c'])
  })

  test('a list that grew past maxKept works the same after clearing (its storage is dropped)', () => {
    const list = new ReusableList<number>(4)
    for (let i = 0; i < 100; i++) list.push(i)
    expect(items(list)).toEqual(Array.from({ length: 100 }, (_, i) => i))
    list.clear()
    expect(list.size).toBe(0)
    list.push(7)
    list.push(8)
    expect(items(list)).toEqual([7, 8])
  })

  test('clearing keeps no reference to the items (a slot past size reads undefined)', () => {
    const list = new ReusableList<object>(8)
    list.push({})
    list.push({})
    list.clear()
    expect(list.at(0)).toBeUndefined()
    expect(list.at(1)).toBeUndefined()
  })
})
