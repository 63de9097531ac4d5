import { describe, expect, it } from 'vitest'
import { parsePostgresChangesFilter, validatePostgresChangeBinding } from '@switchboard/protocol'

describe('postgres_changes filter parser', () => {
  it('parses every operator, not., lists and PostgREST quoting', () => {
    const r = parsePostgresChangesFilter('a=eq.1,b=neq.x,c=lt.1,d=lte.2,e=gt.3,f=gte.4,g=in.(1,"a,b",c),h=not.eq.5,i=eq."x,y",j=is.null,k=eq.a.b')
    expect(r).toEqual({ ok: true, value: [
      { column: 'a', op: 'eq', negate: false, value: '1' },
      { column: 'b', op: 'neq', negate: false, value: 'x' },
      { column: 'c', op: 'lt', negate: false, value: '1' },
      { column: 'd', op: 'lte', negate: false, value: '2' },
      { column: 'e', op: 'gt', negate: false, value: '3' },
      { column: 'f', op: 'gte', negate: false, value: '4' },
      { column: 'g', op: 'in', negate: false, value: ['1', 'a,b', 'c'] },
      { column: 'h', op: 'eq', negate: true, value: '5' },
      { column: 'i', op: 'eq', negate: false, value: 'x,y' },
      { column: 'j', op: 'is', negate: false, value: 'null' },
      { column: 'k', op: 'eq', negate: false, value: 'a.b' },
    ] })
    expect(parsePostgresChangesFilter('s=eq."say \\"hi\\""')).toMatchObject({ ok: true, value: [{ value: 'say "hi"' }] })
  })

  it('empty, blank and missing filters are no filter', () => {
    for (const f of [undefined, null, '', '   ']) expect(parsePostgresChangesFilter(f)).toEqual({ ok: true, value: [] })
  })

  it("errors in Supabase's wording", () => {
    expect(parsePostgresChangesFilter('wrong')).toEqual({ ok: false, error: 'Error parsing `filter` params: ["wrong"]' })
    expect(parsePostgresChangesFilter('undefined')).toEqual({ ok: false, error: 'Error parsing `filter` params: ["undefined"]' })
    expect(parsePostgresChangesFilter('subject=foo.hey')).toEqual({ ok: false, error: 'Error parsing `filter` params: ["foo", "hey"]' })
    expect(parsePostgresChangesFilter('id=gt.0,id=bad.100')).toMatchObject({ ok: false, error: 'Error parsing `filter` params: ["bad", "100"]' })
    expect(parsePostgresChangesFilter('id=in.1,2')).toMatchObject({ ok: false })
    expect(parsePostgresChangesFilter('b=is.maybe')).toMatchObject({ ok: false })
    const many = `id=in.(${Array.from({ length: 101 }, (_, i) => i).join(',')})`
    expect(parsePostgresChangesFilter(many)).toMatchObject({ ok: false, error: expect.stringMatching(/too many values/) })
    expect(parsePostgresChangesFilter(`id=in.(${Array.from({ length: 100 }, (_, i) => i).join(',')})`)).toMatchObject({ ok: true })
  })
})

describe('validatePostgresChangeBinding', () => {
  it('normalises event, schema and table', () => {
    expect(validatePostgresChangeBinding({ event: 'insert', table: 'todos' })).toEqual({ ok: true, value: { event: 'INSERT', schema: 'public', table: 'todos', filters: [], select: null, filter: null } })
    expect(validatePostgresChangeBinding({ event: 'weird', schema: 'app' })).toMatchObject({ ok: true, value: { event: '*', schema: 'app', table: '*' } })
    expect(validatePostgresChangeBinding({ event: '*', schema: 'public', table: 't', select: ['a', 'a', 'b'] })).toMatchObject({ ok: true, value: { select: ['a', 'b'] } })
  })

  it('errors', () => {
    expect(validatePostgresChangeBinding({})).toEqual({ ok: false, error: 'No subscription params provided. Please provide at least a `schema` or `table` to subscribe to: %{}' })
    expect(validatePostgresChangeBinding({ event: '*' })).toEqual({ ok: false, error: 'No subscription params provided. Please provide at least a `schema` or `table` to subscribe to: %{"event" => "*"}' })
    expect(validatePostgresChangeBinding({ schema: 'public', select: ['a'] })).toMatchObject({ ok: false, error: expect.stringMatching(/^Column selection is not supported for wildcard subscriptions/) })
    expect(validatePostgresChangeBinding({ table: 't', filter: 'x' })).toMatchObject({ ok: false, error: 'Error parsing `filter` params: ["x"]' })
    expect(validatePostgresChangeBinding('nope')).toMatchObject({ ok: false })
  })
})
