/**
 * `useRealtimeSync(queryKey, binding, options)`: keeps every cached query under `queryKey`
 * (a prefix) in step with a table's changes, and `useRealtimeQuery`, `useQuery` + that.
 *
 * - `mode: 'invalidate'` (default): one `invalidateQueries` per batch window.
 * - `mode: 'patch'`: inserts, updates and removes rows by primary key in every matching list
 *   and infinite query (shapes and rules in `cache-patch.ts`); unknown shapes are invalidated.
 * - A `gap` that is not a recovery (`resumed` absent or false) invalidates, unless its scope
 *   (`lost`) leaves the table's changes out (`['broadcast']`: the server replayed every change
 *   after a restart); a resumed channel replays what was missed through the normal path.
 */
import { useEffect, useState } from 'react'
import { useQuery, useQueryClient, type DefaultError, type QueryKey, type UseQueryOptions, type UseQueryResult } from '@tanstack/react-query'
import { bindingToEntity, useLatest } from './internal.js'
import { SyncBatcher } from './sync-batcher.js'
import type { PostgresBinding } from './types.js'
import type { SubscriptionResult } from './use-entity-changes.js'
import { useEntityLease, type LeaseListeners } from './use-entity-lease.js'

export interface RealtimeSyncOptions {
  /** Default `'invalidate'`. */
  mode?: 'invalidate' | 'patch'
  /** Primary key column for `patch`. Default `'id'`. */
  primaryKey?: string
  /** One cache update per window of this many ms. Default 50. */
  batchMs?: number
  /** Default true. */
  enabled?: boolean
  /** `patch`: new rows go first (lists and the first page of infinite queries), as a chat needs. */
  newestFirst?: boolean
  /**
   * Refetch once when the subscription is first live (default false): for loaders that cannot
   * return the position they read at, so a change committed between their read and the
   * subscription going live is not missed (see `useLiveQuery` for the exact alternative).
   */
  refetchOnSubscribe?: boolean
}

/**
 * @example
 * ```tsx
 * const messages = useInfiniteQuery({ queryKey: ['messages', conversationId], queryFn, getNextPageParam, initialPageParam })
 * useRealtimeSync(['messages', conversationId],
 *   { table: 'messages', filter: `conversation_id=eq.${conversationId}` },
 *   { mode: 'patch', newestFirst: true })
 * ```
 */
export function useRealtimeSync(queryKey: QueryKey, binding: PostgresBinding, options: RealtimeSyncOptions = {}): SubscriptionResult {
  const { mode = 'invalidate', primaryKey = 'id', batchMs = 50, enabled = true, newestFirst = false, refetchOnSubscribe = false } = options
  const client = useQueryClient()
  const target = useLatest({ client, queryKey, mode, primaryKey, batchMs, newestFirst })
  const [batcher] = useState(() => new SyncBatcher(() => target.current))
  const listeners = useLatest<LeaseListeners>({
    onChange: (change) => batcher.push(change),
    onGap: (event) => {
      // `lost` names the only kinds that may be missing; none of them is a row change.
      if (event.resumed !== true && event.lost === undefined) batcher.gap()
    },
  })
  const status = useEntityLease(bindingToEntity(binding), listeners, enabled)
  useEffect(() => () => batcher.dispose(), [batcher])
  const [subscribed] = useState(() => ({ done: false }))
  useEffect(() => {
    if (!refetchOnSubscribe || status !== 'connected' || subscribed.done) return
    subscribed.done = true
    batcher.gap()
  }, [refetchOnSubscribe, status, subscribed, batcher])
  return { status }
}

/** Options of {@link useRealtimeQuery}: `useQuery`'s plus the binding and sync options. */
export type RealtimeQueryOptions<TQueryFnData, TError, TData, TQueryKey extends QueryKey> =
  UseQueryOptions<TQueryFnData, TError, TData, TQueryKey> & Omit<RealtimeSyncOptions, 'enabled'> & {
    /** The table binding whose changes keep this query current. */
    realtime: PostgresBinding
  }

/**
 * `useQuery` kept current by `useRealtimeSync` (realtime is off while `enabled` is `false`).
 *
 * @example
 * ```tsx
 * const calls = useRealtimeQuery({
 *   queryKey: ['calls', tenantId],
 *   queryFn: () => api.calls(tenantId),
 *   realtime: { table: 'calls', filter: `tenant_id=eq.${tenantId}` },
 *   mode: 'patch',
 * })
 * ```
 */
export function useRealtimeQuery<TQueryFnData = unknown, TError = DefaultError, TData = TQueryFnData, TQueryKey extends QueryKey = QueryKey>(
  options: RealtimeQueryOptions<TQueryFnData, TError, TData, TQueryKey>,
): UseQueryResult<TData, TError> {
  const { realtime, mode, primaryKey, batchMs, newestFirst, refetchOnSubscribe, ...queryOptions } = options
  const result = useQuery(queryOptions as UseQueryOptions<TQueryFnData, TError, TData, TQueryKey>)
  useRealtimeSync(options.queryKey, realtime, {
    mode,
    primaryKey,
    batchMs,
    newestFirst,
    refetchOnSubscribe,
    enabled: queryOptions.enabled !== false,
  })
  return result
}
