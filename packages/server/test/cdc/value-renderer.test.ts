import { describe, expect, it } from 'vitest'
import { renderKindOf, renderValue, type TypeInfo } from '../../src/cdc/value-renderer.js'

const t = (oid: number, name: string): TypeInfo => ({ oid, name, kind: renderKindOf(oid), element: null, delimiter: ',' })
const arr = (el: TypeInfo, delimiter = ','): TypeInfo => ({ oid: 0, name: `_${el.name}`, kind: 'array', element: el, delimiter })

describe('value rendering (as to_jsonb)', () => {
  it('scalars', () => {
    expect(renderValue('42', t(20, 'int8'))).toBe(42)
    expect(renderValue('12.50', t(1700, 'numeric'))).toBe(12.5)
    expect(renderValue('NaN', t(1700, 'numeric'))).toBe('NaN')
    expect(renderValue('Infinity', t(701, 'float8'))).toBe('Infinity')
    expect(renderValue('t', t(16, 'bool'))).toBe(true)
    expect(renderValue('f', t(16, 'bool'))).toBe(false)
    expect(renderValue('{"a":[1,null]}', t(3802, 'jsonb'))).toEqual({ a: [1, null] })
    expect(renderValue('"s"', t(114, 'json'))).toBe('s')
    expect(renderValue('2025-03-01 12:00:00', t(1114, 'timestamp'))).toBe('2025-03-01T12:00:00')
    expect(renderValue('2025-03-01 12:00:00.123+00', t(1184, 'timestamptz'))).toBe('2025-03-01T12:00:00.123+00:00')
    expect(renderValue('2025-03-01 12:00:00+05:30', t(1184, 'timestamptz'))).toBe('2025-03-01T12:00:00+05:30')
    expect(renderValue('2025-03-01', t(1082, 'date'))).toBe('2025-03-01')
    expect(renderValue('\\x0102ff', t(17, 'bytea'))).toBe('0102ff')
    expect(renderValue('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', t(2950, 'uuid'))).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')
    expect(renderValue('1 day', t(1186, 'interval'))).toBe('1 day')
  })

  it('arrays: quoting, NULL, nesting, dimensions, element types', () => {
    expect(renderValue('{a,"b c","d\\"e",NULL,"NULL"}', arr(t(25, 'text')))).toEqual(['a', 'b c', 'd"e', null, 'NULL'])
    expect(renderValue('{{1,2},{3,4}}', arr(t(23, 'int4')))).toEqual([[1, 2], [3, 4]])
    expect(renderValue('[0:1]={5,6}', arr(t(23, 'int4')))).toEqual([5, 6])
    expect(renderValue('{}', arr(t(23, 'int4')))).toEqual([])
    expect(renderValue('{t,f}', arr(t(16, 'bool')))).toEqual([true, false])
    expect(renderValue('{"{\\"a\\":1}"}', arr(t(3802, 'jsonb')))).toEqual([{ a: 1 }])
    expect(renderValue('{"2025-03-01 12:00:00+00"}', arr(t(1184, 'timestamptz')))).toEqual(['2025-03-01T12:00:00+00:00'])
    expect(renderValue('{(0,0),(1,1);(2,2),(3,3)}', arr(t(603, 'box'), ';'))).toEqual(['(0,0),(1,1)', '(2,2),(3,3)'])
  })
})
