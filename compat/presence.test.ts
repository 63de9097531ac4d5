/**
 * Presence conformance (supabase-protocol.md §4): presence_state after join, presence_diff
 * joins/leaves (untrack, leave, socket gone), keys, updates, and the shapes the client sees.
 */
import type { RealtimeChannel, RealtimePresenceJoinPayload, RealtimePresenceLeavePayload } from '@supabase/supabase-js'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startHarness, subscribe, waitFor, type Harness } from './support/harness.js'
import { RawSocket, joinPayload } from './support/raw-socket.js'

let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(async () => {
  await h?.close()
})

const unique = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}`
type Meta = Record<string, unknown>

interface Watcher {
  syncs: number
  joins: RealtimePresenceJoinPayload<Meta>[]
  leaves: RealtimePresenceLeavePayload<Meta>[]
}

function watch(channel: RealtimeChannel): Watcher {
  const watcher: Watcher = { syncs: 0, joins: [], leaves: [] }
  channel
    .on('presence', { event: 'sync' }, () => void (watcher.syncs += 1))
    .on('presence', { event: 'join' }, (payload) => void watcher.joins.push(payload as RealtimePresenceJoinPayload<Meta>))
    .on('presence', { event: 'leave' }, (payload) => void watcher.leaves.push(payload as RealtimePresenceLeavePayload<Meta>))
  return watcher
}

async function joined(channel: RealtimeChannel): Promise<RealtimeChannel> {
  const { status, error } = await subscribe(channel)
  expect(status, error?.message).toBe('SUBSCRIBED')
  return channel
}

test('a late joiner syncs the existing presences from presence_state', async () => {
  const topic = unique('sync')
  const ann = h.client().channel(topic, { config: { presence: { key: 'ann' } } })
  watch(ann)
  await joined(ann)
  expect(await ann.track({ user: 'ann', online_at: 1 })).toBe('ok')
  // The tracker receives its own diff too.
  await waitFor(() => 'ann' in ann.presenceState(), 5_000, 'own presence')

  const bob = h.client().channel(topic, { config: { presence: { key: 'bob' } } })
  const seen = watch(bob)
  await joined(bob)
  await waitFor(() => seen.syncs > 0 && 'ann' in bob.presenceState(), 5_000, 'sync with ann')
  expect(bob.presenceState()).toEqual({ ann: [{ user: 'ann', online_at: 1, presence_ref: expect.any(String) }] })
  expect(seen.joins.map((j) => j.key)).toEqual(['ann'])
})

test('join and leave on track / untrack, seen by another client', async () => {
  const topic = unique('untrack')
  const observer = h.client().channel(topic, { config: { presence: { key: 'observer' } } })
  const seen = watch(observer)
  await joined(observer)
  const ann = await joined(h.client().channel(topic, { config: { presence: { key: 'ann' } } }))

  expect(await ann.track({ status: 'here' })).toBe('ok')
  await waitFor(() => seen.joins.length === 1, 5_000, 'join event')
  expect(seen.joins[0]).toMatchObject({ event: 'join', key: 'ann', newPresences: [{ status: 'here', presence_ref: expect.any(String) }] })
  expect(observer.presenceState()).toEqual({ ann: [{ status: 'here', presence_ref: expect.any(String) }] })

  expect(await ann.untrack()).toBe('ok')
  await waitFor(() => seen.leaves.length === 1, 5_000, 'leave event')
  expect(seen.leaves[0]).toMatchObject({ event: 'leave', key: 'ann', leftPresences: [{ status: 'here' }] })
  expect(observer.presenceState()).toEqual({})
})

test('leave when the tracking client leaves the channel and when its socket closes', async () => {
  const topic = unique('disconnect')
  const observer = h.client().channel(topic)
  const seen = watch(observer)
  await joined(observer)

  const leaverClient = h.client()
  const leaver = await joined(leaverClient.channel(topic, { config: { presence: { key: 'leaver' } } }))
  const droppedClient = h.client()
  const dropped = await joined(droppedClient.channel(topic, { config: { presence: { key: 'dropped' } } }))
  expect(await leaver.track({ n: 1 })).toBe('ok')
  expect(await dropped.track({ n: 2 })).toBe('ok')
  await waitFor(() => Object.keys(observer.presenceState()).length === 2, 5_000, 'two presences')

  expect(await leaver.unsubscribe()).toBe('ok')
  await waitFor(() => seen.leaves.length === 1, 5_000, 'leave after unsubscribe')
  expect(seen.leaves[0]!.key).toBe('leaver')

  await droppedClient.realtime.disconnect()
  await waitFor(() => seen.leaves.length === 2, 5_000, 'leave after disconnect')
  expect(seen.leaves[1]!.key).toBe('dropped')
  expect(observer.presenceState()).toEqual({})
})

test('config.presence.key names the presence; an empty key gets a random UUID', async () => {
  const topic = unique('keys')
  const observer = h.client().channel(topic)
  watch(observer)
  await joined(observer)
  const named = await joined(h.client().channel(topic, { config: { presence: { key: 'user:42' } } }))
  const anonymous = await joined(h.client().channel(topic, { config: { presence: { key: '' } } }))
  expect(await named.track({ who: 'named' })).toBe('ok')
  expect(await anonymous.track({ who: 'anonymous' })).toBe('ok')
  await waitFor(() => Object.keys(observer.presenceState()).length === 2, 5_000, 'two presences')
  const state = observer.presenceState<{ who: string }>()
  expect(state['user:42']).toEqual([{ who: 'named', presence_ref: expect.any(String) }])
  const otherKey = Object.keys(state).find((key) => key !== 'user:42')!
  expect(otherKey).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  expect(state[otherKey]).toEqual([{ who: 'anonymous', presence_ref: expect.any(String) }])
})

test('two sockets tracking the same key give that key two metas', async () => {
  const topic = unique('shared-key')
  const observer = h.client().channel(topic)
  watch(observer)
  await joined(observer)
  const tab1 = await joined(h.client().channel(topic, { config: { presence: { key: 'ann' } } }))
  const tab2 = await joined(h.client().channel(topic, { config: { presence: { key: 'ann' } } }))
  expect(await tab1.track({ tab: 1 })).toBe('ok')
  expect(await tab2.track({ tab: 2 })).toBe('ok')
  await waitFor(() => observer.presenceState().ann?.length === 2, 5_000, 'two metas')
  expect(observer.presenceState<{ tab: number }>().ann!.map((m) => m.tab).sort()).toEqual([1, 2])
})

test('re-tracking updates the meta (one meta, new payload) and an identical track changes nothing', async () => {
  const topic = unique('retrack')
  const observer = h.client().channel(topic)
  const seen = watch(observer)
  await joined(observer)
  const ann = await joined(h.client().channel(topic, { config: { presence: { key: 'ann' } } }))

  expect(await ann.track({ status: 'online' })).toBe('ok')
  await waitFor(() => seen.joins.length === 1, 5_000, 'first join')
  const firstRef = observer.presenceState().ann![0]!.presence_ref
  expect(await ann.track({ status: 'away' })).toBe('ok')
  await waitFor(() => seen.leaves.length === 1, 5_000, 'update (join + leave)')
  expect(seen.joins.map((j) => j.newPresences.map((p) => p.status))).toEqual([['online'], ['away']])
  expect(seen.leaves[0]!.leftPresences.map((p) => p.status)).toEqual(['online'])
  const state = observer.presenceState<{ status: string }>()
  expect(state.ann).toHaveLength(1)
  expect(state.ann![0]).toEqual({ status: 'away', presence_ref: expect.any(String) })
  expect(state.ann![0]!.presence_ref).not.toBe(firstRef)

  const syncsBefore = seen.syncs
  expect(await ann.track({ status: 'away' })).toBe('ok')
  expect(await ann.track({ status: 'back' })).toBe('ok')
  await waitFor(() => seen.joins.length === 3, 5_000, 'second update')
  // The identical track produced no diff: exactly one more join (for "back").
  expect(seen.joins.map((j) => j.newPresences[0]!.status)).toEqual(['online', 'away', 'back'])
  expect(seen.syncs).toBeGreaterThan(syncsBefore)
})

test('wire shapes: presence_state with the join_ref, presence_diff fanned out with null refs', async () => {
  const topic = `realtime:${unique('wire')}`
  const raw = await RawSocket.connect(h.server.url, h.server.anonKey)
  const tracker = await RawSocket.connect(h.server.url, h.server.anonKey, { vsn: '1.0.0' })
  try {
    const joinedTracker = await tracker.join(topic, joinPayload({ presence: { key: 'ann', enabled: true } }))
    expect(joinedTracker.reply.payload.status).toBe('ok')
    const trackRef = tracker.push(topic, 'presence', { type: 'presence', event: 'TRACK', payload: { user: 'ann' } }, { joinRef: joinedTracker.joinRef })
    expect((await tracker.reply(trackRef)).payload).toEqual({ status: 'ok', response: {} })

    const { joinRef, reply } = await raw.join(topic, joinPayload({ presence: { key: 'bob', enabled: true } }))
    expect(reply.payload).toEqual({ status: 'ok', response: { postgres_changes: [] } })
    const state = await raw.next((f) => f.event === 'presence_state')
    expect(state.joinRef).toBe(joinRef)
    expect(state.ref).toBeNull()
    expect(state.payload).toEqual({ ann: { metas: [{ phx_ref: expect.any(String), user: 'ann' }] } })
    // The state push comes after the join reply.
    expect(raw.frames.indexOf(reply)).toBeLessThan(raw.frames.indexOf(state))

    const untrackRef = tracker.push(topic, 'presence', { type: 'presence', event: 'untrack' }, { joinRef: joinedTracker.joinRef })
    expect((await tracker.reply(untrackRef)).payload.status).toBe('ok')
    const diff = await raw.next((f) => f.event === 'presence_diff')
    expect(diff).toMatchObject({ joinRef: null, ref: null, topic })
    expect(diff.payload).toEqual({ joins: {}, leaves: { ann: { metas: [{ phx_ref: state.payload.ann.metas[0].phx_ref, user: 'ann' }] } } })

    const badRef = tracker.push(topic, 'presence', { type: 'presence', event: 'track', payload: 'not a map' }, { joinRef: joinedTracker.joinRef })
    expect((await tracker.reply(badRef)).payload).toEqual({ status: 'error', response: { reason: 'Presence track payload must be a map' } })
  } finally {
    raw.close()
    tracker.close()
  }
})
