/**
 * Join-time validation of `postgres_changes` bindings against the catalog: the binding parses,
 * the role exists, the table exists and is in the publication, filter columns exist and are
 * readable by the role, filter values cast to the column type. Produces the compiled bindings
 * the index stores, or the first error in Supabase's wording (sent as a `system` message).
 */
import { validatePostgresChangeBinding, type FilterCondition, type PostgresChangeBinding } from '@switchboard/protocol'
import { isServiceRole, type AuthContext } from '../auth/auth-context.js'
import type { Catalog } from './catalog.js'
import { equalityKey, type CompiledFilter } from './filter-eval.js'
import { compileTextPattern, isPatternOperator, patternLengthError, type TextPattern } from './text-pattern.js'
import type { ChangeType } from './subscription-index.js'

export interface CompiledBinding {
  id: number
  /** `[id]`, made once: the ids of a delivery that matched this binding alone (most), shared by all of them. */
  ids: readonly number[]
  event: ChangeType | '*'
  schema: string
  table: string
  filters: CompiledFilter[]
  select: string[] | null
}

export type ValidationResult = { ok: true; bindings: CompiledBinding[] } | { ok: false; error: string }

/** `[event: INSERT, schema: public, table: todos, filters: [{"id", "eq", "1"}], select: nil]`, as Supabase prints it. */
export function describeBinding(b: PostgresChangeBinding): string {
  const filters = b.filters.map((f) => `{${JSON.stringify(f.column)}, ${JSON.stringify(f.op)}, ${JSON.stringify(Array.isArray(f.value) ? `{${f.value.join(',')}}` : f.value)}}`)
  const select = b.select === null ? 'nil' : `[${b.select.map((c) => JSON.stringify(c)).join(', ')}]`
  return `[event: ${b.event}, schema: ${b.schema}, table: ${b.table}, filters: [${filters.join(', ')}], select: ${select}]`
}

function notEnabled(b: PostgresChangeBinding): ValidationResult {
  return { ok: false, error: `Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given connect parameters: ${describeBinding(b)}` }
}

const CAST_OPS = new Set(['eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in', 'isdistinct'])

export async function validateBindings(
  catalog: Catalog,
  publications: readonly string[],
  raws: ReadonlyArray<Record<string, unknown>>,
  auth: AuthContext,
  bindingId: (raw: Record<string, unknown>) => number,
): Promise<ValidationResult> {
  if (!(await catalog.roleExists(auth.role))) return { ok: false, error: `role "${auth.role}" does not exist` }
  const published = await catalog.publicationTables(publications)
  const out: CompiledBinding[] = []
  for (const raw of raws) {
    const parsed = validatePostgresChangeBinding(raw)
    if (!parsed.ok) return parsed
    const b = parsed.value
    const id = bindingId(raw)
    const base = { id, ids: [id], event: b.event, schema: b.schema, table: b.table, select: b.select }
    if (b.schema === '*' || b.table === '*') {
      const any = published.some((t) => (b.schema === '*' || t.schema === b.schema) && (b.table === '*' || t.table === b.table))
      if (!any) return notEnabled(b)
      if (b.filters.length > 0) return { ok: false, error: `Error parsing \`filter\` params: filters need an explicit schema and table: ${describeBinding(b)}` }
      out.push({ ...base, filters: [] })
      continue
    }
    const entry = published.find((t) => t.schema === b.schema && t.table === b.table)
    if (!entry) return notEnabled(b)
    const table = await catalog.table(b.schema, b.table, entry.oid)
    if (!table) return notEnabled(b)
    const role = isServiceRole(auth) ? null : await catalog.roleFacts(auth.role, table)
    for (const name of b.select ?? []) {
      if (!table.columns.some((c) => c.name === name)) return { ok: false, error: `invalid column for select ${name}` }
    }
    const filters: CompiledFilter[] = []
    for (const f of b.filters) {
      const compiled = await compileFilter(catalog, table.columns, role?.selectable ?? null, f)
      if (typeof compiled === 'string') return { ok: false, error: compiled }
      filters.push(compiled)
    }
    out.push({ ...base, filters })
  }
  return { ok: true, bindings: out }
}

async function compileFilter(
  catalog: Catalog,
  columns: readonly { name: string; typeOid: number; sqlType: string }[],
  selectable: ReadonlySet<string> | null,
  f: FilterCondition,
): Promise<CompiledFilter | string> {
  const column = columns.find((c) => c.name === f.column)
  if (!column || (selectable !== null && !selectable.has(f.column))) return `invalid column for filter ${f.column}`
  const type = (await catalog.types([column.typeOid])).get(column.typeOid)!
  const kind = type.kind
  const values = Array.isArray(f.value) ? f.value : [f.value]
  let keys: string[] = []
  let text = values[0] ?? ''
  let pattern: TextPattern | null = null
  if (CAST_OPS.has(f.op)) {
    const cast = await catalog.castValues(column.sqlType, values)
    if (!cast.ok) return `Error parsing \`filter\` params: ${cast.error}`
    keys = cast.texts.map((t) => equalityKey(t, kind))
    text = cast.texts[0] ?? ''
  } else if (f.op === 'is') {
    if (text.toLowerCase() !== 'null' && type.name !== 'bool') return `Error parsing \`filter\` params: is.${text} needs a boolean column`
  } else if (isPatternOperator(f.op)) {
    // Length first (before Postgres parses it), then Postgres's own verdict on the syntax (its
    // error text, as Supabase's subscribe gives), then our linear-time translation of it.
    const tooLong = patternLengthError(f.op, text)
    if (tooLong !== null) return `Error parsing \`filter\` params: ${tooLong}`
    const invalid = await catalog.patternError(f.op, text)
    if (invalid !== null) return `Error parsing \`filter\` params: ${invalid}`
    const compiled = compileTextPattern(f.op, text)
    if (!compiled.ok) return `Error parsing \`filter\` params: ${compiled.error}`
    pattern = compiled.pattern
  }
  return { column: f.column, op: f.op, negate: f.negate, kind, keys, text, pattern }
}
