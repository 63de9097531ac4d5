/**
 * Type tests of the public API (checked by `tsc -p packages/client/tsconfig.test.json` and, as
 * plain assertions, by vitest: `expectTypeOf` is a no-op at run time).
 */
import { describe, expectTypeOf, it } from 'vitest'
import type { RealtimePostgresChangesPayload } from '@supabase/realtime-js'
import type {
  ChannelManager} from '@switchboard/client';
import {
  configureRealtime,
  subscribeToEntity,
  joinPresence,
  broadcast,
  cleanupAllChannels,
  getChannelManager,
  type EntityChannel,
  type PresenceLease,
  type PresenceUser,
  type Status,
  type ChannelStats,
  type GapEvent,
  type ReadableStore,
  type ConnectionSnapshot,
  type ErrorCode,
} from '@switchboard/client'

describe('public types', () => {
  it('seed API signatures', () => {
    expectTypeOf(configureRealtime).returns.toEqualTypeOf<ChannelManager>()
    expectTypeOf(getChannelManager).returns.toEqualTypeOf<ChannelManager>()
    expectTypeOf(subscribeToEntity).returns.resolves.toEqualTypeOf<EntityChannel>()
    expectTypeOf(broadcast).returns.resolves.toBeVoid()
    expectTypeOf(cleanupAllChannels).returns.resolves.toBeVoid()
    expectTypeOf<Status>().toEqualTypeOf<'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'error'>()
    expectTypeOf<ChannelStats['byType']>().toEqualTypeOf<{ subscription: number; presence: number }>()
    expectTypeOf<ErrorCode>().toExtend<string>()
  })

  it('row types flow into change handlers', () => {
    type Contact = { id: string; name: string }
    void (() =>
      subscribeToEntity<Contact>({
        entityType: 'contact',
        entityId: '1',
        onUpdate: (payload) => {
          expectTypeOf(payload).toEqualTypeOf<RealtimePostgresChangesPayload<Contact>>()
        },
      }))
    // @ts-expect-error entityId is required
    void (() => subscribeToEntity({ entityType: 'contact' }))
    // @ts-expect-error unknown postgres event
    void (() => subscribeToEntity({ entityType: 'contact', entityId: '1', event: 'TRUNCATE' }))
  })

  it('presence metadata is typed on users', () => {
    type Meta = { role: 'editor' | 'viewer' }
    void (async () => {
      const lease = await joinPresence<Meta>({ entityType: 'p', entityId: '1', user: { id: 'u', name: 'n' }, metadata: { role: 'editor' } })
      expectTypeOf(lease).toEqualTypeOf<PresenceLease<Meta>>()
      expectTypeOf(lease.users).toEqualTypeOf<PresenceUser<Meta>[]>()
      expectTypeOf(lease.users[0]!.role).toEqualTypeOf<'editor' | 'viewer'>()
      expectTypeOf(lease.usersStore).toEqualTypeOf<ReadableStore<PresenceUser<Meta>[]>>()
      // @ts-expect-error metadata keys are checked
      await lease.updateMetadata({ role: 'owner' })
    })
  })

  it('stores fit useSyncExternalStore', () => {
    const m = null as unknown as ChannelManager
    void (() => {
      expectTypeOf(m.connectionStore.subscribe).toEqualTypeOf<(listener: () => void) => () => void>()
      expectTypeOf(m.connectionStore.getSnapshot).returns.toEqualTypeOf<ConnectionSnapshot>()
      expectTypeOf(m.statsStore.getSnapshot).returns.toEqualTypeOf<ChannelStats>()
      expectTypeOf(m.onGap).parameter(0).toEqualTypeOf<(event: GapEvent) => void>()
    })
  })

  it('broadcast handlers get typed payloads and chain', () => {
    const ch = null as unknown as EntityChannel
    void (() => {
      const ret = ch.on<{ x: number }>('broadcast', { event: 'cursor-move' }, ({ payload }) => {
        expectTypeOf(payload).toEqualTypeOf<{ x: number }>()
      })
      expectTypeOf(ret).toEqualTypeOf<EntityChannel>()
      // @ts-expect-error only broadcast handlers can be added to a shared channel
      ch.on('postgres_changes', { event: '*' }, () => undefined)
    })
  })
})
