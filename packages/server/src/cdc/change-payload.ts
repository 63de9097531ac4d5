/**
 * The `data` object of a `postgres_changes` message (supabase-protocol.md §5.4), as JSON text,
 * built once per distinct variant (visible columns × old-record shape) and shared by every
 * recipient of that variant.
 *
 * Key order follows Supabase: schema, table, commit_timestamp, type, columns, record,
 * old_record, errors (INSERT has no old_record, DELETE no record).
 */
import type { Change, ChangePosition, Row } from './change.js'

/**
 * One change's `data` for one payload variant, as every recipient of that variant shares it:
 * the JSON text, and its UTF-8 bytes made on first use (the frames of all its recipients are
 * spliced around the same bytes: channel/change-frame.ts).
 */
export class ChangeData {
  #bytes: Buffer | null = null

  constructor(
    readonly json: string,
    readonly position: ChangePosition,
  ) {}

  get bytes(): Buffer {
    return (this.#bytes ??= Buffer.from(this.json, 'utf8'))
  }
}

export interface PayloadVariant {
  /** Columns the recipient may see (column privileges ∩ `select` + primary key); null = all. */
  columns: ReadonlySet<string> | null
  /** Reduce `old_record` to the primary key (DELETE/UPDATE under RLS without a checked old row). */
  oldRecordKeyOnly: boolean
  primaryKey: readonly string[]
}

export const ERROR_413 = 'Error 413: Payload Too Large'
export const ERROR_400_NO_PK = 'Error 400: Bad Request, no primary key'
export const ERROR_401 = 'Error 401: Unauthorized'

/** Fields whose JSON text is at most this long survive an over-limit record (Supabase's rule). */
const SMALL_FIELD_BYTES = 64

function restrict(row: Row, keep: (name: string) => boolean, tooBig: boolean): Row {
  const out: Row = {}
  for (const name of Object.keys(row)) {
    if (!keep(name)) continue
    const value = row[name]!
    if (tooBig && Buffer.byteLength(JSON.stringify(value)) > SMALL_FIELD_BYTES) continue
    out[name] = value
  }
  return out
}

export function variantKey(v: PayloadVariant): string {
  return `${v.oldRecordKeyOnly ? 'k' : 'f'}:${v.columns === null ? '*' : [...v.columns].sort().join(',')}`
}

export function buildChangeData(change: Change, variant: PayloadVariant, maxRecordBytes: number): string {
  const tooBig = change.byteSize > maxRecordBytes
  const visible = (name: string) => variant.columns === null || variant.columns.has(name)
  const columns = change.relation.columns.filter((c) => visible(c.name)).map((c) => ({ name: c.name, type: c.type.name }))
  const data: Record<string, unknown> = {
    schema: change.schema,
    table: change.table,
    commit_timestamp: change.commitTimestamp,
    type: change.type,
    columns,
  }
  if (change.type !== 'DELETE') data.record = restrict(change.record ?? {}, visible, tooBig)
  if (change.type !== 'INSERT') {
    const keyOnly = variant.oldRecordKeyOnly
    data.old_record = restrict(change.oldRecord ?? {}, (n) => visible(n) && (!keyOnly || variant.primaryKey.includes(n)), tooBig)
  }
  data.errors = tooBig ? [ERROR_413] : null
  return JSON.stringify(data)
}

/**
 * Supabase's payload for a row a role cannot be shown (no primary key: 400; PK not selectable:
 * 401), and for rows beyond a transaction's bounds (413, with its commit timestamp, as
 * Supabase's oversized records have; transaction-overflow.ts).
 */
export function buildErrorData(change: Change, error: string): string {
  const commitTimestamp = error === ERROR_413 ? change.commitTimestamp : null
  const data: Record<string, unknown> = { schema: change.schema, table: change.table, commit_timestamp: commitTimestamp, type: change.type, columns: [] }
  if (change.type !== 'DELETE') data.record = {}
  if (change.type !== 'INSERT') data.old_record = {}
  data.errors = [error]
  return JSON.stringify(data)
}
