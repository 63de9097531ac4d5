/**
 * The inspector's JSON API on a real server (port 0, a real Postgres): who may read it, and the
 * delivery verdicts of `GET /api/inspect/trace` for each way a message can fail to reach someone:
 * delivered (with latency), sender excluded, filtered out (event and filter condition), not
 * authorized by RLS (role + the claims the policy reads, never the token), refused for the rate
 * limit, dropped as a slow consumer, replayed after a resume, covered by a gap. Clients are the
 * official supabase-js and raw protocol sockets (compat/support).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startHarness, subscribe, waitFor, type Harness } from '../../../../compat/support/harness.js'
import { listen } from '../../../../compat/support/pg-changes.js'
import { joinPayload, RawSocket, userBroadcastPush, type Frame } from '../../../../compat/support/raw-socket.js'
import { inspectClient, type Json } from './inspect-client.js'

const ADMIN_KEY = 'inspector-admin-key-for-tests'
let h: Harness
let admin: ReturnType<typeof inspectClient>

beforeAll(async () => {
  h = await startHarness({
    adminKey: ADMIN_KEY,
    replay: { maxMessages: 20 },
    limits: { maxEventsPerSecond: 200, maxBufferedBytesPerSocket: 256 * 1024 },
  })
  admin = inspectClient(h.server.url, ADMIN_KEY)
  await h.sql.unsafe(`
    create table calls (id bigint primary key, tenant_id text not null, status text not null);
    alter table calls enable row level security;
    create policy "own tenant" on calls for select to authenticated using (tenant_id = (auth.jwt() ->> 'tenant_id'));
    grant select on calls to authenticated;
    alter publication supabase_realtime add table calls;
  `)
  const on = await admin.post('/api/inspect/tenants/default/tracing', { minutes: 10 })
  expect(on.status).toBe(200)
  expect(on.body.on).toBe(true)
})

afterAll(async () => {
  await h?.close()
})

/** Resolves with `probe`'s first truthy answer, trying every 50 ms. */
async function eventually<T>(probe: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * The newest traced message of a topic key (`public:room`) matching `accept`. Broadcasts are
 * traced when the hub delivers them: the first of a topic waits for its topic mark (a database
 * write), so this waits for it.
 */
async function newest(filter: string, accept: (message: Json) => boolean = () => true): Promise<Json> {
  return eventually(async () => {
    const { body } = await admin.get(`/api/inspect/tenants/default/messages?${filter}&limit=500`)
    return (body.messages as Json[]).find(accept)
  }, `a traced message (${filter})`)
}

async function traceOf(query: string): Promise<Json> {
  const { status, body } = await admin.get(`/api/inspect/trace?${query}`)
  expect(status).toBe(200)
  expect(body.traces.length).toBeGreaterThan(0)
  return body.traces[0]
}

const verdictsOf = (trace: Json, kind: string): Json[] => trace.verdicts.filter((v: Json) => v.verdict === kind)

async function rawJoin(topic: string, config: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const socket = await RawSocket.connect(h.server.url, h.server.serviceRoleKey)
  const { joinRef, reply } = await socket.join(`realtime:${topic}`, { ...joinPayload(config), ...extra })
  expect((reply.payload as { status: string }).status).toBe('ok')
  return { socket, joinRef }
}

describe('who may read the inspector', () => {
  test('the admin key sees every tenant; a service_role key only its own; anything else nothing', async () => {
    const session = await admin.get('/api/inspect/session')
    expect(session).toEqual({ status: 200, body: { scope: 'admin', tenants: ['default'] } })

    const service = inspectClient(h.server.url, h.server.serviceRoleKey)
    expect((await service.get('/api/inspect/session')).body).toEqual({ scope: 'tenant', tenants: ['default'] })
    expect((await service.get('/api/inspect/tenants/default/overview')).status).toBe(200)
    expect((await service.get('/api/inspect/tenants/elsewhere/overview')).status).toBe(404)
    expect((await service.get('/api/inspect/session?tenant=elsewhere')).status).toBe(401)

    for (const key of [null, 'wrong-key-wrong-key-wrong', h.server.anonKey, await h.token({ role: 'authenticated', sub: 'u1' })]) {
      const client = inspectClient(h.server.url, key)
      for (const path of ['/api/inspect/session', '/api/inspect/tenants', '/api/inspect/tenants/default/channels', '/api/inspect/trace?position=1']) {
        const response = await client.get(path)
        expect(response.status, `${path} with ${key?.slice(0, 12)}`).toBe(401)
        expect(Object.keys(response.body)).toEqual(['error'])
      }
      expect((await client.post('/api/inspect/tenants/default/broadcast', { topic: 'x', event: 'e' })).status).toBe(401)
      expect((await client.streamEvent('tenant=default', 'hello')).status).toBe(401)
    }
  })
})

describe('broadcast verdicts', () => {
  test('delivered with a latency to the receiver; the sender with self off is excluded', async () => {
    const receiver = await rawJoin('room-deliver')
    const sender = await rawJoin('room-deliver', { broadcast: { self: false, ack: false } })
    sender.socket.sendBinary(userBroadcastPush(sender.joinRef, sender.socket.makeRef(), 'realtime:room-deliver', 'hello', { n: 1, access_token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig' }))
    await receiver.socket.next((f: Frame) => f.event === 'broadcast')

    const message = await newest('topic=public:room-deliver')
    expect(message).toMatchObject({ kind: 'broadcast', topic: 'public:room-deliver', event: 'hello', recipients: 2, exceptions: 1 })
    expect(message.preview).toContain('"n":1')
    expect(message.preview).not.toContain('eyJ') // a token in a payload never reaches the trace
    const trace = await traceOf(`id=${message.id}`)
    expect(trace.summary).toEqual({ delivered: 1, excluded_sender: 1 })
    const [delivered] = verdictsOf(trace, 'delivered')
    expect(delivered.latencyMs).toBeGreaterThanOrEqual(0)
    expect(delivered.subscriber).toMatchObject({ topic: 'room-deliver', role: 'service_role', connection: expect.any(Number) })
    // The same trace by log position.
    expect((await traceOf(`position=${message.position}`)).id).toBe(message.id)
    receiver.socket.close()
    sender.socket.close()
  })

  test('a private channel: a subscriber without broadcast read is not authorized; its own send is refused', async () => {
    await h.sql.unsafe(`
      create policy "room readers" on realtime.messages for select to authenticated
        using (realtime.topic() = 'secret-room' and (extension = 'presence' or (auth.jwt() ->> 'sub') = 'writer'));
      create policy "room writer" on realtime.messages for insert to authenticated
        with check (realtime.topic() = 'secret-room' and (auth.jwt() ->> 'sub') = 'writer');
    `)
    const join = async (sub: string) => {
      const token = await h.token({ role: 'authenticated', sub })
      const config = { private: true, presence: { key: sub, enabled: true }, broadcast: { self: false, ack: true } }
      return rawJoin('secret-room', config, { access_token: token })
    }
    const writer = await join('writer')
    const viewer = await join('viewer')
    const ref = writer.socket.makeRef()
    writer.socket.sendBinary(userBroadcastPush(writer.joinRef, ref, 'realtime:secret-room', 'memo', { text: 'for writers only' }))
    await writer.socket.reply(ref)
    const message = await newest('topic=private:secret-room')
    const trace = await traceOf(`id=${message.id}`)
    expect(trace.summary).toEqual({ not_authorized: 1, excluded_sender: 1 })
    const [denied] = verdictsOf(trace, 'not_authorized')
    expect(denied.subscriber).toMatchObject({ user: 'viewer', private: true })
    expect(denied.policy).toMatchObject({ check: 'realtime.messages (broadcast read)', role: 'authenticated', policies: [{ name: 'room readers' }] })

    const viewerRef = viewer.socket.makeRef()
    viewer.socket.sendBinary(userBroadcastPush(viewer.joinRef, viewerRef, 'realtime:secret-room', 'memo', { text: 'let me in' }))
    await viewer.socket.reply(viewerRef)
    const refused = await newest('topic=private:secret-room', (m) => m.kind === 'refused')
    const refusal = await traceOf(`id=${refused.id}`)
    expect(refusal.verdicts).toEqual([expect.objectContaining({ verdict: 'not_authorized', detail: expect.stringContaining('no write permission'), subscriber: expect.objectContaining({ user: 'viewer' }) })])
    writer.socket.close()
    viewer.socket.close()
  })

  test('a sender over the events/s limit: its message is refused as rate-limited', async () => {
    const listener = await rawJoin('room-flood')
    const flooder = await rawJoin('room-flood')
    for (let i = 0; i < 300; i++) flooder.socket.sendBinary(userBroadcastPush(flooder.joinRef, flooder.socket.makeRef(), 'realtime:room-flood', 'flood', { i }))
    await flooder.socket.next((f: Frame) => f.event === 'system' && /Too many messages/.test(f.payload.message))

    const refused = await newest('topic=public:room-flood', (m) => m.kind === 'refused')
    expect(refused).toMatchObject({ event: 'flood', refused: 'rate_limited' })
    const trace = await traceOf(`id=${refused.id}`)
    expect(trace.verdicts).toEqual([expect.objectContaining({ verdict: 'rate_limited', detail: expect.stringContaining('200 client events per second') })])
    expect(trace.verdicts[0].subscriber.topic).toBe('room-flood')
    listener.socket.close()
    flooder.socket.close()
  })

  test('a receiver that stops reading: dropped as a slow consumer', async () => {
    const slow = await rawJoin('room-slow')
    // Stop reading: the kernel buffers fill, then the server's outbound queue passes its bound.
    ;(slow.socket.ws as unknown as { _socket: { pause(): void } })._socket.pause()
    const sender = await rawJoin('room-slow', { broadcast: { self: false, ack: false } })
    // 150 × 64 KiB: more than the loopback buffers hold, within the events/s limit.
    const big = { blob: 'x'.repeat(64 * 1024) }
    const sent = 150
    for (let i = 0; i < sent; i++) sender.socket.sendBinary(userBroadcastPush(sender.joinRef, sender.socket.makeRef(), 'realtime:room-slow', 'big', { i, ...big }))
    await sender.socket.heartbeat(10_000)

    const last = await newest('topic=public:room-slow', (m) => m.preview.includes(`"i":${sent - 1}`))
    const trace = await traceOf(`id=${last.id}`)
    expect(trace.summary).toEqual({ slow_consumer: 1, excluded_sender: 1 })
    expect(verdictsOf(trace, 'slow_consumer')[0].detail).toContain('slow consumer')
    const metrics = await (await fetch(`${h.server.url}/metrics`)).text()
    expect(metrics).toMatch(/switchboard_errors_total\{[^}]*code="SlowConsumer"[^}]*\} [1-9]/)
    for (const s of [slow, sender]) s.socket.close()
  })

  test('resume: replayed from the log within the window, a gap past it', async () => {
    const topic = 'room-resume'
    const first = await rawJoin(topic, {}, { switchboard: { session: 's1', resume: null } })
    const fresh = await first.socket.next((f: Frame) => f.event === 'system' && f.payload.code === 'Fresh')
    const { epoch, position } = fresh.payload as { epoch: string; position: number }
    first.socket.close()

    const sender = await rawJoin(topic)
    sender.socket.sendBinary(userBroadcastPush(sender.joinRef, sender.socket.makeRef(), `realtime:${topic}`, 'missed', { n: 0 }))
    const missed = await newest(`topic=public:${topic}`)

    const back = await rawJoin(topic, {}, { switchboard: { session: 's1', resume: { epoch, position } } })
    await back.socket.next((f: Frame) => f.event === 'system' && f.payload.code === 'Resumed')
    const replayed = verdictsOf(await traceOf(`id=${missed.id}`), 'replayed')
    expect(replayed).toEqual([expect.objectContaining({ detail: expect.stringContaining('resume'), subscriber: expect.objectContaining({ topic }) })])
    back.socket.close()

    // Past the log's window (20 messages): the resume is a gap, and the trace says which messages it covers.
    for (let i = 1; i <= 30; i++) sender.socket.sendBinary(userBroadcastPush(sender.joinRef, sender.socket.makeRef(), `realtime:${topic}`, 'missed', { n: i }))
    const lost = await newest(`topic=public:${topic}`, (m) => m.preview.includes('"n":30'))
    const late = await rawJoin(topic, {}, { switchboard: { session: 's1', resume: { epoch, position } } })
    await late.socket.next((f: Frame) => f.event === 'system' && f.payload.code === 'Gap')
    const gap = verdictsOf(await traceOf(`id=${lost.id}`), 'gap')
    expect(gap).toEqual([expect.objectContaining({ detail: expect.stringContaining('evicted'), subscriber: expect.objectContaining({ topic }) })])
    late.socket.close()
    sender.socket.close()
  })
})

describe('Postgres Changes verdicts', () => {
  test('delivered, filtered out by event and by filter (with the failing condition), denied by RLS (role and claims, no token)', async () => {
    const clientFor = async (tenantId: string, sub: string) => h.client({ key: await h.token({ role: 'authenticated', sub, tenant_id: tenantId }) })
    const allowed = await listen(await clientFor('t1', 'ann'), [{ event: 'INSERT', table: 'calls', filter: 'status=eq.open' }], { topic: 'calls-ann' })
    const otherTenant = await listen(await clientFor('t2', 'bob'), [{ event: 'INSERT', table: 'calls' }], { topic: 'calls-bob' })
    await listen(await clientFor('t1', 'cy'), [{ event: 'INSERT', table: 'calls', filter: 'status=eq.closed' }], { topic: 'calls-cy' })
    await listen(await clientFor('t1', 'dee'), [{ event: 'UPDATE', table: 'calls' }], { topic: 'calls-dee' })

    await h.sql`insert into calls (id, tenant_id, status) values (1, 't1', 'open')`
    await waitFor(() => allowed.changes.length === 1, 10_000, 'the allowed subscriber gets the change')

    const trace = await traceOf('table=calls&pk=1')
    expect(trace).toMatchObject({ kind: 'change', topic: 'public.calls', type: 'INSERT', primaryKey: { id: '1' } })
    expect(trace.summary).toEqual({ delivered: 1, not_authorized: 1, filtered_out: 2 })
    const [delivered] = verdictsOf(trace, 'delivered')
    expect(delivered.subscriber).toMatchObject({ user: 'ann', role: 'authenticated', topic: 'calls-ann' })
    expect(delivered.latencyMs).toBeGreaterThanOrEqual(0)
    expect(delivered.sinceCommitMs).toEqual(expect.any(Number))

    const [denied] = verdictsOf(trace, 'not_authorized')
    expect(denied.subscriber).toMatchObject({ user: 'bob', topic: 'calls-bob' })
    expect(denied.policy).toMatchObject({ role: 'authenticated', claims: { tenant_id: 't2' }, policies: [{ name: 'own tenant', using: expect.stringContaining('tenant_id') }] })
    expect(otherTenant.changes).toEqual([])

    const filtered = Object.fromEntries(verdictsOf(trace, 'filtered_out').map((v: Json) => [v.subscriber.user, v.condition]))
    expect(filtered.cy).toBe("filter status=eq.closed: the row has status = 'open'")
    expect(filtered.dee).toBe('event: listens to UPDATE, this is an INSERT')

    // Nothing in a trace is a token.
    expect(JSON.stringify(trace)).not.toMatch(/eyJ/)
  })
})

describe('views and actions', () => {
  test('channel list and detail: subscriber, presence, bindings; a test broadcast arrives; disconnect closes the socket', async () => {
    const client = h.client({ key: await h.token({ role: 'authenticated', sub: 'pat', tenant_id: 't1' }) })
    const channel = client.channel('lobby', { config: { presence: { key: 'pat' } } })
    const received: Json[] = []
    channel.on('broadcast', { event: 'ping' }, (message) => received.push(message.payload))
    channel.on('presence', { event: 'sync' }, () => {})
    expect((await subscribe(channel)).status).toBe('SUBSCRIBED')
    await channel.track({ status: 'online', token: 'secret-value' })

    const list = await admin.get('/api/inspect/tenants/default/channels?q=lob')
    expect(list.body.channels).toEqual([expect.objectContaining({ key: 'public:lobby', topic: 'lobby', private: false, subscribers: 1 })])
    let detail: Json = null
    for (let i = 0; i < 50 && detail?.presences !== 1; i++) {
      detail = (await admin.get(`/api/inspect/tenants/default/channels/${encodeURIComponent('public:lobby')}`)).body
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(detail.members).toEqual([expect.objectContaining({ user: 'pat', role: 'authenticated', presenceKey: 'pat', client: expect.stringContaining('vsn 2.0.0') })])
    expect(detail.presence.pat.metas[0]).toMatchObject({ status: 'online', token: '<redacted>' })

    expect((await admin.post('/api/inspect/tenants/default/broadcast', { topic: 'lobby', event: 'ping', payload: { from: 'inspector' } })).status).toBe(202)
    await waitFor(() => received.length === 1, 5_000, 'the test broadcast')
    expect(received[0]).toEqual({ from: 'inspector' })

    const connections = (await admin.get('/api/inspect/tenants/default/connections')).body.connections as Json[]
    const mine = connections.find((c) => c.channels.includes('public:lobby'))
    expect(mine).toBeDefined()
    const closed = new Promise<string>((resolve) => channel.on('system', {}, (payload: { message: string }) => resolve(payload.message)))
    expect((await admin.post(`/api/inspect/tenants/default/connections/${mine.id}/disconnect`, {})).body).toEqual({ disconnected: mine.id })
    expect(await closed).toBe('Disconnected by an operator')
    expect((await admin.post('/api/inspect/tenants/default/connections/999999/disconnect', {})).status).toBe(404)
    await client.realtime.disconnect()
  })

  test('the live stream: a hello with the 15-minute history, then overviews; an open stream keeps tracing on', async () => {
    const service = inspectClient(h.server.url, h.server.serviceRoleKey)
    const hello = await service.streamEvent('tenant=default', 'hello')
    expect(hello.status).toBe(200)
    expect(hello.data).toMatchObject({ tenant: 'default', tracing: { on: true }, history: { seconds: expect.any(Array), tenSeconds: expect.any(Array) } })
    expect(hello.data.history.seconds.length).toBeGreaterThan(0)
    expect(hello.data.history.seconds[0]).toMatchObject({ connections: expect.any(Number), messagesIn: expect.any(Number), rlsChecks: expect.any(Number) })
    expect(hello.data.cdc).toMatchObject({ slot: expect.stringMatching(/^switchboard_/), streaming: true })
    // The errors of the rate-limit test above reach the overview with the sampler's next tick:
    // on a loaded machine the first overview may come before it.
    let overview = await service.streamEvent('tenant=default', 'overview')
    for (let attempt = 0; attempt < 5 && overview.data.errors.total.TooManyEvents === undefined; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      overview = await service.streamEvent('tenant=default', 'overview')
    }
    expect(overview.data.errors.total.TooManyEvents).toBeGreaterThan(0)
  })
})
