/**
 * `useBroadcast` (listen to one event on an entity's channel) and `useBroadcastSender`
 * (a stable send function). Both hold a lease on the entity's `subscription` channel while
 * mounted, the same channel `useEntityChanges` uses for that entity, so they share one join.
 *
 * Their leases are broadcast-only (`changes: false`): they add no postgres_changes binding.
 */
import { useCallback, useEffect, useRef } from 'react'
import type { BroadcastMessage, EntityChannel } from '@switchboard/client'
import { stableKey, useLatest } from './internal.js'
import { useRealtimeManager } from './provider.js'
import type { EnabledOption, EntityRef } from './types.js'
import type { SubscriptionResult } from './use-entity-changes.js'
import { useEntityLease, type LeaseListeners } from './use-entity-lease.js'

const entityOf = (entity: EntityRef) => ({
  entityType: entity.entityType,
  entityId: entity.entityId,
  tenantId: entity.tenantId,
  private: entity.private ?? false,
  changes: false,
})

/**
 * Calls `handler` with every `event` broadcast on the entity's channel by others
 * (`event: '*'` for all). The handler gets the realtime-js message: `{ event, payload, meta? }`.
 *
 * @example
 * ```tsx
 * useBroadcast({ entityType: 'conversation', entityId: id }, 'typing',
 *   ({ payload }) => showTyping(payload.userName))
 * ```
 */
export function useBroadcast<P = unknown>(
  entity: EntityRef,
  event: string,
  handler: (message: BroadcastMessage<P>) => void,
  { enabled = true }: EnabledOption = {},
): SubscriptionResult {
  const latest = useLatest(handler)
  // The handler registered on the lease reads the latest `handler`: re-renders never re-register;
  // a new `event` re-takes the lease (it is part of the effect's key).
  const listeners = useLatest<LeaseListeners>({
    onLease: (lease: EntityChannel) => void lease.on<P>('broadcast', { event }, (message) => latest.current(message)),
  })
  const status = useEntityLease(entityOf(entity), listeners, enabled, event)
  return { status }
}

/**
 * A stable `(event, payload) => Promise<void>` that broadcasts on the entity's channel
 * (checked, rate-limited, waits for the join; rejects with a `SwitchboardError`).
 *
 * @example
 * ```tsx
 * const send = useBroadcastSender({ entityType: 'conversation', entityId: id })
 * <input onChange={() => void send('typing', { userId: me.id, userName: me.name })} />
 * ```
 */
export function useBroadcastSender<P = unknown>(entity: EntityRef): (event: string, payload: P) => Promise<void> {
  const manager = useRealtimeManager()
  const key = stableKey(entityOf(entity))
  const lease = useRef<EntityChannel | undefined>(undefined)

  useEffect(() => {
    const taken = manager.acquireEntity({ ...(JSON.parse(key) as ReturnType<typeof entityOf>), waitForJoin: false })
    lease.current = taken
    return () => {
      if (lease.current === taken) lease.current = undefined
      taken.release()
    }
  }, [manager, key])

  return useCallback(
    (event: string, payload: P): Promise<void> =>
      lease.current ? lease.current.send(event, payload) : manager.broadcast({ ...(JSON.parse(key) as ReturnType<typeof entityOf>), event, payload }),
    [manager, key],
  )
}
