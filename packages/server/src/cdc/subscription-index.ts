/**
 * Which bindings want a change: an index keyed by `schema.table`, event and equality value,
 * so routing a change costs a few `Map.get`s rather than a scan over every subscription
 * (the idea of postgres.js's `insert:public.todos=42` keys).
 *
 *   tables: "public.calls" ─► events: "INSERT" | "UPDATE" | "DELETE" | "*"
 *                                  └─► Bucket { scan: Set<binding>                 (no eq/in filter)
 *                                               byColumn: column ─► key ─► Set<binding> }
 *
 * A binding with an `eq` (or `in`) filter is stored under that column's value key(s) only;
 * its other filters are checked after the lookup. Wildcard bindings (`schema.*`, `*.*`) live
 * under those keys and are looked up too. Pure: no I/O; the subscriber type is opaque.
 *
 * When no binding a change could match has a filter, what it matches depends only on its table
 * and event, so the answer is kept and shared by the next changes of that table and event until
 * the bindings change (`match`): with 1,000 subscribers of one table, routing was a new map of
 * 1,000 entries and 1,000 one-element lists per change, about a tenth of the bytes the server
 * allocated per delivery (CDC bench, heap sampling).
 */
import { equalityKey, matchesFilters, type CompiledFilter } from './filter-eval.js'
import type { RenderKind } from './value-renderer.js'

export type ChangeType = 'INSERT' | 'UPDATE' | 'DELETE'

export interface IndexedBinding<S> {
  subscriber: S
  id: number
  /** `[id]`: the ids of a delivery that matched this binding alone (shared, never modified). */
  ids: readonly number[]
  event: ChangeType | '*'
  schema: string
  table: string
  filters: readonly CompiledFilter[]
  /** Columns explicitly selected (null = all). */
  select: readonly string[] | null
}

interface Bucket<S> {
  scan: Set<IndexedBinding<S>>
  /** How many bindings of `scan` have filters. */
  filteredScans: number
  byColumn: Map<string, Map<string, Set<IndexedBinding<S>>>>
}

/** What a change matched: per subscriber, its bindings that matched (shared; never modified). */
export type Matches<S> = ReadonlyMap<S, readonly IndexedBinding<S>[]>

/** A change as the index sees it: where, what, and its column values as text. */
export interface RoutableChange {
  schema: string
  table: string
  type: ChangeType
  /** Text value of a column (new row for INSERT/UPDATE, old/identity for DELETE); undefined = absent. */
  value(column: string): string | null | undefined
  /** How a column's values compare (for equality keys). */
  kindOf(column: string): RenderKind
  /**
   * The row is unknown (changes beyond a transaction's bounds): the change matches every
   * binding of its table and event, whatever the filters, so that each learns what it missed.
   */
  readonly rowOmitted?: boolean
}

/**
 * The key of a table (or a wildcard) in the index. NUL, which no identifier holds, separates
 * schema and table: with a dot, `"a.b".c` and `a."b.c"` were one key, and each table's
 * subscribers were routed the other's changes.
 */
const tableKeyOf = (schema: string, table: string) => `${schema}\u0000${table}`

/** The filter a binding is indexed by: its first `eq` or non-negated `in`. */
function indexFilter(filters: readonly CompiledFilter[]): CompiledFilter | null {
  return filters.find((f) => !f.negate && f.op === 'eq') ?? filters.find((f) => !f.negate && f.op === 'in') ?? null
}

export class SubscriptionIndex<S> {
  readonly #tables = new Map<string, Map<string, Bucket<S>>>()
  /** The reverse index: each subscriber's routed bindings. */
  readonly #bySubscriber = new Map<S, Set<IndexedBinding<S>>>()
  /** Subscribers taken out of routing (suspend), with their bindings. */
  readonly #suspended = new Map<S, Set<IndexedBinding<S>>>()
  /** Answers of `match` that depend only on the table and event: table key and event → matches. Cleared when routing changes. */
  readonly #unfiltered = new Map<string, Matches<S>>()
  #size = 0

  get size(): number {
    return this.#size
  }

  /** Routes `binding` (a binding of a suspended subscriber waits with the others until resume). */
  add(binding: IndexedBinding<S>): void {
    this.#size++
    const suspended = this.#suspended.get(binding.subscriber)
    if (suspended) { suspended.add(binding); return }
    let own = this.#bySubscriber.get(binding.subscriber)
    if (!own) this.#bySubscriber.set(binding.subscriber, (own = new Set()))
    own.add(binding)
    this.#route(binding)
  }

  #route(binding: IndexedBinding<S>): void {
    this.#unfiltered.clear()
    const tableKey = tableKeyOf(binding.schema, binding.table)
    let events = this.#tables.get(tableKey)
    if (!events) this.#tables.set(tableKey, (events = new Map()))
    let bucket = events.get(binding.event)
    if (!bucket) events.set(binding.event, (bucket = { scan: new Set(), filteredScans: 0, byColumn: new Map() }))
    const by = indexFilter(binding.filters)
    if (by === null) {
      if (!bucket.scan.has(binding) && binding.filters.length > 0) bucket.filteredScans++
      bucket.scan.add(binding)
    } else {
      let values = bucket.byColumn.get(by.column)
      if (!values) bucket.byColumn.set(by.column, (values = new Map()))
      for (const key of by.keys) {
        let set = values.get(key)
        if (!set) values.set(key, (set = new Set()))
        set.add(binding)
      }
    }
  }

  remove(binding: IndexedBinding<S>): void {
    const suspended = this.#suspended.get(binding.subscriber)
    if (suspended?.delete(binding)) {
      this.#size--
      if (suspended.size === 0) this.#suspended.delete(binding.subscriber)
      return
    }
    const own = this.#bySubscriber.get(binding.subscriber)
    if (!own?.delete(binding)) return
    if (own.size === 0) this.#bySubscriber.delete(binding.subscriber)
    this.#size--
    this.#unroute(binding)
  }

  #unroute(binding: IndexedBinding<S>): void {
    this.#unfiltered.clear()
    const tableKey = tableKeyOf(binding.schema, binding.table)
    const events = this.#tables.get(tableKey)
    const bucket = events?.get(binding.event)
    if (!events || !bucket) return
    const by = indexFilter(binding.filters)
    if (by === null) {
      if (bucket.scan.delete(binding) && binding.filters.length > 0) bucket.filteredScans--
    } else {
      const values = bucket.byColumn.get(by.column)
      for (const key of by.keys) {
        const set = values?.get(key)
        set?.delete(binding)
        if (set && set.size === 0) values!.delete(key)
      }
      if (values && values.size === 0) bucket.byColumn.delete(by.column)
    }
    if (bucket.scan.size === 0 && bucket.byColumn.size === 0) events.delete(binding.event)
    if (events.size === 0) this.#tables.delete(tableKey)
  }

  /**
   * Takes every binding of `subscriber` out of routing, keeping them (rls-quarantine.ts): its
   * changes stop matching, so they cost no authorization either. False when it has none.
   */
  suspend(subscriber: S): boolean {
    const own = this.#bySubscriber.get(subscriber)
    if (!own) return false
    this.#bySubscriber.delete(subscriber)
    this.#suspended.set(subscriber, own)
    for (const b of own) this.#unroute(b)
    return true
  }

  /** Routes a suspended subscriber's bindings again (those not removed meanwhile). */
  resume(subscriber: S): void {
    const own = this.#suspended.get(subscriber)
    if (!own) return
    this.#suspended.delete(subscriber)
    this.#bySubscriber.set(subscriber, own)
    for (const b of own) this.#route(b)
  }

  /** True while `subscriber` is suspended and still has bindings. */
  isSuspended(subscriber: S): boolean {
    return this.#suspended.has(subscriber)
  }

  /** True when some binding could want changes of this table (cheap pre-check). */
  hasTable(schema: string, table: string): boolean {
    return this.#tables.has(tableKeyOf(schema, table)) || this.#tables.has(tableKeyOf(schema, '*')) || this.#tables.has(tableKeyOf('*', '*'))
  }

  /**
   * The bindings a change matches, grouped by subscriber (insertion order preserved), so a
   * subscriber whose several bindings match gets one delivery with all their ids. The answer
   * is shared with other changes of the same table and event when no binding they could match
   * has a filter (see the header); callers never modify it.
   */
  match(change: RoutableChange): Matches<S> {
    const own = tableKeyOf(change.schema, change.table)
    const buckets: Bucket<S>[] = []
    let filtered = false
    for (const tableKey of [own, tableKeyOf(change.schema, '*'), tableKeyOf('*', '*')]) {
      const events = this.#tables.get(tableKey)
      if (!events) continue
      for (const bucket of [events.get(change.type), events.get('*')]) {
        if (bucket === undefined) continue
        buckets.push(bucket)
        if (bucket.filteredScans > 0 || bucket.byColumn.size > 0) filtered = true
      }
    }
    const memoKey = filtered ? null : `${own}\u0000${change.type}`
    if (memoKey !== null) {
      const known = this.#unfiltered.get(memoKey)
      if (known !== undefined) return known
    }
    const out = new Map<S, IndexedBinding<S>[]>()
    for (const bucket of buckets) this.#collect(bucket, change, out)
    if (memoKey !== null) this.#unfiltered.set(memoKey, out)
    return out
  }

  #collect(bucket: Bucket<S>, change: RoutableChange, out: Map<S, IndexedBinding<S>[]>): void {
    if (change.rowOmitted === true) {
      for (const b of bucket.scan) this.#add(b, out)
      for (const values of bucket.byColumn.values()) for (const set of values.values()) for (const b of set) this.#add(b, out)
      return
    }
    const row = (column: string) => change.value(column)
    const accept = (b: IndexedBinding<S>) => {
      if (b.filters.length > 0 && !matchesFilters(b.filters, row)) return
      this.#add(b, out)
    }
    for (const b of bucket.scan) accept(b)
    for (const [column, values] of bucket.byColumn) {
      const value = change.value(column)
      if (value === null || value === undefined) continue
      const set = values.get(equalityKey(value, change.kindOf(column)))
      if (set) for (const b of set) accept(b)
    }
  }

  #add(b: IndexedBinding<S>, out: Map<S, IndexedBinding<S>[]>): void {
    const list = out.get(b.subscriber)
    if (list) { if (!list.includes(b)) list.push(b) } else out.set(b.subscriber, [b])
  }
}
