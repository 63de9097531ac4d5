/**
 * Many tenants on one server, through the official supabase-js: two tenants on two real
 * databases with different secrets, chosen by Host (`acme.localhost`), `x-tenant-id` or
 * `?tenant=`. Isolation of broadcast, presence, private channels and Postgres Changes; keys of
 * one tenant refused on another; unknown and suspended tenants refused before the upgrade;
 * secret rotation; limits per tenant, changed live; a tenant removed while clients are joined;
 * a restart with the control database intact; a tenant stopped when idle and resumed like a
 * restart.
 */
import type { RealtimeChannel, SupabaseClient } from '@supabase/supabase-js'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { signToken, tenantSlotName } from '@switchboard/server'
import { createTestDatabase } from '../test-support/database.js'
import { subscribe, waitFor } from './support/harness.js'
import { listen } from './support/pg-changes.js'
import { joinPayload, RawSocket, userBroadcastPush, type Frame } from './support/raw-socket.js'
import { ADMIN_KEY, startTenantsHarness, upgradeAnswer, type TenantsHarness, type TestTenant } from './support/tenants.js'

const unique = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}`
const settle = (ms = 250) => new Promise((r) => setTimeout(r, ms))

const TENANT_SQL = `
  do $$ begin
    if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then create publication supabase_realtime; end if;
  end $$;
  create table items (id int primary key, label text);
  alter publication supabase_realtime add table items;
  grant select on items to anon, authenticated;
`

/** A channel with a broadcast listener; resolves once SUBSCRIBED. */
async function broadcastChannel(client: SupabaseClient, topic: string, config: Record<string, unknown> = {}): Promise<{ channel: RealtimeChannel; received: unknown[]; system: Record<string, unknown>[] }> {
  const received: unknown[] = []
  const system: Record<string, unknown>[] = []
  const channel = client.channel(topic, { config: { broadcast: { self: false, ack: true }, ...config } })
  channel.on('broadcast', { event: 'msg' }, ({ payload }) => void received.push(payload))
  channel.on('system', {}, (payload: Record<string, unknown>) => void system.push(payload))
  const { status, error } = await subscribe(channel)
  expect(status, error?.message).toBe('SUBSCRIBED')
  return { channel, received, system }
}

/** Starts a tenant (its first join migrates its database) and prepares its tables. */
async function prepare(h: TenantsHarness, tenant: TestTenant, extraSql = ''): Promise<void> {
  const socket = await RawSocket.connect(h.server.url, tenant.serviceRoleKey, { headers: h.headers(tenant.id, 'header') })
  const { reply } = await socket.join(`realtime:${unique('warm')}`)
  expect(reply.payload.status).toBe('ok')
  socket.close()
  await tenant.sql.unsafe(TENANT_SQL + extraSql).simple()
}

describe('two tenants on one server', () => {
  let h: TenantsHarness
  let acme: TestTenant
  let globex: TestTenant
  beforeAll(async () => {
    h = await startTenantsHarness({ tenants: { idleStopMs: 60_000 } })
    acme = await h.addTenant('acme')
    globex = await h.addTenant('globex')
    expect(acme.secret).not.toBe(globex.secret)
    // Private channels: acme's members may read and write `members`; globex has no policy at all.
    await prepare(h, acme, `
      create policy members_read on realtime.messages for select to authenticated using (realtime.topic() = 'members');
      create policy members_write on realtime.messages for insert to authenticated with check (realtime.topic() = 'members');
    `)
    await prepare(h, globex)
  }, 60_000)
  afterAll(async () => {
    await h?.close()
  })

  test('broadcasts stay in their tenant, whether the tenant is named by Host, x-tenant-id or ?tenant=', async () => {
    const topic = unique('room') // the same topic name in both tenants
    const byHost = await broadcastChannel(h.client('acme', { key: acme.anonKey, via: 'host' }), topic)
    const byHeader = await broadcastChannel(h.client('acme', { key: acme.anonKey, via: 'header' }), topic)
    const byQuery = await broadcastChannel(h.client('acme', { key: acme.anonKey, via: 'query' }), topic)
    const other = await broadcastChannel(h.client('globex', { key: globex.anonKey, via: 'host' }), topic)

    expect(await byHost.channel.send({ type: 'broadcast', event: 'msg', payload: { from: 'acme' } })).toBe('ok')
    expect(await other.channel.send({ type: 'broadcast', event: 'msg', payload: { from: 'globex' } })).toBe('ok')
    // REST broadcast names its tenant the same way.
    const rest = await fetch(`${h.server.url}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', apikey: globex.serviceRoleKey, 'x-tenant-id': 'globex' },
      body: JSON.stringify({ messages: [{ topic, event: 'msg', payload: { from: 'globex-rest' } }] }),
    })
    expect(rest.status).toBe(202)

    await waitFor(() => byHeader.received.length >= 1 && byQuery.received.length >= 1 && other.received.length >= 1, 5_000, 'deliveries')
    await settle()
    expect(byHeader.received).toEqual([{ from: 'acme' }])
    expect(byQuery.received).toEqual([{ from: 'acme' }])
    expect(byHost.received).toEqual([])
    expect(other.received).toEqual([{ from: 'globex-rest' }])
  })

  test('presence stays in its tenant', async () => {
    const topic = unique('lobby')
    const alice = h.client('acme', { key: acme.anonKey }).channel(topic, { config: { presence: { key: 'alice' } } })
    const gus = h.client('globex', { key: globex.anonKey, via: 'header' }).channel(topic, { config: { presence: { key: 'gus' } } })
    const watcher = h.client('acme', { key: acme.anonKey, via: 'header' }).channel(topic, { config: { presence: { key: 'watcher' } } })
    for (const channel of [alice, gus, watcher]) {
      channel.on('presence', { event: 'sync' }, () => {})
      expect((await subscribe(channel)).status).toBe('SUBSCRIBED')
    }
    expect(await alice.track({ user: 'alice' })).toBe('ok')
    expect(await gus.track({ user: 'gus' })).toBe('ok')
    await waitFor(() => 'alice' in watcher.presenceState() && 'gus' in gus.presenceState(), 5_000, 'presence')
    await settle()
    expect(Object.keys(watcher.presenceState())).toEqual(['alice'])
    expect(Object.keys(gus.presenceState())).toEqual(['gus'])
  })

  test("private channels are authorized by each tenant's own policies, and their messages stay in the tenant", async () => {
    const acmeUser = await acme.token({ role: 'authenticated', sub: 'ann' })
    const globexUser = await globex.token({ role: 'authenticated', sub: 'gil' })
    const ann = h.client('acme', { key: acmeUser })
    const bob = h.client('acme', { key: await acme.token({ role: 'authenticated', sub: 'bob' }) })
    const annChannel = await broadcastChannel(ann, 'members', { private: true })
    const bobChannel = await broadcastChannel(bob, 'members', { private: true })
    // Same topic on globex, whose database has no policy: refused for its users…
    const gil = h.client('globex', { key: globexUser }).channel('members', { config: { private: true } })
    const refused = await subscribe(gil)
    expect(refused.status).toBe('CHANNEL_ERROR')
    expect(refused.error?.message).toContain('Unauthorized: You do not have permissions to read from this Channel topic: members')
    await h.client('globex', { key: globexUser }).removeAllChannels()
    // …and joined by its service role, which must not hear acme's members.
    const globexAdmin = await broadcastChannel(h.client('globex', { key: globex.serviceRoleKey }), 'members', { private: true })
    expect(await annChannel.channel.send({ type: 'broadcast', event: 'msg', payload: { secret: 'acme only' } })).toBe('ok')
    await waitFor(() => bobChannel.received.length === 1, 5_000, 'private delivery')
    await settle()
    expect(bobChannel.received).toEqual([{ secret: 'acme only' }])
    expect(globexAdmin.received).toEqual([])
  })

  test('Postgres Changes come from each tenant’s own database only', async () => {
    const acmeChanges = await listen(h.client('acme', { key: acme.serviceRoleKey }), [{ event: 'INSERT', table: 'items' }])
    const globexChanges = await listen(h.client('globex', { key: globex.serviceRoleKey, via: 'header' }), [{ event: 'INSERT', table: 'items' }])
    await acme.sql`insert into items values (1, 'acme row')`
    await globex.sql`insert into items values (2, 'globex row')`
    await waitFor(() => acmeChanges.changes.length >= 1 && globexChanges.changes.length >= 1, 10_000, 'changes')
    await acme.sql`insert into items values (3, 'acme again')`
    await waitFor(() => acmeChanges.changes.length >= 2, 10_000, 'second acme change')
    await settle()
    expect(acmeChanges.changes.map((c) => c.new)).toEqual([{ id: 1, label: 'acme row' }, { id: 3, label: 'acme again' }])
    expect(globexChanges.changes.map((c) => c.new)).toEqual([{ id: 2, label: 'globex row' }])
  })

  test("a token of one tenant is refused on another, before the upgrade and at join, even for the same topic", async () => {
    expect(await upgradeAnswer(h.server.url, acme.anonKey, h.headers('globex'))).toEqual({ status: 401, body: { error: 'Failed to validate JWT signature' } })
    expect(await upgradeAnswer(h.server.url, acme.anonKey, h.headers('acme'))).toEqual({ status: 101, body: null })
    // The default tenant's key is not a key of acme either.
    expect(await upgradeAnswer(h.server.url, h.server.anonKey, h.headers('acme', 'header'))).toMatchObject({ status: 401 })
    // Connected to globex with globex's key, joining with acme's user token: refused.
    const client = h.client('globex', { key: globex.anonKey })
    await client.realtime.setAuth(await acme.token({ role: 'authenticated', sub: 'ann' }))
    const result = await subscribe(client.channel('members'))
    expect(result.status).toBe('CHANNEL_ERROR')
    expect(result.error?.message).toContain('JwtSignatureError: Failed to validate JWT signature')
    await client.removeAllChannels()
    // REST too.
    const rest = await fetch(`${h.server.url}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${acme.serviceRoleKey}`, 'x-tenant-id': 'globex' },
      body: JSON.stringify({ messages: [{ topic: 'x', event: 'msg', payload: {} }] }),
    })
    expect(rest.status).toBe(401)
  })

  test('unknown and suspended tenants are refused before the upgrade, with Supabase’s errors', async () => {
    for (const headers of [{ host: `nobody.localhost:${h.server.port}` }, { 'x-tenant-id': 'nobody' }] as Record<string, string>[]) {
      expect(await upgradeAnswer(h.server.url, acme.anonKey, headers)).toEqual({ status: 404, body: { error: 'Tenant not found' } })
    }
    expect(await upgradeAnswer(h.server.url, acme.anonKey, {}, '&tenant=nobody')).toEqual({ status: 404, body: { error: 'Tenant not found' } })
    const restUnknown = await fetch(`${h.server.url}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', apikey: acme.anonKey, 'x-tenant-id': 'nobody' },
      body: JSON.stringify({ messages: [] }),
    })
    expect(restUnknown.status).toBe(401)
    expect(await restUnknown.json()).toEqual({ message: 'Tenant not found in database' })

    const paused = await h.addTenant('paused')
    const socket = await RawSocket.connect(h.server.url, paused.anonKey, { headers: h.headers('paused') })
    await socket.join('realtime:room')
    expect((await h.admin('PATCH', '/api/tenants/paused', { suspended: true })).status).toBe(200)
    // Its clients are told, as Supabase tells them, and disconnected.
    const told = await socket.next((f) => f.event === 'system')
    expect(told.payload).toEqual({ extension: 'system', status: 'ok', message: 'Server requested disconnect', channel: 'room' })
    expect((await socket.closed).code).toBe(1001)
    expect(await upgradeAnswer(h.server.url, paused.anonKey, h.headers('paused'))).toEqual({ status: 403, body: { error: 'Realtime was disabled for this tenant' } })
    const restSuspended = await fetch(`${h.server.url}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', apikey: paused.anonKey, 'x-tenant-id': 'paused' },
      body: JSON.stringify({ messages: [] }),
    })
    expect(restSuspended.status).toBe(403)
    expect((await h.admin('PATCH', '/api/tenants/paused', { suspended: false })).status).toBe(200)
    expect(await upgradeAnswer(h.server.url, paused.anonKey, h.headers('paused'))).toEqual({ status: 101, body: null })
  })

  test('secret rotation: clients on the old secret stay connected until its end, then their channels end', { timeout: 20_000 }, async () => {
    const rotor = await h.addTenant('rotor')
    const oldKey = rotor.anonKey
    const topic = unique('rot')
    const before = await broadcastChannel(h.client('rotor', { key: oldKey }), topic)
    const newSecret = 'the-new-secret-of-rotor-0123456789'
    const rotated = await h.admin('POST', '/api/tenants/rotor/rotate-secret', { jwt_secret: newSecret, old_secret_valid_for_seconds: 2 })
    expect(rotated.status).toBe(200)
    const until = Date.parse((rotated.body as { old_secret_valid_until: string }).old_secret_valid_until)
    expect(until).toBeGreaterThan(Date.now())
    const newKey = await signToken(newSecret, { role: 'anon' })

    // During the window: both secrets are accepted, and the old client keeps receiving.
    expect(await upgradeAnswer(h.server.url, oldKey, h.headers('rotor'))).toEqual({ status: 101, body: null })
    const after = await broadcastChannel(h.client('rotor', { key: newKey }), topic)
    expect(await after.channel.send({ type: 'broadcast', event: 'msg', payload: { n: 1 } })).toBe('ok')
    await waitFor(() => before.received.length === 1, 5_000, 'delivery to the old-secret client')

    // At the end: the old-secret channel ends as Supabase's token check ends it; the new one stays.
    await waitFor(() => before.system.some((s) => s.message === 'Failed to validate JWT signature'), until - Date.now() + 3_000, 'the old-secret channel to end')
    expect(Date.now()).toBeGreaterThanOrEqual(until - 50)
    await waitFor(() => before.channel.state === 'closed', 2_000, 'closed')
    expect(await upgradeAnswer(h.server.url, oldKey, h.headers('rotor'))).toEqual({ status: 401, body: { error: 'Failed to validate JWT signature' } })
    expect(await after.channel.send({ type: 'broadcast', event: 'msg', payload: { n: 2 } })).toBe('ok')
    expect(after.channel.state).toBe('joined')
  })

  test('limits apply per tenant, and a change applies to live connections', async () => {
    const tiny = await h.addTenant('tiny', { limits: { max_concurrent_users: 2, max_channels_per_client: 1 } })
    const first = await RawSocket.connect(h.server.url, tiny.anonKey, { headers: h.headers('tiny') })
    expect((await first.join('realtime:a')).reply.payload.status).toBe('ok')
    const second = await first.join('realtime:b')
    expect(second.reply.payload).toEqual({ status: 'error', response: { reason: 'ChannelRateLimitReached: Too many channels' } })
    const other = await RawSocket.connect(h.server.url, tiny.anonKey, { headers: h.headers('tiny') })
    expect(await upgradeAnswer(h.server.url, tiny.anonKey, h.headers('tiny'))).toEqual({ status: 429, body: { error: 'Too many connected users' } })
    // Globex has the server's limits: many channels, many sockets.
    const roomy = await RawSocket.connect(h.server.url, globex.anonKey, { headers: h.headers('globex') })
    for (const topic of ['realtime:a', 'realtime:b', 'realtime:c']) expect((await roomy.join(topic)).reply.payload.status).toBe('ok')

    // Raised while `first` is connected: its next join passes. Events/s lowered: its flood is cut.
    expect((await h.admin('PATCH', '/api/tenants/tiny', { limits: { max_channels_per_client: 3, max_events_per_second: 5 } })).status).toBe(200)
    const { joinRef, reply } = await first.join('realtime:b')
    expect(reply.payload.status).toBe('ok')
    for (let i = 0; i < 10; i++) first.sendBinary(userBroadcastPush(joinRef, first.makeRef(), 'realtime:b', 'msg', { i }))
    const shutdown = await first.next((f) => f.event === 'system' && f.topic === 'realtime:b')
    expect(shutdown.payload).toMatchObject({ status: 'error', message: 'Too many messages per second' })
    // …while globex floods the same way untouched.
    const roomyJoin = await roomy.join('realtime:d', joinPayload({ broadcast: { ack: true, self: false } }))
    for (let i = 0; i < 10; i++) roomy.sendBinary(userBroadcastPush(roomyJoin.joinRef, `f${i}`, 'realtime:d', 'msg', { i }))
    await roomy.reply('f9')
    expect(roomy.all((f) => f.event === 'system')).toEqual([])
    for (const s of [first, other, roomy]) s.close()
  })

  test('private_only refuses public channels of that tenant only, and applies to live sockets', async () => {
    const socket = await RawSocket.connect(h.server.url, acme.anonKey, { headers: h.headers('acme') })
    const other = await RawSocket.connect(h.server.url, globex.anonKey, { headers: h.headers('globex') })
    expect((await socket.join('realtime:open-before')).reply.payload.status).toBe('ok')
    expect((await h.admin('PATCH', '/api/tenants/acme', { private_only: true })).status).toBe(200)
    try {
      expect((await socket.join('realtime:open-after')).reply.payload).toEqual({ status: 'error', response: { reason: 'PrivateOnly: This project only allows private channels' } })
      expect((await socket.join('realtime:members', joinPayload({ private: true }, await acme.token({ role: 'authenticated', sub: 'ann' })))).reply.payload.status).toBe('ok')
      expect((await other.join('realtime:open-after')).reply.payload.status).toBe('ok')
    } finally {
      expect((await h.admin('PATCH', '/api/tenants/acme', { private_only: false })).status).toBe(200)
      socket.close()
      other.close()
    }
  })

  test('a tenant whose database does not answer is refused with 503, and served once it answers again', { timeout: 20_000 }, async () => {
    const flaky = await h.addTenant('flaky')
    await flaky.sql.end()
    const admin = postgres(h.control.url.replace(/\/[^/]+$/, '/postgres'), { max: 1, onnotice: () => {} })
    try {
      await admin.unsafe(`alter database "${flaky.database.name}" allow_connections false`)
      expect(await upgradeAnswer(h.server.url, flaky.anonKey, h.headers('flaky'))).toEqual({ status: 503, body: { error: 'Realtime was unable to connect to the project database' } })
      await admin.unsafe(`alter database "${flaky.database.name}" allow_connections true`)
      // A failed start is not retried for 2 s (a reconnect storm does not hammer a sick database).
      let answer = await upgradeAnswer(h.server.url, flaky.anonKey, h.headers('flaky'))
      const deadline = Date.now() + 5_000
      while (answer.status !== 101 && Date.now() < deadline) {
        await settle(200)
        answer = await upgradeAnswer(h.server.url, flaky.anonKey, h.headers('flaky'))
      }
      expect(answer).toEqual({ status: 101, body: null })
    } finally {
      await admin.unsafe(`alter database "${flaky.database.name}" allow_connections true`)
      await admin.end()
      flaky.sql = postgres(flaky.database.url, { max: 1, onnotice: () => {} })
    }
  })

  test('a tenant moved to another database: its clients reconnect to the new one, the old slot is dropped', { timeout: 20_000 }, async () => {
    const mover = await h.addTenant('mover')
    await prepare(h, mover)
    const socket = await RawSocket.connect(h.server.url, mover.serviceRoleKey, { headers: h.headers('mover') })
    await socket.join('realtime:room')
    const target = await createTestDatabase('t_mover_2')
    try {
      const setup = postgres(target.url, { max: 1, onnotice: () => {} })
      await setup.unsafe(TENANT_SQL).simple()
      expect((await h.admin('PATCH', '/api/tenants/mover', { database_url: target.url })).status).toBe(200)
      expect((await socket.closed).code).toBe(1001)
      expect(await mover.sql`select slot_name from pg_replication_slots where slot_name = ${tenantSlotName('mover', mover.database.url)}`).toEqual([])
      const listener = await listen(h.client('mover', { key: mover.serviceRoleKey }), [{ event: 'INSERT', table: 'items' }])
      await setup`insert into items values (7, 'on the new database')`
      await waitFor(() => listener.changes.length === 1, 10_000, 'change from the new database')
      expect(listener.changes[0]!.new).toEqual({ id: 7, label: 'on the new database' })
      await setup.end()
    } finally {
      await h.admin('DELETE', '/api/tenants/mover')
      await target.drop()
    }
  })

  test('a tenant removed while clients are joined: told, disconnected, refused after, its slot dropped', async () => {
    const doomed = await h.addTenant('doomed')
    await prepare(h, doomed)
    const listener = await listen(h.client('doomed', { key: doomed.serviceRoleKey }), [{ event: 'INSERT', table: 'items' }])
    const socket = await RawSocket.connect(h.server.url, doomed.anonKey, { headers: h.headers('doomed', 'header') })
    await socket.join('realtime:room', joinPayload({ presence: { key: 'd', enabled: true } }))
    expect((await doomed.sql`select slot_name from pg_replication_slots where slot_name = ${tenantSlotName('doomed', doomed.database.url)}`).length).toBe(1)

    const removed = await h.admin('DELETE', '/api/tenants/doomed')
    expect(removed.status).toBe(204)
    // DELETE returns once this node's sockets were told and closed.
    expect(socket.all((f) => f.event === 'system').map((f: Frame) => f.payload)).toEqual([{ extension: 'system', status: 'ok', message: 'Server requested disconnect', channel: 'room' }])
    expect((await socket.closed).code).toBe(1001)
    await waitFor(() => listener.channel.state !== 'joined', 5_000, 'official client channel to leave joined')
    expect(await upgradeAnswer(h.server.url, doomed.serviceRoleKey, h.headers('doomed'))).toEqual({ status: 404, body: { error: 'Tenant not found' } })
    expect((await h.admin('GET', '/api/tenants/doomed')).status).toBe(404)
    // The replication slot would keep the database's WAL forever: it is gone.
    expect(await doomed.sql`select slot_name from pg_replication_slots where slot_name = ${tenantSlotName('doomed', doomed.database.url)}`).toEqual([])
  })

  test('a restart with the control database intact serves the same tenants', { timeout: 30_000 }, async () => {
    await h.restartServer()
    const listed = await h.admin('GET', '/api/tenants')
    expect((listed.body as { external_id: string }[]).map((t) => t.external_id)).toEqual(expect.arrayContaining(['acme', 'globex']))
    const topic = unique('after-restart')
    const receiver = await broadcastChannel(h.client('acme', { key: acme.anonKey, via: 'header' }), topic)
    const sender = await broadcastChannel(h.client('acme', { key: acme.anonKey }), topic)
    expect(await sender.channel.send({ type: 'broadcast', event: 'msg', payload: { after: 'restart' } })).toBe('ok')
    await waitFor(() => receiver.received.length === 1, 5_000, 'delivery after restart')
    const changes = await listen(h.client('globex', { key: globex.serviceRoleKey }), [{ event: 'INSERT', table: 'items' }])
    await globex.sql`insert into items values (20, 'after restart')`
    await waitFor(() => changes.changes.length === 1, 10_000, 'change after restart')
    expect(changes.changes[0]!.new).toEqual({ id: 20, label: 'after restart' })
    // Keys of acme are still refused on globex: the secrets came back decrypted, each to its tenant.
    expect(await upgradeAnswer(h.server.url, acme.anonKey, h.headers('globex'))).toMatchObject({ status: 401 })
  })
})

describe('an idle tenant', () => {
  let h: TenantsHarness
  beforeAll(async () => {
    h = await startTenantsHarness({ tenants: { idleStopMs: 400 } })
  })
  afterAll(async () => {
    await h?.close()
  })

  const isStatus = (f: Frame) => f.event === 'system' && (f.payload as { extension?: string }).extension === 'switchboard'
  const isChange = (f: Frame) => f.event === 'postgres_changes'
  const markOf = (f: Frame) => (f.payload as { switchboard: { position: number; lsn: string } }).switchboard

  test('stops its pool and stream when idle; a client that missed changes meanwhile resumes as after a restart', { timeout: 30_000 }, async () => {
    const sleepy = await h.addTenant('sleepy')
    await prepare(h, sleepy)
    const slot = await h.server.registry.slot('sleepy')
    const config = { postgres_changes: [{ event: '*', schema: 'public', table: 'items' }] }
    const socket = await RawSocket.connect(h.server.url, sleepy.serviceRoleKey, { headers: h.headers('sleepy') })
    await socket.join('realtime:feed', { ...joinPayload(config), switchboard: { session: 's', resume: null } })
    const { epoch } = (await socket.next(isStatus)).payload as { epoch: string }
    await sleepy.sql`insert into items values (1, 'seen')`
    const seen = markOf(await socket.next(isChange))
    socket.close()

    // No socket, no request: the tenant stops (pool, replication connection), its slot stays.
    await waitFor(() => slot?.state === 'idle', 5_000, 'the tenant to stop')
    expect(await sleepy.sql`select active from pg_replication_slots where slot_name = ${tenantSlotName('sleepy', sleepy.database.url)}`).toEqual([{ active: false }])
    await sleepy.sql`insert into items values (2, 'while stopped')`

    // The next client starts it again; a resume from the previous run is served from the slot.
    const again = await RawSocket.connect(h.server.url, sleepy.serviceRoleKey, { headers: h.headers('sleepy') })
    expect(slot?.state).toBe('running')
    await again.join('realtime:feed', { ...joinPayload(config), switchboard: { session: 's', resume: { epoch, position: seen.position, lsn: seen.lsn } } })
    const status = await again.next(isStatus, 15_000)
    expect(status.payload).toMatchObject({ code: 'Resumed', replayed: 1 })
    expect(again.all(isChange).map((f) => (f.payload as { data: { record: unknown } }).data.record)).toEqual([{ id: 2, label: 'while stopped' }])
    await sleepy.sql`insert into items values (3, 'live')`
    await again.next((f) => isChange(f) && (f.payload as { data: { record: { id: number } } }).data.record.id === 3)
    again.close()
  })

  test('the admin API is not reachable with a tenant key, and the default tenant still answers without a tenant name', async () => {
    const t = await h.addTenant('keyholder')
    expect((await h.admin('GET', '/api/tenants', undefined, t.serviceRoleKey)).status).toBe(401)
    expect((await h.admin('GET', '/api/tenants', undefined, ADMIN_KEY)).status).toBe(200)
    expect(await upgradeAnswer(h.server.url, h.server.anonKey, {})).toEqual({ status: 101, body: null })
  })
})
