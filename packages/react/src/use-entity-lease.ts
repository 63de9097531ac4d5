/**
 * The one recipe behind every changes/broadcast hook (TanStack `useBaseQuery`):
 * `useState(() => new SourceStore)` + `useSyncExternalStore` + an effect that takes a lease.
 *
 * - The lease is taken **in the effect**, never during render (realtime-js StrictMode pitfall).
 * - Callbacks are read from a ref when events arrive: a new callback never resubscribes.
 * - StrictMode's mount → unmount → mount releases and re-takes the lease within the manager's
 *   grace period (150 ms), so the channel is reused: one `phx_join`, one channel.
 * @internal
 */
import { useEffect, useState, useSyncExternalStore } from 'react'
import type { EntityChannel, GapEvent, Status, SubscribeToEntityOptions } from '@switchboard/client'
import type { RealtimePostgresChangesPayload } from '@supabase/realtime-js'
import { SourceStore, stableKey } from './internal.js'
import { useRealtimeManager } from './provider.js'

/** A postgres change as delivered by realtime-js. */
export type Change<Row extends Record<string, unknown> = Record<string, unknown>> = RealtimePostgresChangesPayload<Row>

/** Callbacks a lease forwards; read through a ref on every event. @internal */
export interface LeaseListeners {
  onInsert?: ((change: Change) => void) | undefined
  onUpdate?: ((change: Change) => void) | undefined
  onDelete?: ((change: Change) => void) | undefined
  onChange?: ((change: Change) => void) | undefined
  onGap?: ((event: GapEvent) => void) | undefined
  /** Called with the lease right after it is taken (add broadcast handlers here). */
  onLease?: ((lease: EntityChannel) => void) | undefined
}

/** Options without callbacks: plain JSON, so they can key the effect. @internal */
export type LeaseSpec = Omit<SubscribeToEntityOptions, 'onInsert' | 'onUpdate' | 'onDelete' | 'onChange' | 'onGap' | 'onError' | 'onStatusChange'>

/**
 * Takes an entity lease while `enabled`; returns the channel status. A new `spec` (by value) or
 * `extraKey` re-takes the lease; new `listeners` never do. @internal
 */
export function useEntityLease(spec: LeaseSpec, listeners: { readonly current: LeaseListeners }, enabled: boolean, extraKey = ''): Status {
  const manager = useRealtimeManager()
  const [store] = useState(() => new SourceStore<Status>(enabled ? 'connecting' : 'disconnected'))
  const status = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot)
  const key = stableKey([spec, extraKey])

  useEffect(() => {
    if (!enabled) {
      store.setSource(undefined, 'disconnected')
      return
    }
    const [options] = JSON.parse(key) as [LeaseSpec, string]
    const lease = manager.acquireEntity({
      ...options,
      waitForJoin: false,
      onInsert: (change) => listeners.current.onInsert?.(change),
      onUpdate: (change) => listeners.current.onUpdate?.(change),
      onDelete: (change) => listeners.current.onDelete?.(change),
      onChange: (change) => listeners.current.onChange?.(change),
      onGap: (event) => listeners.current.onGap?.(event),
    })
    listeners.current.onLease?.(lease)
    store.setSource(lease.statusStore)
    return () => {
      store.setSource(undefined, 'disconnected')
      lease.release()
    }
  }, [manager, key, enabled, store, listeners])

  return status
}
