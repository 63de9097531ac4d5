/**
 * The `postgres_changes` binding of a `phx_join`: its `filter` string and the binding itself,
 * parsed into typed values or a Supabase-worded error. Pure, zero dependencies.
 *
 * Filter grammar (Supabase / PostgREST, see supabase-protocol.md §5.3):
 *
 *   filter     := condition ("," condition)*            (AND; empty or blank = no filter)
 *   condition  := column "=" ["not."] op "." value
 *   op         := eq | neq | lt | lte | gt | gte | in | is | like | ilike | match | imatch | isdistinct
 *   value      := text | "\"" quoted "\"" (backslash escapes) | "(" list ")" for `in`
 *
 * Commas inside parentheses or double quotes do not split conditions. Errors use Supabase's
 * wording: `Error parsing \`filter\` params: ["foo", "hey"]` (the pieces it could not read,
 * printed like Elixir's `inspect` of a string list).
 *
 * @example
 *   parsePostgresChangesFilter('status=eq.open,priority=in.(1,2)')
 *   // { ok: true, value: [{ column: 'status', op: 'eq', negate: false, value: 'open' },
 *   //                      { column: 'priority', op: 'in', negate: false, value: ['1', '2'] }] }
 */

export const FILTER_OPERATORS = [
  'eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in', 'is', 'like', 'ilike', 'match', 'imatch', 'isdistinct',
] as const
export type FilterOperator = (typeof FILTER_OPERATORS)[number]

/** Most values an `in` list may hold (Supabase's limit). */
export const MAX_IN_VALUES = 100

export interface FilterCondition {
  column: string
  op: FilterOperator
  /** `not.<op>`: the condition is negated. */
  negate: boolean
  /** The value as text; a list of texts for `in`. Casting to the column type happens server-side. */
  value: string | string[]
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string }

const OPERATORS: ReadonlySet<string> = new Set(FILTER_OPERATORS)
const IS_VALUES = new Set(['null', 'true', 'false', 'unknown'])

/** `inspect(["a", "b"])` as Elixir prints a list of strings. */
function inspectList(parts: readonly string[]): string {
  return `[${parts.map((p) => JSON.stringify(p)).join(', ')}]`
}

function filterError(parts: readonly string[]): ParseResult<never> {
  return { ok: false, error: `Error parsing \`filter\` params: ${inspectList(parts)}` }
}

/** Splits on `sep` outside double quotes and parentheses. */
function splitTopLevel(text: string, sep: string): string[] {
  const parts: string[] = []
  let depth = 0
  let quoted = false
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (ch === '\\' && quoted) { i++; continue }
    if (ch === '"') quoted = !quoted
    else if (!quoted && ch === '(') depth++
    else if (!quoted && ch === ')') depth = Math.max(0, depth - 1)
    else if (!quoted && depth === 0 && ch === sep) {
      parts.push(text.slice(start, i))
      start = i + 1
    }
  }
  parts.push(text.slice(start))
  return parts
}

/** PostgREST quoting: `"a,b"` → `a,b`, with `\"` and `\\` escapes. Unquoted text is kept as is. */
function unquote(text: string): string | null {
  if (!text.startsWith('"')) return text
  if (text.length < 2 || !text.endsWith('"')) return null
  let out = ''
  for (let i = 1; i < text.length - 1; i++) {
    const ch = text[i]!
    if (ch === '\\') {
      i++
      if (i >= text.length - 1) return null
      out += text[i]
    } else if (ch === '"') {
      return null
    } else {
      out += ch
    }
  }
  return out
}

function parseList(value: string): string[] | null {
  if (!value.startsWith('(') || !value.endsWith(')')) return null
  const inner = value.slice(1, -1)
  if (inner.trim() === '') return []
  const items: string[] = []
  for (const raw of splitTopLevel(inner, ',')) {
    const item = unquote(raw.trim())
    if (item === null) return null
    items.push(item)
  }
  return items
}

function parseCondition(text: string): ParseResult<FilterCondition> {
  const eq = text.indexOf('=')
  if (eq <= 0) return filterError([text])
  const column = text.slice(0, eq).trim()
  let rest = text.slice(eq + 1)
  let negate = false
  if (rest.startsWith('not.')) {
    negate = true
    rest = rest.slice(4)
  }
  const dot = rest.indexOf('.')
  if (dot < 0) return filterError([rest])
  const op = rest.slice(0, dot)
  const rawValue = rest.slice(dot + 1)
  if (!OPERATORS.has(op)) return filterError([op, rawValue])
  const operator = op as FilterOperator
  const columnName = unquote(column)
  if (columnName === null || columnName === '') return filterError([column])

  if (operator === 'in') {
    const list = parseList(rawValue.trim())
    if (list === null) return filterError([op, rawValue])
    if (list.length > MAX_IN_VALUES) {
      return { ok: false, error: `Error parsing \`filter\` params: too many values for in filter (${list.length} > ${MAX_IN_VALUES})` }
    }
    return { ok: true, value: { column: columnName, op: operator, negate, value: list } }
  }
  const value = unquote(rawValue)
  if (value === null) return filterError([op, rawValue])
  if (operator === 'is' && !IS_VALUES.has(value.toLowerCase())) return filterError([op, rawValue])
  return { ok: true, value: { column: columnName, op: operator, negate, value } }
}

/**
 * Parses a binding's `filter`. `undefined`, `null` and blank strings mean "no filter".
 * The literal string `"undefined"` (what a JS client sends for a missing template value) is an error,
 * as in Supabase.
 */
export function parsePostgresChangesFilter(filter: unknown): ParseResult<FilterCondition[]> {
  if (filter === undefined || filter === null) return { ok: true, value: [] }
  if (typeof filter !== 'string') return filterError([String(filter)])
  if (filter.trim() === '') return { ok: true, value: [] }
  const conditions: FilterCondition[] = []
  for (const part of splitTopLevel(filter, ',')) {
    const parsed = parseCondition(part.trim())
    if (!parsed.ok) return parsed
    conditions.push(parsed.value)
  }
  return { ok: true, value: conditions }
}

// ---------------------------------------------------------------------------------------------
// The binding
// ---------------------------------------------------------------------------------------------

export type PostgresChangeEvent = 'INSERT' | 'UPDATE' | 'DELETE' | '*'

export interface PostgresChangeBinding {
  event: PostgresChangeEvent
  /** `'*'` = every schema. */
  schema: string
  /** `'*'` = every table of the schema. */
  table: string
  filters: FilterCondition[]
  /** Explicit column selection (primary-key columns are always added server-side), or null. */
  select: string[] | null
  /** The filter string as sent (for error messages). */
  filter: string | null
}

const EVENTS: ReadonlySet<string> = new Set(['INSERT', 'UPDATE', 'DELETE', '*'])

/** Elixir-style `inspect` of a params map, for the "no params" error. */
function inspectMap(raw: Record<string, unknown>): string {
  const entries = Object.keys(raw).sort().map((k) => `${JSON.stringify(k)} => ${JSON.stringify(raw[k]) ?? 'nil'}`)
  return `%{${entries.join(', ')}}`
}

/**
 * Normalises one `postgres_changes` binding from a join payload:
 * event upper-cased (unknown ⇒ `*`, as Supabase), schema defaults to `public` when only a table
 * is given, table defaults to `*` when only a schema is given, filter parsed, select checked.
 * Never throws.
 */
export function validatePostgresChangeBinding(raw: unknown): ParseResult<PostgresChangeBinding> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, error: 'No subscription params provided. Please provide at least a `schema` or `table` to subscribe to: %{}' }
  }
  const params = raw as Record<string, unknown>
  const schemaRaw = typeof params.schema === 'string' && params.schema !== '' ? params.schema : null
  const tableRaw = typeof params.table === 'string' && params.table !== '' ? params.table : null
  if (schemaRaw === null && tableRaw === null) {
    const shown: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(params)) if (k !== 'id') shown[k] = v
    return { ok: false, error: `No subscription params provided. Please provide at least a \`schema\` or \`table\` to subscribe to: ${inspectMap(shown)}` }
  }
  const eventText = typeof params.event === 'string' ? params.event.toUpperCase() : '*'
  const event = (EVENTS.has(eventText) ? eventText : '*') as PostgresChangeEvent
  const schema = schemaRaw ?? 'public'
  const table = tableRaw ?? '*'

  const filters = parsePostgresChangesFilter(params.filter)
  if (!filters.ok) return filters

  let select: string[] | null = null
  if (params.select !== undefined && params.select !== null) {
    if (!Array.isArray(params.select) || params.select.some((c) => typeof c !== 'string' || c === '')) {
      return { ok: false, error: 'Error parsing `select` params: expected a list of column names' }
    }
    if (schema === '*' || table === '*') {
      return { ok: false, error: 'Column selection is not supported for wildcard subscriptions. Please provide an explicit `schema` and `table`.' }
    }
    select = [...new Set(params.select as string[])]
  }
  const filter = typeof params.filter === 'string' ? params.filter : null
  return { ok: true, value: { event, schema, table, filters: filters.value, select, filter } }
}
