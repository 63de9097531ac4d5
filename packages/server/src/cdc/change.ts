/**
 * A decoded row change, and building it from pgoutput messages (pure).
 *
 * Which values a change carries depends on the table's REPLICA IDENTITY:
 *   DEFAULT  UPDATE: new row (+ 'K' key tuple only when the key changed); DELETE: 'K' key tuple
 *   FULL     UPDATE and DELETE: 'O' the whole old row
 * In a 'K' tuple non-key columns are sent as NULL: they are absent, not NULL, and are treated so.
 */
import type { RelationColumn, ReplicaIdentity, TupleValue } from './pgoutput-decoder.js'
import type { ChangeType, RoutableChange } from './subscription-index.js'
import { renderValue, type JsonValue, type RenderKind, type TypeInfo } from './value-renderer.js'

/**
 * Where a change is: its transaction's commit LSN and its index in the transaction, plus
 * `seq`, the tenant-wide replay position assigned when it is dispatched (0 until then).
 */
export interface ChangePosition { lsn: bigint; index: number; seq: number }

export interface RelationInfo {
  id: number
  schema: string
  table: string
  replicaIdentity: ReplicaIdentity
  columns: { name: string; isKey: boolean; type: TypeInfo }[]
  columnIndex: ReadonlyMap<string, number>
}

export function relationInfo(msg: { relationId: number; schema: string; table: string; replicaIdentity: ReplicaIdentity; columns: RelationColumn[] }, types: ReadonlyMap<number, TypeInfo>): RelationInfo {
  const columns = msg.columns.map((c) => ({ name: c.name, isKey: c.isKey, type: types.get(c.typeOid)! }))
  return {
    id: msg.relationId, schema: msg.schema, table: msg.table, replicaIdentity: msg.replicaIdentity, columns,
    columnIndex: new Map(columns.map((c, i) => [c.name, i])),
  }
}

export type Row = Record<string, JsonValue>

export class Change implements RoutableChange {
  readonly schema: string
  readonly table: string
  #record: Row | null | undefined
  #oldRecord: Row | null | undefined

  constructor(
    readonly relation: RelationInfo,
    readonly type: ChangeType,
    /** INSERT/UPDATE new row. */
    readonly newTuple: TupleValue[] | null,
    /** The whole old row (REPLICA IDENTITY FULL). */
    readonly oldTuple: TupleValue[] | null,
    /** Key columns only (others absent). */
    readonly keyTuple: TupleValue[] | null,
    readonly commitTimestamp: string,
    readonly position: ChangePosition,
    /** Bytes of tuple data received: the size the 1 MiB record limit is measured on. */
    readonly byteSize: number,
    /** The transaction's id (32-bit, as pgoutput sends it): RLS checks wait until it is visible. */
    readonly xid = 0,
  ) {
    this.schema = relation.schema
    this.table = relation.table
  }

  /** True when the row was not kept (a transaction over its bounds; see transaction-overflow.ts). */
  get rowOmitted(): boolean {
    return false
  }

  /** True when the change carries the whole old row (REPLICA IDENTITY FULL). */
  get hasFullOldRow(): boolean {
    return this.oldTuple !== null
  }

  kindOf(column: string): RenderKind {
    const i = this.relation.columnIndex.get(column)
    return i === undefined ? 'text' : this.relation.columns[i]!.type.kind
  }

  #oldValue(i: number): TupleValue {
    if (this.oldTuple) return this.oldTuple[i]
    if (this.keyTuple && this.relation.columns[i]!.isKey) return this.keyTuple[i]
    return undefined
  }

  /** New value (unchanged TOAST taken from the old row when we have it). */
  #newValue(i: number): TupleValue {
    const v = this.newTuple![i]
    return v === undefined ? this.#oldValue(i) : v
  }

  /** Text value the filters see: new row for INSERT/UPDATE, old/identity for DELETE. */
  value(column: string): string | null | undefined {
    const i = this.relation.columnIndex.get(column)
    if (i === undefined) return undefined
    return this.type === 'DELETE' ? this.#oldValue(i) : this.#newValue(i)
  }

  /** Old values as text (for evaluating policies against the old row in Postgres). */
  oldText(): Record<string, string | null> {
    const out: Record<string, string | null> = {}
    this.relation.columns.forEach((c, i) => {
      const v = this.#oldValue(i)
      if (v !== undefined) out[c.name] = v
    })
    return out
  }

  /** The new row, rendered (all columns). */
  get record(): Row | null {
    if (this.#record === undefined) {
      if (this.newTuple === null) this.#record = null
      else {
        const row: Row = {}
        this.relation.columns.forEach((c, i) => {
          const v = this.#newValue(i)
          if (v !== undefined) row[c.name] = v === null ? null : renderValue(v, c.type)
        })
        this.#record = row
      }
    }
    return this.#record
  }

  /**
   * The old row as Supabase shows it: FULL ⇒ whole old row; a key tuple ⇒ key columns;
   * UPDATE without either (DEFAULT identity, key unchanged) ⇒ the key columns of the new row.
   */
  get oldRecord(): Row | null {
    if (this.#oldRecord === undefined) {
      if (this.type === 'INSERT') this.#oldRecord = null
      else {
        const row: Row = {}
        this.relation.columns.forEach((c, i) => {
          let v = this.#oldValue(i)
          if (v === undefined && this.oldTuple === null && this.keyTuple === null && c.isKey && this.newTuple) v = this.newTuple[i]
          if (v !== undefined) row[c.name] = v === null ? null : renderValue(v, c.type)
        })
        this.#oldRecord = row
      }
    }
    return this.#oldRecord
  }
}

/** Sum of the text bytes of some tuples (what the record-size limit measures). */
export function tupleBytes(...tuples: (TupleValue[] | null)[]): number {
  let n = 0
  for (const t of tuples) if (t) for (const v of t) if (typeof v === 'string') n += v.length
  return n
}
