/**
 * `usePresence(entity, user, metadata?)`: joins an entity's presence channel as `user` and
 * returns everyone on it. Users come from `manager.presenceStore(...)` through
 * `useSyncExternalStore`; the presence lease is taken in an effect.
 *
 * - `user` (by value) or the entity changing re-joins; `metadata` changing re-tracks in place.
 * - `user: null` joins nothing (not signed in yet); `users` then shows what this manager sees.
 */
import { useCallback, useEffect, useMemo, useRef, useSyncExternalStore } from 'react'
import type { PresenceLease, PresenceMetadata, PresenceUser, PresenceUserInput } from '@switchboard/client'
import { stableKey, useLatest } from './internal.js'
import { useRealtimeManager } from './provider.js'
import type { EnabledOption, EntityRef } from './types.js'

export interface PresenceResult<M extends PresenceMetadata = PresenceMetadata> {
  /** One entry per user id: `{ userId, userName, userEmail?, userAvatar?, onlineAt, ...metadata }`. */
  users: PresenceUser<M>[]
  /** Merges `metadata` into what this user tracks and re-tracks (kept across re-joins). */
  update: (metadata: Partial<M>) => Promise<void>
}

const NONE: PresenceUser[] = []

/**
 * @example
 * ```tsx
 * const { users, update } = usePresence({ entityType: 'report', entityId: id },
 *   { id: me.id, name: me.name, avatar: me.avatarUrl }, { page: 'reports' })
 * return <Avatars users={users} />
 * ```
 */
export function usePresence<M extends PresenceMetadata = PresenceMetadata>(
  entity: EntityRef,
  user: PresenceUserInput | null,
  metadata?: M,
  { enabled = true }: EnabledOption = {},
): PresenceResult<M> {
  const manager = useRealtimeManager()
  const entityKey = stableKey({ entityType: entity.entityType, entityId: entity.entityId, tenantId: entity.tenantId, private: entity.private ?? false })
  const userKey = user ? stableKey({ id: user.id, name: user.name, email: user.email, avatar: user.avatar }) : null
  const metaKey = stableKey(metadata ?? {})
  const latestMeta = useLatest(metadata)
  const lease = useRef<PresenceLease<M> | undefined>(undefined)
  const overrides = useRef<Partial<M>>({})
  const appliedMeta = useRef<string>(metaKey)

  const store = useMemo(() => {
    const ref = JSON.parse(entityKey) as EntityRef
    return manager.presenceStore<M>(ref.entityType, ref.entityId, ref.tenantId)
  }, [manager, entityKey])
  const all = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot)
  const users = enabled ? all : (NONE as PresenceUser<M>[])

  useEffect(() => {
    if (!enabled || userKey === null) return
    const ref = JSON.parse(entityKey) as EntityRef
    const taken = manager.acquirePresence<M>({
      ...ref,
      user: JSON.parse(userKey) as PresenceUserInput,
      metadata: { ...latestMeta.current, ...overrides.current } as M,
      waitForJoin: false,
    })
    lease.current = taken
    appliedMeta.current = stableKey(latestMeta.current ?? {})
    return () => {
      if (lease.current === taken) lease.current = undefined
      taken.release()
    }
  }, [manager, entityKey, userKey, enabled, latestMeta])

  // A new metadata value re-tracks on the same lease (no re-join).
  useEffect(() => {
    if (!lease.current || appliedMeta.current === metaKey) return
    appliedMeta.current = metaKey
    lease.current.updateMetadata({ ...(JSON.parse(metaKey) as M), ...overrides.current }).catch(() => undefined)
  }, [metaKey])

  const update = useCallback((next: Partial<M>): Promise<void> => {
    overrides.current = { ...overrides.current, ...next }
    return lease.current ? lease.current.updateMetadata(next) : Promise.resolve()
  }, [])

  return { users, update }
}
