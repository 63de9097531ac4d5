/**
 * Collects changes for `useRealtimeSync` and applies them once per `batchMs` window: a burst of
 * 1,000 changes in a second becomes ~20 cache updates (one render each), not 1,000.
 *
 * A query whose fetch is in flight is not patched (the fetch result would overwrite the patch,
 * and an infinite query's next page carries the pages as they were when it started): its changes
 * wait in a backlog and are applied after the fetch. Re-applying is safe because the patch rules
 * are idempotent (an INSERT of a present row replaces it, a DELETE of a missing row does nothing).
 * @internal
 */
import { notifyManager, type QueryClient, type QueryKey } from '@tanstack/react-query'
import { applyChanges, UNPATCHABLE, type PatchOptions } from './cache-patch.js'
import type { Change } from './use-entity-lease.js'

export interface SyncTarget extends PatchOptions {
  client: QueryClient
  queryKey: QueryKey
  mode: 'invalidate' | 'patch'
  batchMs: number
}

export class SyncBatcher {
  readonly #target: () => SyncTarget
  #changes: Change[] = []
  #refetch = false
  #timer: ReturnType<typeof setTimeout> | undefined
  readonly #backlog = new Map<string, { queryKey: QueryKey; changes: Change[] }>()

  /** `target` is read at flush time, so the latest key, mode and client are used. */
  constructor(target: () => SyncTarget) {
    this.#target = target
  }

  push(change: Change): void {
    this.#changes.push(change)
    this.#schedule()
  }

  /** A gap that was not a recovery: whatever is cached may miss changes, refetch it. */
  gap(): void {
    this.#refetch = true
    this.flush()
  }

  /** Applies everything now (the window ended, a gap, or unmount). */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    const changes = this.#changes
    const refetch = this.#refetch
    this.#changes = []
    this.#refetch = false
    if (changes.length === 0 && !refetch && this.#backlog.size === 0) return
    const target = this.#target()
    const { client, queryKey } = target
    notifyManager.batch(() => {
      if (refetch || target.mode === 'invalidate') {
        this.#backlog.clear()
        void client.invalidateQueries({ queryKey })
        return
      }
      this.#patch(target, changes)
    })
    if (this.#backlog.size > 0) this.#schedule()
  }

  /** Unmount: apply what can be, and mark what waits on a fetch as stale. */
  dispose(): void {
    this.flush()
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    const { client } = this.#target()
    for (const { queryKey } of this.#backlog.values()) void client.invalidateQueries({ queryKey, exact: true })
    this.#backlog.clear()
  }

  #patch(target: SyncTarget, changes: Change[]): void {
    const { client } = target
    for (const query of client.getQueryCache().findAll({ queryKey: target.queryKey })) {
      const waiting = this.#backlog.get(query.queryHash)
      const all = waiting ? [...waiting.changes, ...changes] : changes
      if (all.length === 0) continue
      if (query.state.fetchStatus === 'fetching') {
        this.#backlog.set(query.queryHash, { queryKey: query.queryKey, changes: all })
        continue
      }
      this.#backlog.delete(query.queryHash)
      const data = query.state.data
      if (data === undefined) continue
      const next = applyChanges(data, all, target)
      if (next === UNPATCHABLE) void client.invalidateQueries({ queryKey: query.queryKey, exact: true })
      else if (next !== data) client.setQueryData(query.queryKey, next)
    }
  }

  #schedule(): void {
    if (this.#timer === undefined) this.#timer = setTimeout(() => this.flush(), this.#target().batchMs)
  }
}
