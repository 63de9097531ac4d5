/**
 * Evaluating compiled `postgres_changes` filters against a change's column values, in JS,
 * comparing by column type.
 *
 * Values on both sides are Postgres's canonical text output of the column type: the change's
 * from pgoutput, the filter's from casting it in Postgres at subscribe time
 * (`value::type::text`). Equal values of one type have equal text, except numbers
 * (`1.0` vs `1.00`, `1e+20`), which `equalityKey` normalises. Ordering compares numbers
 * numerically (exactly, as decimal text, for int/numeric) and everything else by code point:
 * right for timestamps/dates/uuids/bools in their ISO/canonical forms, and for text it is the
 * `C` collation (documented: a database with a linguistic collation may order text differently).
 *
 * SQL NULL semantics: a NULL column value fails every comparison (also when negated), except
 * `is` and `isdistinct`, which are NULL-safe.
 */
import type { FilterOperator } from '@switchboard/protocol'
import type { TextPattern } from './text-pattern.js'
import type { RenderKind } from './value-renderer.js'

export interface CompiledFilter {
  column: string
  op: FilterOperator
  negate: boolean
  /** How values of the column compare. */
  kind: RenderKind
  /** Canonical equality keys of the value(s) (`in`: several). */
  keys: readonly string[]
  /** Canonical text of the single value (ordering ops), or the raw pattern (like/match), or the `is` keyword. */
  text: string
  /** like/ilike/match/imatch, compiled once for a linear-time engine (text-pattern.ts). */
  pattern: TextPattern | null
}

/** Normalises a decimal text: `-001.500` → `-1.5`, `-0` → `0`. Non-plain forms go through Number. */
function normaliseDecimal(text: string): string {
  if (!/^[+-]?\d+(\.\d+)?$/.test(text)) {
    const n = Number(text)
    return Number.isNaN(n) ? text : String(n)
  }
  let neg = text.startsWith('-')
  const body = text.replace(/^[+-]/, '')
  let [int = '0', frac = ''] = body.split('.')
  int = int.replace(/^0+(?=\d)/, '')
  frac = frac.replace(/0+$/, '')
  if (int === '0' && frac === '') neg = false
  return `${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}`
}

/** The key two equal values of a column share (the index is keyed by it). */
export function equalityKey(text: string, kind: RenderKind): string {
  return kind === 'number' ? normaliseDecimal(text) : text
}

/** Compares two normalised decimals exactly (no float rounding for int8/numeric). */
function compareDecimal(a: string, b: string): number {
  const plain = /^-?\d+(\.\d+)?$/
  if (!plain.test(a) || !plain.test(b)) return Math.sign(Number(a) - Number(b))
  const na = a.startsWith('-')
  const nb = b.startsWith('-')
  if (na !== nb) return na ? -1 : 1
  const sign = na ? -1 : 1
  const [ia = '', fa = ''] = a.replace('-', '').split('.')
  const [ib = '', fb = ''] = b.replace('-', '').split('.')
  if (ia.length !== ib.length) return sign * (ia.length < ib.length ? -1 : 1)
  if (ia !== ib) return sign * (ia < ib ? -1 : 1)
  const len = Math.max(fa.length, fb.length)
  const pa = fa.padEnd(len, '0')
  const pb = fb.padEnd(len, '0')
  return pa === pb ? 0 : sign * (pa < pb ? -1 : 1)
}

export function compareValues(a: string, b: string, kind: RenderKind): number {
  if (kind === 'number') return compareDecimal(normaliseDecimal(a), normaliseDecimal(b))
  return a === b ? 0 : a < b ? -1 : 1
}

/** Three-valued result: null = SQL NULL (fails, also when negated). */
function evaluate(f: CompiledFilter, value: string | null): boolean | null {
  switch (f.op) {
    case 'is': {
      const kw = f.text.toLowerCase()
      if (kw === 'null') return value === null
      if (kw === 'unknown') return value === null
      return value !== null && value === (kw === 'true' ? 't' : 'f')
    }
    case 'isdistinct':
      return value === null ? true : equalityKey(value, f.kind) !== f.keys[0]
    default:
      break
  }
  if (value === null) return null
  switch (f.op) {
    case 'eq': return equalityKey(value, f.kind) === f.keys[0]
    case 'neq': return equalityKey(value, f.kind) !== f.keys[0]
    case 'in': return f.keys.includes(equalityKey(value, f.kind))
    case 'lt': return compareValues(value, f.text, f.kind) < 0
    case 'lte': return compareValues(value, f.text, f.kind) <= 0
    case 'gt': return compareValues(value, f.text, f.kind) > 0
    case 'gte': return compareValues(value, f.text, f.kind) >= 0
    default: return f.pattern !== null && f.pattern.test(value)
  }
}

/**
 * True when every filter passes. `row` maps a column name to its text value; a column absent
 * from the change (unchanged TOAST, or not in the identity for DELETE) fails its filter.
 */
export function matchesFilters(filters: readonly CompiledFilter[], row: (column: string) => string | null | undefined): boolean {
  for (const f of filters) {
    const value = row(f.column)
    if (value === undefined) return false
    const result = evaluate(f, value)
    if (result === null) return false
    if (f.negate ? result : !result) return false
  }
  return true
}
