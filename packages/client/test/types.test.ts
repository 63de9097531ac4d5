/**
 * Type tests of the public API (checked by `tsc -p packages/client/tsconfig.test.json` and, as
 * plain assertions, by vitest: `expectTypeOf` is a no-op at run time).
 */
import { describe, expectTypeOf, it } from 'vitest'
import type { RealtimePostgresChangesPayload } from '@supabase/realtime-js'
import type { ChannelInfo, ChannelKind, ChannelManager, JoinPresenceOptions, LostKind, PositionedChange, PresenceMetadata } from '@switchboard/client'
import {
  configureRealtime,
  subscribeToEntity,
  joinPresence,
  leavePresence,
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
          // realtime-js's payload, plus the position mark of a server that speaks positions.
          expectTypeOf(payload).toEqualTypeOf<PositionedChange<Contact>>()
          expectTypeOf(payload).toExtend<RealtimePostgresChangesPayload<Contact>>()
          expectTypeOf(payload.switchboard).toEqualTypeOf<{ position: number; lsn?: string } | undefined>()
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

  it('seed signatures (issue 14)', () => {
    expectTypeOf(leavePresence).toBeCallableWith('contact', '123')
    expectTypeOf(leavePresence).toBeCallableWith('contact', '123', 'tenant-abc')
    expectTypeOf(leavePresence).toBeCallableWith({ entityType: 'contact', entityId: '123', tenantId: 'tenant-abc' })
    expectTypeOf(leavePresence).returns.resolves.toBeVoid()
    // @ts-expect-error the entity id is required
    void (() => leavePresence('contact'))
    // @ts-expect-error the object form needs entityId
    void (() => leavePresence({ entityType: 'contact' }))

    const m = null as unknown as ChannelManager
    void (() => {
      expectTypeOf(m.leavePresence).toBeCallableWith('contact', '123')
      expectTypeOf(m.leavePresence).returns.resolves.toBeVoid()
      expectTypeOf(m.unsubscribe).parameters.toEqualTypeOf<[kind: ChannelKind, entityType: string, entityId: string, tenantId?: string]>()
      expectTypeOf(m.unsubscribe).returns.resolves.toBeVoid()
      expectTypeOf(m.hasChannel).parameters.toEqualTypeOf<[kind: ChannelKind, entityType: string, entityId: string, tenantId?: string]>()
      expectTypeOf(m.hasChannel).returns.toBeBoolean()
      expectTypeOf(m.getPresenceState).parameters.toEqualTypeOf<[entityType: string, entityId: string, tenantId?: string]>()
      expectTypeOf(m.getPresenceState).returns.toEqualTypeOf<PresenceUser[]>()
      expectTypeOf(m.updatePresenceMetadata).parameters.toEqualTypeOf<[entityType: string, entityId: string, metadata: PresenceMetadata, tenantId?: string]>()
      expectTypeOf(m.updatePresenceMetadata).returns.resolves.toBeVoid()
      expectTypeOf(m.getActiveChannels).returns.toEqualTypeOf<ChannelInfo[]>()
      expectTypeOf<ChannelInfo>().toExtend<{ name: string; type: ChannelKind; status: Status; subscribers: number; createdAt: number; lastEventAt: number | undefined }>()
      expectTypeOf(m.getChannelStats).returns.toEqualTypeOf<ChannelStats>()
      expectTypeOf<ChannelStats>().toEqualTypeOf<{ total: number; byType: { subscription: number; presence: number }; byStatus: Record<Status, number> }>()
      expectTypeOf(m.cleanupAllChannels).returns.resolves.toBeVoid()
      expectTypeOf(m.broadcast).toBeCallableWith({ entityType: 'document', entityId: 'doc-789', event: 'cursor-move', payload: { x: 1, y: 2 } })
    })

    expectTypeOf(broadcast).toBeCallableWith({ entityType: 'document', entityId: 'doc-789', event: 'cursor-move', payload: { x: 1, y: 2 } })
    expectTypeOf(subscribeToEntity).toBeCallableWith({
      entityType: 'contact',
      entityId: '123',
      onInsert: () => undefined,
      onUpdate: () => undefined,
      onDelete: () => undefined,
      onChange: () => undefined,
      onStatusChange: (status: Status) => void status,
      onError: (error: Error) => void error,
    })
    expectTypeOf(joinPresence).toBeCallableWith({
      entityType: 'project',
      entityId: 'p-456',
      user: { id: 'u', name: 'Ada', email: 'ada@example.com', avatar: 'https://x/a.png' },
      metadata: { role: 'editor' },
    })
  })

  it('presence callbacks: onJoin / onLeave get one user first (and the batch), onSync everyone', () => {
    type Handlers = Required<Pick<JoinPresenceOptions<{ role: string }>, 'onJoin' | 'onLeave' | 'onSync'>>
    expectTypeOf<Handlers['onJoin']>().parameter(0).toEqualTypeOf<PresenceUser<{ role: string }>>()
    expectTypeOf<Handlers['onJoin']>().parameter(1).toEqualTypeOf<PresenceUser<{ role: string }>[]>()
    expectTypeOf<Handlers['onLeave']>().parameter(0).toEqualTypeOf<PresenceUser<{ role: string }>>()
    expectTypeOf<Handlers['onSync']>().parameter(0).toEqualTypeOf<PresenceUser<{ role: string }>[]>()
    void (() =>
      joinPresence({
        entityType: 'project',
        entityId: 'p-456',
        user: { id: 'u', name: 'Ada' },
        metadata: { role: 'editor' },
        onJoin: (user) => {
          expectTypeOf(user.userName).toBeString()
          expectTypeOf(user.role).toBeString()
        },
        onLeave: (user, left) => {
          expectTypeOf(user.userId).toBeString()
          expectTypeOf(left).toBeArray()
        },
      }))
  })

  it('gap scope and retry time', () => {
    expectTypeOf<GapEvent['lost']>().toEqualTypeOf<LostKind[] | undefined>()
    expectTypeOf<LostKind>().toEqualTypeOf<'broadcast'>()
    expectTypeOf<NonNullable<GapEvent['resume']>['code']>().toEqualTypeOf<'Fresh' | 'Resumed' | 'Gap'>()
    expectTypeOf<ConnectionSnapshot['retryAt']>().toEqualTypeOf<number | undefined>()
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
