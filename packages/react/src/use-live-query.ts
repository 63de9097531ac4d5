/**
 * `useLiveQuery`: load then live. A list query whose loader returns its rows **and the database
 * position it read them at**; the table's changes committed after that position are applied to
 * the cached rows, each exactly once, with no refetch per event.
 *
 *   subscribe ──▶ live (the server says so) ──▶ load: rows + position X ──▶ apply changes ≥ X
 *                      │                               ▲                      (buffered while
 *                      └── changes arrive ─────────────┴──────────────────────  the load runs)
 *
 * Why this is exact, in three steps:
 *
 * 1. **Nothing is missed by the stream.** The loader runs only once the subscription is live
 *    (`connected` means the server registered the binding and replayed everything since the
 *    join). Anything whose commit record is written after the loader reads X is decoded after
 *    that, so it reaches the channel.
 * 2. **Each change is placed against X by its commit LSN.** Changes carry their stream point
 *    (`switchboard.lsn`, `LLLLLLLLLLLLLLLL.IIIIIIII`: commit LSN, then the index in the
 *    transaction). A change is applied iff its commit LSN ≥ X. That split is right only when X
 *    and the loader's snapshot agree: every transaction with a commit LSN < X is visible in the
 *    snapshot, every one at or after X is not. The recipe below makes it so (see
 *    {@link LoadedRows.lsn}).
 * 3. **No change twice.** The cache entry keeps the stream point of the last change applied
 *    (`through`); a change at or below it is skipped, so several hooks on one query, StrictMode's
 *    double effects, or a redelivery never apply a change twice.
 *
 * While the load runs (and during any later refetch) changes wait in a buffer and are placed
 * against the new X when it lands. A gap that is not a recovery refetches (once); a recovery needs
 * nothing. If the subscription does not get live within `liveTimeoutMs` the loader runs anyway
 * and the query refetches once when it does (the recipe for loaders without a position too).
 */
import { useEffect, useState } from 'react'
import { useQuery, useQueryClient, type DefaultError, type QueryClient, type QueryFunctionContext, type QueryKey, type UseQueryOptions, type UseQueryResult } from '@tanstack/react-query'
import { parsePgLsn, parseStreamPoint, type EntityChannel, type PositionedChange } from '@switchboard/client'
import { applyChanges, UNPATCHABLE } from './cache-patch.js'
import { bindingToEntity, useLatest } from './internal.js'
import type { PostgresBinding } from './types.js'
import { useEntityLease, type Change, type LeaseListeners } from './use-entity-lease.js'

/** What a live query's loader returns. */
export interface LoadedRows<Row> {
  rows: Row[]
  /**
   * The database position the rows were read at, as Postgres prints an LSN (`'0/16B3748'`).
   * Read it so that a transaction is visible to the rows' snapshot **iff** its commit LSN is
   * below it. The plain `select pg_current_wal_lsn()` next to the rows' query does not give that,
   * in either order: a transaction writes its commit record first and becomes visible a moment
   * later (after the WAL flush and, with synchronous replication, the standby's answer). Read
   * after the snapshot, X can lie past the commit record of a transaction the snapshot missed
   * (its change would be skipped: lost); read before it, a commit record can lie before X while
   * its transaction becomes visible only after the snapshot was taken (lost the same way).
   * What closes the window is a lock that waits out every writer of the table:
   *
   * ```sql
   * begin isolation level repeatable read read only;
   * lock table items in share mode;      -- waits for writers in flight, holds new ones back
   * select pg_current_wal_insert_lsn();  -- X: every commit record so far is before it
   * select * from items where …;         -- the snapshot (taken by this first query)
   * commit;                              -- writers go on
   * ```
   *
   * `share` mode conflicts with the `row exclusive` lock of writers only (readers and other
   * loaders pass); a transaction releases its locks after it became visible, so once the lock
   * is granted every earlier writer is visible and no later one has written, and the snapshot
   * is taken while that holds. `pg_current_wal_insert_lsn()` rather than `pg_current_wal_lsn()`:
   * with `synchronous_commit = off` a visible commit record may not be written yet, and the
   * insert position is past it anyway. Writers wait for the load (milliseconds); lock every
   * table whose changes the query follows, and set `lock_timeout` if long writers may hold it.
   */
  lsn: string
}

/** What the cache holds for a live query. */
export interface LiveRows<Row> extends LoadedRows<Row> {
  /** The stream point of the last change applied to `rows`. */
  through?: string | undefined
  /** The load ran while the subscription was live (if not, the query refetches once it is). */
  live: boolean
}

/** Options of {@link useLiveQuery}: `useQuery`'s (minus `select`), a loader returning {@link LoadedRows}, and the binding. */
export type LiveQueryOptions<Row extends Record<string, unknown>> = Omit<UseQueryOptions<LiveRows<Row>, DefaultError, Row[], QueryKey>, 'queryFn' | 'select'> & {
  queryFn: (context: QueryFunctionContext) => Promise<LoadedRows<Row>>
  /** The table binding whose changes keep the rows current. */
  realtime: PostgresBinding
  /** Default `'id'`. */
  primaryKey?: string
  /** New rows go first. Default false. */
  newestFirst?: boolean
  /** One cache update per window of this many ms. Default 50. */
  batchMs?: number
  /** Longest wait for the subscription to be live before loading anyway. Default 10 000 ms. */
  liveTimeoutMs?: number
  /** Called with the changes applied to the cached rows, once per batch (logging, tests). */
  onApply?: (changes: PositionedChange[]) => void
}

interface LiveTarget {
  client: QueryClient
  queryKey: QueryKey
  primaryKey: string
  newestFirst: boolean
  batchMs: number
  onApply: ((changes: PositionedChange[]) => void) | undefined
}

const selectRows = <Row>(data: LiveRows<Row>): Row[] => data.rows

/**
 * @example
 * ```tsx
 * const items = useLiveQuery({
 *   queryKey: ['items', listId],
 *   queryFn: () => api.items(listId), // → { rows, lsn } read as described in LoadedRows.lsn
 *   realtime: { table: 'items', filter: `list_id=eq.${listId}` },
 * })
 * return <List rows={items.data ?? []} />
 * ```
 */
export function useLiveQuery<Row extends Record<string, unknown>>(options: LiveQueryOptions<Row>): UseQueryResult<Row[]> {
  const { realtime, primaryKey = 'id', newestFirst = false, batchMs = 50, liveTimeoutMs = 10_000, onApply, queryFn, ...queryOptions } = options
  const enabled = queryOptions.enabled !== false
  const client = useQueryClient()
  const target = useLatest<LiveTarget>({ client, queryKey: options.queryKey, primaryKey, newestFirst, batchMs, onApply })
  const [gate] = useState(() => new LiveGate())
  const [sync] = useState(() => new LiveSync(() => target.current))
  const listeners = useLatest<LeaseListeners>({
    onLease: (lease) => gate.set(lease),
    onChange: (change) => sync.push(change),
    onGap: (event) => {
      if (event.resumed !== true && event.lost === undefined) sync.refetch()
    },
  })
  const status = useEntityLease(bindingToEntity(realtime), listeners, enabled)
  useEffect(() => () => sync.dispose(), [sync])
  // Loaded before the subscription was live (it timed out or broke): refetch once it is.
  useEffect(() => {
    if (status === 'connected') sync.anchor()
  }, [status, sync])

  return useQuery<LiveRows<Row>, DefaultError, Row[], QueryKey>({
    ...queryOptions,
    queryFn: async (context) => {
      const live = enabled && (await gate.whenLive(liveTimeoutMs))
      const { rows, lsn } = await queryFn(context)
      return { rows, lsn, live }
    },
    select: selectRows,
  })
}

/** Resolves loaders once the lease is live (`true`), or gave up / timed out (`false`). */
class LiveGate {
  #lease: EntityChannel | undefined
  #off: (() => void) | undefined
  readonly #waiters = new Set<() => void>()

  set(lease: EntityChannel): void {
    this.#off?.()
    this.#lease = lease
    this.#off = lease.statusStore.subscribe(() => this.#wake())
    this.#wake()
  }

  #status(): string | undefined {
    return this.#lease && !this.#lease.released ? this.#lease.statusStore.getSnapshot() : undefined
  }

  whenLive(timeoutMs: number): Promise<boolean> {
    if (this.#status() === 'connected') return Promise.resolve(true)
    return new Promise<boolean>((resolve) => {
      const check = () => {
        const status = this.#status()
        if (status === 'connected' || status === 'error') done(status === 'connected')
      }
      const done = (live: boolean) => {
        clearTimeout(timer)
        this.#waiters.delete(check)
        resolve(live)
      }
      const timer = setTimeout(() => done(false), timeoutMs)
      this.#waiters.add(check)
    })
  }

  #wake(): void {
    for (const check of [...this.#waiters]) check()
  }
}

/** Buffers changes and applies them to the one cache entry, placed against its position. */
class LiveSync {
  readonly #target: () => LiveTarget
  #changes: PositionedChange[] = []
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(target: () => LiveTarget) {
    this.#target = target
  }

  push(change: Change): void {
    this.#changes.push(change as PositionedChange)
    this.#timer ??= setTimeout(() => this.flush(), this.#target().batchMs)
  }

  /** A gap: what is cached may miss changes. Refetch (the buffer is placed against the new position). */
  refetch(): void {
    const { client, queryKey } = this.#target()
    void client.invalidateQueries({ queryKey, exact: true })
  }

  /** The subscription is live: rows loaded before it was are refetched once. */
  anchor(): void {
    const { client, queryKey } = this.#target()
    const data = client.getQueryData<LiveRows<unknown>>(queryKey)
    if (data && !data.live) void client.invalidateQueries({ queryKey, exact: true })
  }

  flush(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#changes.length === 0) return
    const target = this.#target()
    const query = target.client.getQueryCache().find<LiveRows<Record<string, unknown>>>({ queryKey: target.queryKey, exact: true })
    // Loading: keep everything for the position the load will return.
    if (query?.state.fetchStatus === 'fetching') {
      this.#timer = setTimeout(() => this.flush(), target.batchMs)
      return
    }
    const changes = this.#changes
    this.#changes = []
    const data = query?.state.data
    // Nothing loaded (disabled, failed): the next load reads the table as it is then.
    if (!data) return
    const { next, applied } = applyLive(data, changes, target)
    if (next === UNPATCHABLE) return this.refetch()
    if (next !== data) target.client.setQueryData(target.queryKey, next)
    if (applied.length > 0) target.onApply?.(applied)
  }

  dispose(): void {
    this.flush()
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#changes.length > 0) {
      this.#changes = []
      this.refetch()
    }
  }
}

/**
 * Applies the changes committed at or after the rows' position and after the last one applied;
 * changes without a mark (a server without positions) are applied as they come (the patch rules
 * are idempotent).
 */
export function applyLive<Row extends Record<string, unknown>>(
  data: LiveRows<Row>,
  changes: readonly PositionedChange[],
  options: { primaryKey?: string; newestFirst?: boolean } = {},
): { next: LiveRows<Row> | typeof UNPATCHABLE; applied: PositionedChange[] } {
  const position = parsePgLsn(data.lsn)
  let through = data.through
  const applied: PositionedChange[] = []
  for (const change of changes) {
    const point = change.switchboard?.lsn
    const parsed = point && position !== null ? parseStreamPoint(point) : null
    if (parsed && point) {
      if (parsed.lsn < position! || (through !== undefined && point <= through)) continue
      through = point
    }
    applied.push(change)
  }
  if (applied.length === 0) return { next: data, applied }
  const rows = applyChanges(data.rows, applied, options)
  if (rows === UNPATCHABLE) return { next: UNPATCHABLE, applied: [] }
  return { next: { ...data, rows, through }, applied }
}
