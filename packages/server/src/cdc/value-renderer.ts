/**
 * Text-format column values (as pgoutput sends them) → the JSON Supabase puts in `record`.
 *
 * Supabase renders each value with `to_jsonb(value::type)` (supabase-protocol.md §5.4), so we
 * follow Postgres's own `json_categorize_type`: domains act as their base type; int2/4/8,
 * float4/8 and numeric become numbers (non-finite ones stay strings, as `to_jsonb` does);
 * bool → true/false; json/jsonb nested; date/timestamp/timestamptz in ISO-8601 with `T`
 * (timestamptz offsets as `+HH:MM`); arrays element by element; bytea as hex without `\x`
 * (what wal2json handed Supabase); everything else as its text.
 *
 * The replication session runs with `DateStyle=ISO` and `TimeZone=UTC` (replication-stream.ts),
 * so the text forms parsed here are fixed.
 */

export type RenderKind = 'number' | 'bool' | 'json' | 'timestamp' | 'timestamptz' | 'bytea' | 'text' | 'array'

export interface TypeInfo {
  oid: number
  /** `pg_type.typname` (what `columns[].type` shows: `int8`, `_text`, …). */
  name: string
  kind: RenderKind
  /** For arrays: the element type. */
  element: TypeInfo | null
  /** Array element delimiter (`,` except for `box`). */
  delimiter: string
}

/** Chooses how a (base) type renders, from its oid; arrays are decided by the caller. */
export function renderKindOf(baseOid: number): RenderKind {
  switch (baseOid) {
    case 20: case 21: case 23: case 700: case 701: case 1700: return 'number'
    case 16: return 'bool'
    case 114: case 3802: return 'json'
    case 1114: return 'timestamp'
    case 1184: return 'timestamptz'
    case 17: return 'bytea'
    default: return 'text'
  }
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

function renderNumber(text: string): number | string {
  const n = Number(text)
  return Number.isFinite(n) ? n : text
}

/** `2025-03-01 12:00:00.5+05:30` → `2025-03-01T12:00:00.5+05:30`; `+00` → `+00:00`. */
function renderTimestamptz(text: string): string {
  const t = text.replace(' ', 'T')
  return /[+-]\d\d$/.test(t) ? `${t}:00` : t
}

/** Renders one non-null text value. */
export function renderValue(text: string, type: TypeInfo): JsonValue {
  switch (type.kind) {
    case 'number': return renderNumber(text)
    case 'bool': return text === 't'
    case 'json':
      try { return JSON.parse(text) as JsonValue } catch { return text }
    case 'timestamp': return text.replace(' ', 'T')
    case 'timestamptz': return renderTimestamptz(text)
    case 'bytea': return text.startsWith('\\x') ? text.slice(2) : text
    case 'array': return renderArray(text, type)
    default: return text
  }
}

/**
 * Parses a Postgres array literal (`{1,2,NULL}`, `{{a,"b c"},{d,e}}`, `[0:1]={x,y}`) and
 * renders each element by the element type. Unquoted `NULL` is SQL NULL.
 */
export function renderArray(text: string, type: TypeInfo): JsonValue {
  const element = type.element
  if (element === null) return text
  const delim = type.delimiter
  let i = 0
  // Optional dimension decoration: `[1:2]={...}`.
  if (text[0] === '[') {
    const eq = text.indexOf('=')
    if (eq < 0) return text
    i = eq + 1
  }
  const parseLevel = (): JsonValue[] => {
    const out: JsonValue[] = []
    if (text[i] !== '{') throw new SyntaxError('array literal: expected {')
    i++
    if (text[i] === '}') { i++; return out }
    for (;;) {
      if (text[i] === '{') {
        out.push(parseLevel())
      } else if (text[i] === '"') {
        i++
        let s = ''
        while (i < text.length && text[i] !== '"') {
          if (text[i] === '\\') i++
          s += text[i]
          i++
        }
        i++ // closing quote
        out.push(renderValue(s, element))
      } else {
        let j = i
        while (j < text.length && text[j] !== delim && text[j] !== '}') j++
        const raw = text.slice(i, j).trim()
        i = j
        out.push(raw === 'NULL' ? null : renderValue(raw, element))
      }
      if (text[i] === delim) { i++; continue }
      if (text[i] === '}') { i++; return out }
      throw new SyntaxError('array literal: expected delimiter or }')
    }
  }
  try {
    return parseLevel()
  } catch {
    return text
  }
}
