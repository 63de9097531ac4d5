/**
 * The pure patch rules of `mode: 'patch'` (fixtures, no server).
 */
import { describe, expect, it } from 'vitest'
import { applyChanges, UNPATCHABLE, type Change } from '@switchboard/react'

const change = (eventType: 'INSERT' | 'UPDATE' | 'DELETE', row: Record<string, unknown>, old: Record<string, unknown> = {}): Change =>
  ({ eventType, new: eventType === 'DELETE' ? {} : row, old: eventType === 'DELETE' ? row : old, schema: 'public', table: 't', commit_timestamp: '', errors: [] }) as unknown as Change

describe('applyChanges', () => {
  const list = [{ id: 1, t: 'a', extra: 'client-side' }, { id: 2, t: 'b' }]

  it('plain lists: insert last (or first), merge updates, remove deletes, upsert unknown updates', () => {
    expect(applyChanges(list, [change('INSERT', { id: 3, t: 'c' })])).toEqual([...list, { id: 3, t: 'c' }])
    expect(applyChanges(list, [change('INSERT', { id: 3 })], { newestFirst: true })).toEqual([{ id: 3 }, ...list])
    expect(applyChanges(list, [change('UPDATE', { id: 1, t: 'A' })])).toEqual([{ id: 1, t: 'A', extra: 'client-side' }, list[1]])
    expect(applyChanges(list, [change('DELETE', { id: 2 })])).toEqual([list[0]])
    expect(applyChanges(list, [change('UPDATE', { id: 9, t: 'now matches' })])).toEqual([...list, { id: 9, t: 'now matches' }])
  })

  it('keeps identity when nothing changes, and matches keys across number/string', () => {
    expect(applyChanges(list, [change('DELETE', { id: 42 })])).toBe(list)
    expect(applyChanges(list, [change('DELETE', { id: '1' })])).toEqual([list[1]])
    expect(applyChanges(list, [change('INSERT', { id: 2, t: 'dup' })])).toEqual([list[0], { id: 2, t: 'dup' }])
  })

  it('uses primaryKey', () => {
    const rows = [{ uuid: 'x', n: 1 }]
    expect(applyChanges(rows, [change('UPDATE', { uuid: 'x', n: 2 })], { primaryKey: 'uuid' })).toEqual([{ uuid: 'x', n: 2 }])
  })

  it('infinite queries: pages as arrays, { items } and { data }; untouched pages keep identity', () => {
    const page2 = [{ id: 1 }]
    const arrays = { pages: [[{ id: 3 }, { id: 2 }], page2], pageParams: [null, 2] }
    const next = applyChanges(arrays, [change('INSERT', { id: 4 })], { newestFirst: true }) as typeof arrays
    expect(next.pages).toEqual([[{ id: 4 }, { id: 3 }, { id: 2 }], page2])
    expect(next.pages[1]).toBe(page2)
    expect(next.pageParams).toBe(arrays.pageParams)
    const oldestFirst = applyChanges(arrays, [change('INSERT', { id: 4 })]) as typeof arrays
    expect(oldestFirst.pages[1]).toEqual([{ id: 1 }, { id: 4 }])

    const objects = { pages: [{ items: [{ id: 2 }], nextCursor: 2 }, { data: [{ id: 1, t: 'a' }], total: 9 }], pageParams: [] }
    expect(applyChanges(objects, [change('UPDATE', { id: 1, t: 'b' }), change('DELETE', { id: 2 })])).toEqual({
      pages: [{ items: [], nextCursor: 2 }, { data: [{ id: 1, t: 'b' }], total: 9 }],
      pageParams: [],
    })
    // An update to a row on a page not loaded is ignored (it would otherwise jump to the top).
    expect(applyChanges(objects, [change('UPDATE', { id: 99 })])).toBe(objects)
  })

  it('unknown shapes are unpatchable (the caller invalidates them)', () => {
    expect(applyChanges({ id: 1 }, [change('UPDATE', { id: 1 })])).toBe(UNPATCHABLE)
    expect(applyChanges({ pages: [{ rows: [] }] }, [change('INSERT', { id: 1 })])).toBe(UNPATCHABLE)
    expect(applyChanges(7, [change('INSERT', { id: 1 })])).toBe(UNPATCHABLE)
  })
})
