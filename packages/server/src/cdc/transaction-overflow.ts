/**
 * A transaction too big to hold: the bounds on what the replication stream keeps of one
 * transaction until its commit, and what it keeps beyond them.
 *
 * Changes are handed over whole transactions at a time (a subscriber must never see half a
 * transaction's changes and then a reconnect re-read them), so the stream holds a transaction
 * in memory until Commit. A migration or a bulk `update` of millions of rows would make that
 * unbounded. Past `maxChanges` changes or `maxBytes` bytes the stream stops keeping rows: the
 * kept prefix is delivered as usual, and for the rest it keeps a count per relation and change
 * type (memory bounded by the number of tables, whatever the transaction's size). The service
 * turns each count into one OmittedChanges, which every binding of that table and event gets
 * as Supabase's oversized-record payload, `errors: ["Error 413: Payload Too Large"]`, with no
 * row values: the subscriber learns it missed changes and can re-fetch.
 *
 *   Begin ─► change … change (kept: ≤ maxChanges, ≤ maxBytes) ─► change … (counted) ─► Commit
 *                                                                 └─ per (relation, type): n
 */
import { Change, type RelationInfo } from './change.js'
import { isMessagesRelation } from './database-broadcast.js'
import type { ChangeType } from './subscription-index.js'

export interface TransactionBounds {
  /** Changes kept per transaction (limits.maxTransactionChanges). */
  maxChanges: number
  /** Payload bytes kept per transaction (limits.maxTransactionBytes). */
  maxBytes: number
}

type ChangeTag = 'insert' | 'update' | 'delete'
const TYPES: Readonly<Record<ChangeTag, ChangeType>> = { insert: 'INSERT', update: 'UPDATE', delete: 'DELETE' }

/** Counts of the changes a transaction did not keep, per relation and type, in order of first appearance. */
export class TransactionOverflow {
  readonly #counts = new Map<string, { relationId: number; type: ChangeType; count: number }>()
  /** Changes counted here (not kept). */
  total = 0

  add(relationId: number, tag: ChangeTag): void {
    const key = `${relationId}:${tag}`
    const entry = this.#counts.get(key)
    if (entry) entry.count++
    else this.#counts.set(key, { relationId, type: TYPES[tag], count: 1 })
    this.total++
  }

  entries(): Iterable<{ relationId: number; type: ChangeType; count: number }> {
    return this.#counts.values()
  }
}

/**
 * `count` changes of one type to one table whose rows were not kept. It routes to every
 * binding of its table and event whatever the binding's filters (the values are unknown), and
 * the dispatcher answers it with the 413 payload instead of a row.
 */
export class OmittedChanges extends Change {
  constructor(relation: RelationInfo, type: ChangeType, commitTimestamp: string, position: { lsn: bigint; index: number; seq: number },
    readonly count: number, xid: number) {
    super(relation, type, null, null, null, commitTimestamp, position, 0, xid)
  }

  override get rowOmitted(): boolean {
    return true
  }

  /** No column has a known value. */
  override value(): undefined {
    return undefined
  }
}

/**
 * The OmittedChanges of a transaction, placed after its kept changes (positions from
 * `firstIndex`). Relations unknown to `relations` are skipped (they cannot be routed).
 * Database broadcasts (`realtime.messages`) beyond the bound are dropped: they have no 413 form.
 */
export function omittedChanges(overflow: TransactionOverflow | null, relations: ReadonlyMap<number, RelationInfo>,
  commitLsn: bigint, commitTimestamp: string, firstIndex: number, xid: number): OmittedChanges[] {
  if (overflow === null) return []
  const out: OmittedChanges[] = []
  let index = firstIndex
  for (const { relationId, type, count } of overflow.entries()) {
    const relation = relations.get(relationId)
    if (!relation || isMessagesRelation(relation)) continue
    out.push(new OmittedChanges(relation, type, commitTimestamp, { lsn: commitLsn, index: index++, seq: 0 }, count, xid))
  }
  return out
}
