/**
 * The seed API against a real server: every documented call, the examples of `seed-examples.ts`
 * as written, and presence joins/leaves once per user.
 */
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  broadcast,
  cleanupAllChannels,
  configureRealtime,
  getChannelManager,
  joinPresence,
  leavePresence,
  subscribeToEntity,
  type PresenceUser,
} from '@switchboard/client'
import { createHarness, waitFor, type Harness } from './helpers.js'
import * as examples from './seed-examples.js'

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(async () => {
  await cleanupAllChannels()
  await getChannelManager().destroy()
  await h?.dispose()
})

describe('seed API', () => {
  it('configureRealtime, subscribeToEntity, joinPresence, broadcast, stats, cleanup', async () => {
    const token = await h.token({ sub: 'u-1' })
    configureRealtime({ url: h.proxy.url, apiKey: h.server.anonKey, accessToken: async () => token, transport: WebSocket })

    const statuses: string[] = []
    const channel = await subscribeToEntity({
      entityType: 'contact',
      entityId: '123',
      onInsert: () => undefined,
      onUpdate: () => undefined,
      onDelete: () => undefined,
      onChange: () => undefined,
      onStatusChange: (s) => statuses.push(s),
      onError: () => undefined,
    })
    expect(channel.name).toBe('subscription:contact:123')
    expect(channel.status).toBe('connected')
    expect(statuses).toEqual(['connecting', 'connected'])

    let synced: PresenceUser[] = []
    const presence = await joinPresence({
      entityType: 'project',
      entityId: 'p-456',
      user: { id: 'u-1', name: 'Ada', email: 'ada@example.com', avatar: 'https://x/a.png' },
      metadata: { role: 'editor' },
      onSync: (users) => (synced = users),
      onJoin: () => undefined,
      onLeave: () => undefined,
    })
    await waitFor(() => synced.length === 1, 5000, 'presence sync')
    expect(synced[0]).toMatchObject({ userId: 'u-1', userName: 'Ada', userEmail: 'ada@example.com', userAvatar: 'https://x/a.png', role: 'editor' })
    expect(typeof synced[0]?.onlineAt).toBe('string')
    expect(getChannelManager().getPresenceState('project', 'p-456')).toEqual(synced)

    await getChannelManager().updatePresenceMetadata('project', 'p-456', { role: 'viewer' })
    await waitFor(() => synced[0]?.role === 'viewer', 5000, 'metadata update')

    // A second client receives the broadcast on the document channel.
    const other = h.manager()
    const doc = await other.subscribeToEntity({ entityType: 'document', entityId: 'doc-789' })
    const moves: unknown[] = []
    doc.on('broadcast', { event: 'cursor-move' }, ({ payload }) => moves.push(payload))
    await broadcast({ entityType: 'document', entityId: 'doc-789', event: 'cursor-move', payload: { x: 1, y: 2 } })
    await waitFor(() => moves.length === 1, 5000, 'broadcast')
    expect(moves).toEqual([{ x: 1, y: 2 }])

    const stats = getChannelManager().getChannelStats()
    expect(stats.byType.subscription).toBeGreaterThanOrEqual(1)
    expect(stats.byType.presence).toBe(1)
    expect(getChannelManager().hasChannel('presence', 'project', 'p-456')).toBe(true)
    const active = getChannelManager().getActiveChannels()
    expect(active.find((c) => c.name === 'presence:project:p-456')).toMatchObject({ type: 'presence', status: 'connected', subscribers: 1 })

    await leavePresence({ entityType: 'project', entityId: 'p-456' })
    expect(presence.released).toBe(true)
    expect(getChannelManager().realtime.getChannels().map((c) => c.topic)).not.toContain('realtime:presence:project:p-456')
    expect(getChannelManager().hasChannel('presence', 'project', 'p-456')).toBe(false)

    await cleanupAllChannels()
    expect(getChannelManager().getChannelStats().total).toBe(0)
    expect(getChannelManager().realtime.getChannels()).toHaveLength(0)
    expect(channel.released).toBe(true)
  })

  it('the seed examples, as written, run against the real server', async () => {
    const token = await h.token({ sub: examples.user.id })
    configureRealtime({ url: h.proxy.url, apiKey: h.server.anonKey, accessToken: async () => token, transport: WebSocket })

    const channel = await examples.subscribeExample()
    expect(channel.status).toBe('connected')
    expect(examples.logged).toEqual(['Status: connecting', 'Status: connected'])

    // Presence: one "started viewing" per user; a metadata update is not a join, a leave removes the viewer.
    await examples.presenceExample()
    await waitFor(() => examples.viewers.length === 1, 5000, 'own presence')
    const bob = h.manager()
    const bobLease = await bob.joinPresence({ entityType: 'project', entityId: 'p-456', user: { id: 'u-bob', name: 'Bob' }, metadata: { role: 'editor' } })
    await waitFor(() => examples.viewers.length === 2, 5000, 'Bob viewing')
    await bobLease.updateMetadata({ role: 'viewer' })
    await waitFor(() => examples.viewers.some((u) => u.userId === 'u-bob' && u.role === 'viewer'), 5000, 'Bob re-tracked')
    await bob.leavePresence('project', 'p-456')
    await waitFor(() => examples.viewers.length === 1, 5000, 'Bob left')
    expect(examples.viewers.map((u) => u.userName)).toEqual(['Ada'])
    expect(examples.logged.filter((line) => line.endsWith('started viewing'))).toEqual(['Ada started viewing', 'Bob started viewing'])

    // Broadcast: another client listening on the document's channel draws the cursor.
    const other = h.manager()
    examples.listenExample(await other.subscribeToEntity({ entityType: 'document', entityId: 'doc-789', changes: false }))
    await examples.broadcastExample()
    await waitFor(() => examples.cursors.length === 1, 5000, 'cursor broadcast')
    expect(examples.cursors).toEqual([{ x: 100, y: 200 }])

    // leavePresence('contact', '123') resolves once the channel has left.
    await joinPresence({ entityType: 'contact', entityId: '123', user: { id: examples.user.id, name: examples.user.name } })
    expect(getChannelManager().hasChannel('presence', 'contact', '123')).toBe(true)
    await examples.leaveExample()
    expect(getChannelManager().hasChannel('presence', 'contact', '123')).toBe(false)
    expect(getChannelManager().realtime.getChannels().map((c) => c.topic)).not.toContain('realtime:presence:contact:123')

    const { subscribed, present, active, stats } = await examples.managerExamples()
    expect(subscribed).toBe(true)
    expect(present.map((u) => u.userId)).toEqual([examples.user.id])
    for (const row of active) expect(Object.keys(row)).toEqual(expect.arrayContaining(['name', 'type', 'status', 'subscribers', 'createdAt', 'lastEventAt']))
    expect(active.find((c) => c.name === 'subscription:contact:123')).toMatchObject({ type: 'subscription', status: 'connected', subscribers: 1 })
    // The document channel the broadcast joined may still be in its grace period: 1 or 2 subscriptions.
    expect(stats.byType.presence).toBe(1)
    expect(stats.total).toBe(stats.byType.subscription + stats.byType.presence)
    expect(stats.byStatus).toMatchObject({ connected: stats.total, error: 0 })
    expect(getChannelManager().hasChannel('subscription', 'contact', '123')).toBe(false) // unsubscribed
    await waitFor(() => examples.viewers.some((u) => u.role === 'viewer'), 5000, 'own metadata update')

    await examples.cleanupExample()
    expect(getChannelManager().getChannelStats().total).toBe(0)
    expect(examples.logged.filter((line) => line.startsWith('error'))).toEqual([])
  })

  it('tenant prefixes keep two tenants apart for equal entity ids', async () => {
    const m = h.manager()
    const a = await m.joinPresence({ entityType: 'contact', entityId: '123', tenantId: 'tenant-abc', user: { id: 'a', name: 'A' } })
    const b = await m.joinPresence({ entityType: 'contact', entityId: '123', tenantId: 'tenant-xyz', user: { id: 'b', name: 'B' } })
    expect(a.name).toBe('tenant:tenant-abc:presence:contact:123')
    expect(b.name).toBe('tenant:tenant-xyz:presence:contact:123')
    await waitFor(() => a.users.length === 1 && b.users.length === 1, 5000, 'presence')
    expect(a.users.map((u) => u.userId)).toEqual(['a'])
    expect(b.users.map((u) => u.userId)).toEqual(['b'])
  })
})
