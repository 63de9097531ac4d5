/** Why a change did not match a subscriber's bindings: the event, or the first failing filter with the row's value. */
import { describe, expect, test } from 'vitest'
import type { CompiledFilter } from '../../src/cdc/filter-eval.js'
import type { RoutableChange } from '../../src/cdc/subscription-index.js'
import { describeFilter, explainMismatch, type ExplainableBinding } from '../../src/inspect/filter-explain.js'

const row = (values: Record<string, string | null>, type: RoutableChange['type'] = 'INSERT'): RoutableChange => ({
  schema: 'public', table: 'calls', type,
  value: (column) => (column in values ? values[column] : undefined),
  kindOf: (column) => (column === 'priority' ? 'number' : 'text'),
})

const filter = (column: string, op: CompiledFilter['op'], value: string, kind: CompiledFilter['kind'] = 'text', negate = false): CompiledFilter => ({
  column, op, negate, kind, keys: op === 'in' ? value.split(',') : [value], text: value, pattern: null,
})

const binding = (id: number, event: ExplainableBinding['event'], filters: CompiledFilter[] = [], table = 'calls'): ExplainableBinding => ({ id, event, schema: 'public', table, filters })

describe('explainMismatch', () => {
  test('a matching binding: which ones', () => {
    expect(explainMismatch(row({ status: 'open' }), [binding(1, 'INSERT', [filter('status', 'eq', 'open')]), binding(2, '*')])).toEqual({ matches: true, bindingIds: [1, 2] })
  })

  test('the failing filter condition, with the value the row had', () => {
    expect(explainMismatch(row({ status: 'open' }), [binding(1, 'INSERT', [filter('status', 'eq', 'closed')])]))
      .toEqual({ matches: false, condition: "filter status=eq.closed: the row has status = 'open'" })
    expect(explainMismatch(row({ priority: '2', status: 'open' }), [binding(1, '*', [filter('status', 'eq', 'open'), filter('priority', 'gt', '5', 'number')])]))
      .toEqual({ matches: false, condition: "filter priority=gt.5: the row has priority = '2'" })
    expect(explainMismatch(row({ status: null }), [binding(1, 'INSERT', [filter('status', 'in', 'a,b')])]))
      .toEqual({ matches: false, condition: 'filter status=in.(a,b): the row has status = NULL' })
  })

  test('a column the change does not carry (a DELETE without it in the identity)', () => {
    const explained = explainMismatch(row({ id: '1' }, 'DELETE'), [binding(1, 'DELETE', [filter('status', 'eq', 'open')])])
    expect(explained).toEqual({ matches: false, condition: expect.stringContaining('no value in the change') })
  })

  test('the event, when no binding listens to it', () => {
    expect(explainMismatch(row({}, 'UPDATE'), [binding(1, 'INSERT'), binding(2, 'DELETE')])).toEqual({ matches: false, condition: 'event: listens to INSERT, DELETE, this is an UPDATE' })
  })

  test('bindings on other tables: not a subscriber of this one', () => {
    expect(explainMismatch(row({}), [binding(1, '*', [], 'messages')])).toBeNull()
  })

  test('describeFilter writes a filter as a client would', () => {
    expect(describeFilter(filter('id', 'in', '1,2', 'number', true))).toBe('id=not.in.(1,2)')
  })
})
