import { describe, expect, it } from 'vitest'
import { compareValues, equalityKey, matchesFilters, type CompiledFilter } from '../../src/cdc/filter-eval.js'
import { compileTextPattern, type TextPattern } from '../../src/cdc/text-pattern.js'
import { SubscriptionIndex, type ChangeType, type IndexedBinding, type RoutableChange } from '../../src/cdc/subscription-index.js'

const f = (column: string, op: CompiledFilter['op'], values: string[], kind: CompiledFilter['kind'] = 'number', negate = false): CompiledFilter => ({
  column, op, negate, kind, keys: values.map((v) => equalityKey(v, kind)), text: values[0] ?? '', pattern: op === 'like' ? likePattern(values[0]!) : null,
})
function likePattern(text: string): TextPattern {
  const compiled = compileTextPattern('like', text)
  if (!compiled.ok) throw new Error(compiled.error)
  return compiled.pattern
}
const change = (type: ChangeType, row: Record<string, string | null>, table = 'calls'): RoutableChange => ({
  schema: 'public', table, type, value: (c) => row[c], kindOf: (c) => (c === 'id' || c === 'n' ? 'number' : 'text'),
})
let nextId = 1
const withIds = (b: Omit<IndexedBinding<string>, 'ids'>): IndexedBinding<string> => ({ ...b, ids: [b.id] })
const binding = (subscriber: string, event: ChangeType | '*', filters: CompiledFilter[] = [], table = 'calls'): IndexedBinding<string> =>
  withIds({ subscriber, id: nextId++, event, schema: 'public', table, filters, select: null })

describe('SubscriptionIndex', () => {
  it('routes by table, event and equality value; groups ids per subscriber', () => {
    const idx = new SubscriptionIndex<string>()
    const a1 = binding('a', 'INSERT')
    const a2 = binding('a', '*', [f('id', 'eq', ['1'])])
    const b = binding('b', '*', [f('id', 'eq', ['2'])])
    const c = binding('c', 'UPDATE')
    const d = binding('d', '*', [f('id', 'in', ['1', '3'])])
    const other = binding('e', '*', [], 'other')
    for (const x of [a1, a2, b, c, d, other]) idx.add(x)
    const m = idx.match(change('INSERT', { id: '1' }))
    expect([...m.keys()].sort()).toEqual(['a', 'd'])
    expect(m.get('a')!.map((x) => x.id).sort()).toEqual([a1.id, a2.id].sort())
    expect([...idx.match(change('UPDATE', { id: '2' })).keys()].sort()).toEqual(['b', 'c'])
    expect([...idx.match(change('DELETE', { id: '3' })).keys()]).toEqual(['d'])
    expect([...idx.match(change('INSERT', { id: '1.0' })).keys()].sort()).toEqual(['a', 'd'])
    idx.remove(a2)
    idx.remove(d)
    expect([...idx.match(change('INSERT', { id: '1' })).keys()]).toEqual(['a'])
    expect(idx.size).toBe(4)
  })

  it('wildcard bindings', () => {
    const idx = new SubscriptionIndex<string>()
    idx.add({ subscriber: 's', id: 1, ids: [1], event: '*', schema: 'public', table: '*', filters: [], select: null })
    idx.add({ subscriber: 'all', id: 2, ids: [2], event: 'DELETE', schema: '*', table: '*', filters: [], select: null })
    expect([...idx.match(change('DELETE', { id: '1' }, 'x')).keys()]).toEqual(['s', 'all'])
    expect(idx.hasTable('public', 'anything')).toBe(true)
  })

  it('a lookup does not scan equality bindings of other values', () => {
    const idx = new SubscriptionIndex<string>()
    for (let i = 0; i < 10_000; i++) idx.add(binding(`s${i}`, '*', [f('id', 'eq', [String(i)])]))
    let reads = 0
    const c = change('INSERT', { id: '5000' })
    const counting: RoutableChange = { ...c, value: (col) => { reads++; return c.value(col) } }
    expect([...idx.match(counting).keys()]).toEqual(['s5000'])
    expect(reads).toBeLessThan(5)
  })
})

describe('filters compared by column type', () => {
  it('numbers compare numerically and exactly', () => {
    expect(compareValues('9', '10', 'number')).toBe(-1)
    expect(compareValues('9', '10', 'text')).toBe(1)
    expect(compareValues('9007199254740993', '9007199254740992', 'number')).toBe(1)
    expect(compareValues('-1.50', '-1.5', 'number')).toBe(0)
    expect(compareValues('-2', '-10', 'number')).toBe(1)
    expect(equalityKey('-0.0', 'number')).toBe('0')
  })

  it('NULL fails comparisons, also negated; is/like work', () => {
    const row = (v: string | null) => () => v
    expect(matchesFilters([f('n', 'neq', ['1'])], row(null))).toBe(false)
    expect(matchesFilters([f('n', 'eq', ['1'], 'number', true)], row(null))).toBe(false)
    expect(matchesFilters([{ ...f('n', 'is', ['null'], 'text'), text: 'null' }], row(null))).toBe(true)
    expect(matchesFilters([f('t', 'like', ['a%c'], 'text')], row('abbc'))).toBe(true)
    expect(matchesFilters([f('t', 'like', ['a_c'], 'text')], row('abbc'))).toBe(false)
    expect(matchesFilters([f('n', 'gte', ['2']), f('n', 'lt', ['10'])], row('9'))).toBe(true)
    expect(matchesFilters([f('n', 'eq', ['1'])], () => undefined)).toBe(false)
  })
})

describe('suspend / resume (rls-quarantine.ts) and rows that were not kept', () => {
  const binding = (subscriber: string, filters: CompiledFilter[] = [], event: ChangeType | '*' = '*'): IndexedBinding<string> =>
    withIds({ subscriber, id: nextId++, event, schema: 'public', table: 'calls', filters, select: null })

  it('a suspended subscriber matches nothing until resumed; removing its bindings meanwhile works', () => {
    const idx = new SubscriptionIndex<string>()
    const a1 = binding('a', [f('id', 'eq', ['1'])])
    const a2 = binding('a')
    const b = binding('b')
    for (const x of [a1, a2, b]) idx.add(x)
    expect(idx.suspend('a')).toBe(true)
    expect([...idx.match(change('INSERT', { id: '1' })).keys()]).toEqual(['b'])
    expect(idx.size).toBe(3)
    idx.remove(a2)
    idx.resume('a')
    expect(idx.match(change('INSERT', { id: '1' })).get('a')).toEqual([a1])
    idx.remove(a1)
    expect(idx.isSuspended('a')).toBe(false)
    expect(idx.size).toBe(1)
    expect(idx.suspend('nobody')).toBe(false)
  })

  it('a change whose row was not kept matches every binding of its table and event, whatever the filters', () => {
    const idx = new SubscriptionIndex<string>()
    idx.add(binding('eq', [f('id', 'eq', ['1'])]))
    idx.add(binding('in', [f('id', 'in', ['2', '3'])]))
    idx.add(binding('gt', [f('n', 'gt', ['5'])]))
    idx.add(binding('deletes', [], 'DELETE'))
    const omitted = { ...change('INSERT', {}), rowOmitted: true }
    expect([...idx.match(omitted).keys()].sort()).toEqual(['eq', 'gt', 'in'])
    expect(idx.match(omitted).get('in')).toHaveLength(1)
  })
})

describe('SubscriptionIndex: answers shared between changes', () => {
  const on = (subscriber: string, event: ChangeType | '*', filters: CompiledFilter[] = [], schema = 'public', table = 'calls') =>
    withIds({ subscriber, id: nextId++, event, schema, table, filters, select: null })

  it('changes of one table and event share one answer while no binding they could match has a filter', () => {
    const idx = new SubscriptionIndex<string>()
    for (const s of ['a', 'b', 'c']) idx.add(on(s, 'INSERT'))
    idx.add(on('all', '*'))
    const first = idx.match(change('INSERT', { id: '1' }))
    expect([...first.keys()]).toEqual(['a', 'b', 'c', 'all'])
    expect(idx.match(change('INSERT', { id: '2' }))).toBe(first)
    // Another event is another answer.
    expect([...idx.match(change('UPDATE', { id: '1' })).keys()]).toEqual(['all'])
    // A binding added or removed is seen by the next change, and the answer given before is unchanged.
    const d = on('d', 'INSERT')
    idx.add(d)
    const second = idx.match(change('INSERT', { id: '3' }))
    expect([...second.keys()]).toEqual(['a', 'b', 'c', 'd', 'all'])
    expect([...first.keys()]).toEqual(['a', 'b', 'c', 'all'])
    idx.remove(d)
    expect([...idx.match(change('INSERT', { id: '4' })).keys()]).toEqual(['a', 'b', 'c', 'all'])
    expect(idx.suspend('b')).toBe(true)
    expect([...idx.match(change('INSERT', { id: '5' })).keys()]).toEqual(['a', 'c', 'all'])
    idx.resume('b')
    expect([...idx.match(change('INSERT', { id: '6' })).keys()].sort()).toEqual(['a', 'all', 'b', 'c'])
  })

  it('a filtered binding, indexed or scanned, makes every change of its table and event its own answer', () => {
    for (const filter of [f('id', 'eq', ['1']), f('n', 'gt', ['5'])]) {
      const idx = new SubscriptionIndex<string>()
      idx.add(on('plain', 'INSERT'))
      const filtered = on('filtered', '*', [filter])
      idx.add(filtered)
      expect([...idx.match(change('INSERT', { id: '1', n: '9' })).keys()]).toEqual(['plain', 'filtered'])
      expect([...idx.match(change('INSERT', { id: '2', n: '1' })).keys()]).toEqual(['plain'])
      // Without it, the answers are shared again.
      idx.remove(filtered)
      expect(idx.match(change('INSERT', { id: '7' }))).toBe(idx.match(change('INSERT', { id: '8' })))
    }
  })

  it('a schema or table name with a dot is not another table', () => {
    const idx = new SubscriptionIndex<string>()
    idx.add(on('dotted schema', 'INSERT', [], 'a.b', 'c'))
    idx.add(on('dotted table', 'INSERT', [], 'a', 'b.c'))
    const inTable = (schema: string, table: string): RoutableChange => ({ ...change('INSERT', { id: '1' }), schema, table })
    expect([...idx.match(inTable('a.b', 'c')).keys()]).toEqual(['dotted schema'])
    expect([...idx.match(inTable('a', 'b.c')).keys()]).toEqual(['dotted table'])
    expect(idx.hasTable('a', 'b')).toBe(false)
  })
})
