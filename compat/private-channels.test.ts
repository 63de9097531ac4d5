/**
 * Private channels (supabase-protocol.md §3.4, §4.2): RLS policies on realtime.messages using
 * `realtime.topic()` and `extension` decide join (read), send and track (write), separately
 * for broadcast and presence; service_role bypasses them.
 *
 * Who may do what on topics `lobby-*` (policies below, keyed on the JWT `sub`):
 *
 *   sub     broadcast read  broadcast write  presence read  presence write
 *   alice   yes             yes              yes            yes
 *   carol   yes             -                -              -
 *   dave    yes             -                -              -
 *   erin    -               -                yes            yes
 *   frank   -               -                yes            -
 *   bob     -               -                -              -
 */
import type { RealtimeChannel, SupabaseClient } from '@supabase/supabase-js'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startHarness, subscribe, waitFor, type Harness } from './support/harness.js'
import { clientWithToken } from './support/checks.js'

let h: Harness
beforeAll(async () => {
  h = await startHarness()
  await h.server.sql.unsafe(`
    create policy "lobby broadcast read" on realtime.messages for select to authenticated
      using (realtime.topic() like 'lobby-%' and extension = 'broadcast' and auth.jwt() ->> 'sub' in ('alice', 'carol', 'dave'));
    create policy "lobby broadcast write" on realtime.messages for insert to authenticated
      with check (realtime.topic() like 'lobby-%' and extension = 'broadcast' and auth.jwt() ->> 'sub' = 'alice');
    create policy "lobby presence read" on realtime.messages for select to authenticated
      using (realtime.topic() like 'lobby-%' and extension = 'presence' and auth.jwt() ->> 'sub' in ('alice', 'erin', 'frank'));
    create policy "lobby presence write" on realtime.messages for insert to authenticated
      with check (realtime.topic() like 'lobby-%' and extension = 'presence' and auth.jwt() ->> 'sub' in ('alice', 'erin'));
  `).simple()
})
afterAll(async () => {
  await h?.close()
})

const lobby = () => `lobby-${Math.random().toString(36).slice(2, 8)}`
const tokenFor = (sub: string) => h.token({ role: 'authenticated', sub })

/** An official client acting as `sub` (its JWT is both the apikey and the join access_token). */
async function as(sub: string): Promise<SupabaseClient> {
  return h.client({ key: await tokenFor(sub) })
}

function privateChannel(client: SupabaseClient, topic: string, config: { presenceKey?: string; ack?: boolean } = {}): RealtimeChannel {
  return client.channel(topic, {
    config: { private: true, broadcast: { ack: config.ack ?? true }, presence: { key: config.presenceKey ?? '', enabled: config.presenceKey !== undefined } },
  })
}

function collect(channel: RealtimeChannel): string[] {
  const got: string[] = []
  channel.on('broadcast', { event: '*' }, ({ event }) => got.push(event))
  return got
}

async function joined(channel: RealtimeChannel): Promise<RealtimeChannel> {
  const { status, error } = await subscribe(channel)
  expect(status, error?.message).toBe('SUBSCRIBED')
  return channel
}

async function refused(client: SupabaseClient, channel: RealtimeChannel, topic: string): Promise<void> {
  const { status, error } = await subscribe(channel)
  expect(status).toBe('CHANNEL_ERROR')
  expect(error?.message).toBe(`Unauthorized: You do not have permissions to read from this Channel topic: ${topic}`)
  await client.removeChannel(channel) // stops the client's rejoin loop
}

test('join: allowed with a read policy, refused without one', async () => {
  const topic = lobby()
  await joined(privateChannel(await as('alice'), topic))
  await joined(privateChannel(await as('carol'), topic))
  const bob = await as('bob')
  await refused(bob, privateChannel(bob, topic), topic)
  // Same user, topic outside the policies.
  const alice = await as('alice')
  await refused(alice, privateChannel(alice, `other-${topic}`), `other-${topic}`)
  // anon has no policies at all.
  const anon = h.client()
  await refused(anon, privateChannel(anon, topic), topic)
})

test('send: delivered with a write policy; refused (not delivered, not acked ok) without one', async () => {
  const topic = lobby()
  const alice = await joined(privateChannel(await as('alice'), topic))
  const carol = await joined(privateChannel(await as('carol'), topic))
  const dave = privateChannel(await as('dave'), topic)
  const gotDave = collect(dave)
  await joined(dave)

  expect(await alice.send({ type: 'broadcast', event: 'from-alice', payload: {} })).toBe('ok')
  // Supabase drops it silently (an acking sender times out); Switchboard may reply an error.
  // Either way the send must not succeed. A short timeout keeps the test quick.
  expect(await carol.send({ type: 'broadcast', event: 'from-carol', payload: {} }, { timeout: 1_500 })).not.toBe('ok')
  expect(await alice.send({ type: 'broadcast', event: 'alice-end', payload: {} })).toBe('ok')
  await waitFor(() => gotDave.includes('alice-end'), 5_000, 'alice-end')
  expect(gotDave).toEqual(['from-alice', 'alice-end'])
})

test('REST: private messages need the write policy (batch skips, single event 403)', async () => {
  const topic = lobby()
  const dave = privateChannel(await as('dave'), topic)
  const got = collect(dave)
  await joined(dave)
  const post = async (sub: string, path: string, body: unknown) =>
    fetch(`${h.server.url}/realtime/v1/api${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenFor(sub)}` },
      body: JSON.stringify(body),
    })

  expect((await post('carol', '/broadcast', { messages: [{ topic, event: 'carol-batch', payload: {}, private: true }] })).status).toBe(202)
  const single = await post('carol', `/broadcast/${topic}/events/carol-single?private=true`, {})
  expect(single.status).toBe(403)
  expect((await post('alice', '/broadcast', { messages: [{ topic, event: 'alice-batch', payload: {}, private: true }] })).status).toBe(202)
  expect((await post('alice', `/broadcast/${topic}/events/alice-single?private=true`, {})).status).toBe(202)
  await waitFor(() => got.length === 2, 5_000, 'alice REST broadcasts')
  expect(got).toEqual(['alice-batch', 'alice-single'])
})

test('presence read and write are authorized separately from broadcast', async () => {
  const topic = lobby()
  const alice = await joined(privateChannel(await as('alice'), topic, { presenceKey: 'alice' }))
  const dave = privateChannel(await as('dave'), topic, { presenceKey: 'dave' }) // broadcast only
  const erin = privateChannel(await as('erin'), topic, { presenceKey: 'erin' }) // presence only
  const frank = privateChannel(await as('frank'), topic, { presenceKey: 'frank' }) // presence read only
  const gotErin = collect(erin)
  for (const channel of [dave, erin, frank]) channel.on('presence', { event: 'sync' }, () => {})
  await joined(dave)
  await joined(erin) // presence-read alone is enough to join
  await joined(frank)

  expect(await alice.track({ status: 'here' })).toBe('ok')
  expect(await erin.track({ status: 'erin here' })).toBe('ok')
  expect(await frank.track({ status: 'frank here' })).toBe('error')
  expect(await dave.track({ status: 'dave here' })).toBe('error')
  expect(await alice.send({ type: 'broadcast', event: 'not-for-erin', payload: {} })).toBe('ok')
  expect(await alice.track({ status: 'still here' })).toBe('ok')

  const statusOf = (channel: RealtimeChannel, key: string) => (channel.presenceState()[key]?.[0] as { status?: string } | undefined)?.status
  await waitFor(() => statusOf(erin, 'alice') === 'still here' && statusOf(frank, 'alice') === 'still here', 5_000, 'presence at erin and frank')
  expect(Object.keys(erin.presenceState()).sort()).toEqual(['alice', 'erin'])
  expect(Object.keys(frank.presenceState()).sort()).toEqual(['alice', 'erin'])
  await waitFor(() => statusOf(alice, 'erin') === 'erin here', 5_000, 'erin at alice')
  // dave may not read presence: no presence_state, no diffs.
  expect(dave.presenceState()).toEqual({})
  // erin may not read broadcasts.
  expect(gotErin).toEqual([])
})

test('service_role bypasses the policies', async () => {
  const topic = `secret-${Math.random().toString(36).slice(2, 8)}` // no policy matches
  const service = h.client({ key: h.server.serviceRoleKey })
  const a = service.channel(topic, { config: { private: true, broadcast: { ack: true, self: true }, presence: { key: 'svc' } } })
  const got = collect(a)
  a.on('presence', { event: 'sync' }, () => {})
  await joined(a)
  expect(await a.send({ type: 'broadcast', event: 'svc', payload: {} })).toBe('ok')
  expect(await a.track({ role: 'service' })).toBe('ok')
  await waitFor(() => got.includes('svc') && 'svc' in a.presenceState(), 5_000, 'service echo and presence')
  const alice = await as('alice')
  await refused(alice, privateChannel(alice, topic), topic)
})

test('a token refresh that loses read permission shuts the channel', async () => {
  const topic = lobby()
  let token = await tokenFor('carol')
  const client = await clientWithToken(h, () => token)
  const channel = privateChannel(client, topic)
  const system: { status: string; message: string }[] = []
  channel.on('system', {}, (payload: { status: string; message: string }) => system.push(payload))
  await joined(channel)
  token = await tokenFor('bob')
  await client.realtime.setAuth(token)
  await waitFor(() => system.length > 0 && channel.state === 'closed', 5_000, 'permission-loss shutdown')
  expect(system[0]).toMatchObject({ status: 'error', message: `You no longer have permission to read from this Channel topic: ${topic}` })
})
