/**
 * Delivery you can prove, at the protocol level: every handoff (join → live, replay → live,
 * a batch in flight → a resume, a restart) tested at its worst moment.
 *
 * A slow RLS policy (pg_sleep) holds a change batch in authorization for a while, which opens
 * the windows that lose data when positions, registration and replay race.
 */
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startSwitchboard, type RunningSwitchboard } from '@switchboard/server'
import { createTestDatabase, type TestDatabase } from '../test-support/database.js'
import { startHarness, subscribe, waitFor, type Harness } from './support/harness.js'
import { joinPayload, RawSocket, userBroadcastPush, type Frame } from './support/raw-socket.js'

let h: Harness
beforeAll(async () => {
  // Ten workers join and leave on one socket as fast as they can: that is not what the per-socket
  // join rate limit is tested with (compat/bad-input.test.ts does), so it is out of the way here.
  h = await startHarness({ replay: { maxMessages: 10_000 }, limits: { maxJoinsPerSecond: 100_000 } })
  await h.sql.unsafe(`
    create table trials (id bigint primary key, label text);
    alter publication supabase_realtime add table trials;
    grant select on trials to anon, authenticated;
    create table slow_items (id bigint primary key, owner text);
    alter table slow_items enable row level security;
    grant select on slow_items to authenticated;
    -- Every check of a row sleeps: a batch stays in authorization long enough to race against.
    create policy slow_owner on slow_items for select to authenticated
      using (pg_sleep(0.4) is not null and owner = (auth.jwt() ->> 'sub'));
    alter publication supabase_realtime add table slow_items;
  `).simple()
})
afterAll(async () => {
  await h?.close()
})

const isStatus = (code?: string) => (f: Frame) => f.event === 'system' && (f.payload as { extension?: string; code?: string }).extension === 'switchboard' && (code === undefined || (f.payload as { code?: string }).code === code)
const isChange = (f: Frame) => f.event === 'postgres_changes'
const markOf = (f: Frame): { position: number; lsn: string } => {
  const p = f.payload as { meta?: { switchboard?: { position: number; lsn: string } }; switchboard?: { position: number; lsn: string } }
  return (p.meta?.switchboard ?? p.switchboard)!
}
const recordOf = (f: Frame) => (f.payload as { data: { record: Record<string, unknown> } }).data.record

async function userSocket(sub: string, server: { url: string; anonKey: string } = h.server): Promise<{ socket: RawSocket; token: string }> {
  const token = await h.token({ role: 'authenticated', sub })
  return { socket: await RawSocket.connect(server.url, server.anonKey), token }
}

function positionsJoin(config: Record<string, unknown>, token: string | undefined, resume: { epoch: string; position: number; lsn?: string } | null, session = 's') {
  return { ...joinPayload(config, token), switchboard: { session, resume } }
}

/** Resolves once a CDC authorization query is sleeping in the policy (a batch is in flight). */
async function batchInFlight(): Promise<void> {
  const deadline = Date.now() + 5_000
  while (Date.now() < deadline) {
    const rows = await h.sql`select 1 from pg_stat_activity where application_name = 'switchboard_cdc_auth' and wait_event = 'PgSleep'`
    if (rows.length > 0) return
    await new Promise((r) => setTimeout(r, 5))
  }
  throw new Error('no batch in flight')
}

describe('connected means live', () => {
  test('a change committed between the join reply and the status is replayed, once, before the status', async () => {
    const socket = await RawSocket.connect(h.server.url, h.server.serviceRoleKey)
    const { reply } = await socket.join('realtime:early', positionsJoin({ postgres_changes: [{ event: 'INSERT', schema: 'public', table: 'trials', filter: 'id=eq.-1' }] }, undefined, null))
    expect((reply.payload as { status: string }).status).toBe('ok')
    // The worst moment: right after the reply, before the bindings are live.
    await h.sql`insert into trials values (-1, 'between reply and live')`
    const status = await socket.next(isStatus())
    expect(status.payload).toMatchObject({ code: 'Fresh' })
    await socket.next(isChange)
    await socket.heartbeat()
    const changes = socket.all(isChange)
    expect(changes.map(recordOf)).toEqual([{ id: -1, label: 'between reply and live' }])
    socket.close()
  })

  test('1,000 trials of "join, insert as soon as live": none lost (positions status)', { timeout: 120_000 }, async () => {
    const socket = await RawSocket.connect(h.server.url, h.server.serviceRoleKey)
    const lost: number[] = []
    const worker = async (from: number, to: number) => {
      for (let id = from; id < to; id++) {
        const topic = `realtime:trial-${id}`
        const { joinRef } = await socket.join(topic, positionsJoin({ postgres_changes: [{ event: 'INSERT', schema: 'public', table: 'trials', filter: `id=eq.${id}` }] }, undefined, null))
        await socket.next((f) => f.topic === topic && isStatus('Fresh')(f), 10_000)
        await h.sql`insert into trials values (${id}, 'trial')`
        await socket.next((f) => f.topic === topic && isChange(f), 5_000).catch(() => lost.push(id))
        socket.push(topic, 'phx_leave', {}, { joinRef })
      }
    }
    await Promise.all(Array.from({ length: 10 }, (_, w) => worker(1 + w * 100, 1 + (w + 1) * 100)))
    expect(lost).toEqual([])
    socket.close()
  })

  test('1,000 trials with the official client and postgres_changes_options.wait: none lost after SUBSCRIBED', { timeout: 180_000 }, async () => {
    const client = h.client({ key: h.server.serviceRoleKey })
    const lost: number[] = []
    const worker = async (from: number, to: number) => {
      for (let id = from; id < to; id++) {
        let got = false
        const channel = client
          .channel(`official-trial-${id}`, { config: { postgres_changes_options: { wait: true } } } as never)
          .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'trials', filter: `id=eq.${id}` }, () => { got = true })
        const joined = await subscribe(channel)
        expect(joined.status, joined.error?.message).toBe('SUBSCRIBED')
        await h.sql`insert into trials values (${id}, 'trial')`
        await waitFor(() => got, 5_000).catch(() => lost.push(id))
        await client.removeChannel(channel)
      }
    }
    await Promise.all(Array.from({ length: 10 }, (_, w) => worker(10_001 + w * 100, 10_001 + (w + 1) * 100)))
    expect(lost).toEqual([])
  })

  test('wait: bindings that cannot be subscribed refuse the join with Supabase’s reason', async () => {
    const socket = await RawSocket.connect(h.server.url, h.server.serviceRoleKey)
    const { reply } = await socket.join('realtime:bad-wait', joinPayload({ postgres_changes: [{ event: '*', schema: 'public', table: 'nope' }], postgres_changes_options: { wait: true, timeout: 5_000 } }))
    expect(reply.payload).toMatchObject({ status: 'error', response: { reason: expect.stringMatching(/^RealtimeDisabledForConfiguration: Unable to subscribe to changes/) } })
    socket.close()
  })

  test('replication_ready: the channel is told once the replication connection is up', async () => {
    const socket = await RawSocket.connect(h.server.url, h.server.serviceRoleKey)
    await socket.join('realtime:repl-ready', joinPayload({ broadcast: { replication_ready: true } }))
    const message = await socket.next((f) => f.event === 'system')
    expect(message.payload).toMatchObject({ extension: 'system', status: 'ok', message: 'Replication connection established' })
    socket.close()
  })
})

describe('a batch in flight', () => {
  test('a resume while the change it missed is being authorized gets it (routed before, positioned before the resume)', { timeout: 30_000 }, async () => {
    // B matches every row, so each batch spends 0.4 s in B's policy check.
    const b = await userSocket('b')
    await b.socket.join('realtime:slow-b', joinPayload({ postgres_changes: [{ event: '*', schema: 'public', table: 'slow_items' }] }, b.token))
    await b.socket.next((f) => f.event === 'system' && (f.payload as { message?: string }).message === 'Subscribed to PostgreSQL')
    const a = await userSocket('a')
    const bindings = { postgres_changes: [{ event: '*', schema: 'public', table: 'slow_items' }] }
    await a.socket.join('realtime:slow-a', positionsJoin(bindings, a.token, null, 'a-session'))
    const fresh = (await a.socket.next(isStatus('Fresh'))).payload as { epoch: string; position: number; lsn: string }
    a.socket.close() // the break

    await h.sql`insert into slow_items values (1, 'a')`
    await batchInFlight()
    // The worst moment: the change is being authorized for B right now.
    const again = await userSocket('a')
    await again.socket.join('realtime:slow-a', positionsJoin(bindings, again.token, fresh, 'a-session'))
    const resumed = await again.socket.next(isStatus(), 10_000)
    expect(resumed.payload).toMatchObject({ code: 'Resumed', replayed: 1 })
    await new Promise((r) => setTimeout(r, 1_000)) // a late live copy would arrive by now
    await again.socket.heartbeat()
    expect(again.socket.all(isChange).map(recordOf)).toEqual([{ id: 1, owner: 'a' }])
    again.socket.close()
    b.socket.close()
  })

  test('a broadcast sent while an earlier change is being authorized arrives after it (position order)', { timeout: 30_000 }, async () => {
    const a = await userSocket('a')
    const config = { broadcast: { self: true }, postgres_changes: [{ event: 'INSERT', schema: 'public', table: 'slow_items' }] }
    const { joinRef } = await a.socket.join('realtime:ordered-a', positionsJoin(config, a.token, null))
    await a.socket.next(isStatus('Fresh'))
    await h.sql`insert into slow_items values (2, 'a')`
    await batchInFlight()
    a.socket.sendBinary(userBroadcastPush(joinRef, a.socket.makeRef(), 'realtime:ordered-a', 'after-change', { n: 1 }))
    const first = await a.socket.next((f) => f.event === 'postgres_changes' || f.event === 'broadcast', 10_000)
    const second = await a.socket.next((f) => f.event === 'postgres_changes' || f.event === 'broadcast', 10_000)
    expect([first.event, second.event]).toEqual(['postgres_changes', 'broadcast'])
    expect(markOf(first).position).toBeLessThan(markOf(second).position)
    a.socket.close()
  })
})

describe('across a restart', () => {
  let database: TestDatabase
  let admin: postgres.Sql
  const servers: RunningSwitchboard[] = []
  beforeAll(async () => {
    database = await createTestDatabase('delivery')
    admin = postgres(database.url, { max: 1, onnotice: () => {} })
  })
  afterAll(async () => {
    for (const s of servers) await s.close().catch(() => {})
    await admin?.end()
    await database?.drop()
  })
  const start = async () => {
    const server = await startSwitchboard({ port: 0, databaseUrl: database.url, jwtSecret: 'compat-secret-at-least-32-characters-long!', postgresChanges: { slotName: `sb_${database.name.slice(-10)}` } })
    servers.push(server)
    return server
  }

  test('a resume into the restarted server replays the changes and persisted broadcasts it missed, by stream point', { timeout: 60_000 }, async () => {
    const first = await start()
    await admin.unsafe(`
      create table orders (id bigint primary key, label text);
      alter publication supabase_realtime add table orders;
    `).simple()
    const config = { private: true, broadcast: { self: true }, postgres_changes: [{ event: '*', schema: 'public', table: 'orders' }] }
    const socket = await RawSocket.connect(first.url, first.serviceRoleKey)
    const { joinRef } = await socket.join('realtime:room', positionsJoin(config, undefined, null))
    const { epoch } = (await socket.next(isStatus('Fresh'))).payload as { epoch: string }
    // A channel on a topic that never has an ephemeral broadcast (a change feed).
    const feed = await RawSocket.connect(first.url, first.serviceRoleKey)
    await feed.join('realtime:feed', positionsJoin(config, undefined, null))
    await feed.next(isStatus('Fresh'))
    await admin`insert into orders values (1, 'seen')`
    const seen = await socket.next(isChange)
    // A persisted broadcast (realtime-js `send({ …, persist: true })`: kind-3 metadata) survives in realtime.messages.
    socket.sendBinary(userBroadcastPush(joinRef, socket.makeRef(), 'realtime:room', 'note', { text: 'persisted before' }, 'json', '{"persist":true}'))
    const persisted = await socket.next((f) => f.event === 'broadcast')
    expect((persisted.payload as { payload: unknown }).payload).toEqual({ text: 'persisted before' })
    const last = markOf(persisted)
    expect(markOf(seen).position).toBeLessThan(last.position)
    const feedSeen = await feed.next(isChange)
    feed.close()
    socket.close()
    // An ephemeral broadcast on 'room' nobody receives: it dies with the process.
    const other = await RawSocket.connect(first.url, first.serviceRoleKey)
    const { joinRef: otherRef } = await other.join('realtime:room', joinPayload({ private: true }))
    other.sendBinary(userBroadcastPush(otherRef, other.makeRef(), 'realtime:room', 'note', { text: 'ephemeral' }))
    await other.heartbeat()
    other.close()
    await first.close()

    // While no server runs: a change and a database broadcast.
    await admin`insert into orders values (2, 'while down')`
    await admin`select realtime.send('{"text":"sent while down"}'::jsonb, 'note', 'room', true)`

    const second = await start()
    const again = await RawSocket.connect(second.url, second.serviceRoleKey)
    await again.join('realtime:room', positionsJoin(config, undefined, { epoch, position: last.position, lsn: last.lsn }))
    const status = await again.next(isStatus(), 15_000)
    // Changes and stored broadcasts are all replayed; ephemeral broadcasts could not survive, and the status says so.
    expect(status.payload).toMatchObject({ code: 'Resumed', replayed: 2, lost: ['broadcast'] })
    const replayed = again.all((f) => f.event === 'postgres_changes' || f.event === 'broadcast')
    expect(replayed.map((f) => (f.event === 'postgres_changes' ? recordOf(f) : (f.payload as { payload: unknown }).payload))).toEqual([
      { id: 2, label: 'while down' },
      { text: 'sent while down', id: expect.any(String) },
    ])
    // Live again: later changes arrive once.
    await admin`insert into orders values (3, 'after')`
    const live = await again.next((f) => isChange(f) && recordOf(f).id === 3)
    expect(markOf(live).position).toBeGreaterThan((status.payload as { position: number }).position)

    // The change feed's topic never had an ephemeral broadcast: its resume is whole, no gap of any kind.
    const feedAgain = await RawSocket.connect(second.url, second.serviceRoleKey)
    await feedAgain.join('realtime:feed', positionsJoin(config, undefined, { epoch, position: markOf(feedSeen).position, lsn: markOf(feedSeen).lsn }))
    const feedStatus = await feedAgain.next(isStatus(), 15_000)
    expect(feedStatus.payload).toMatchObject({ code: 'Resumed' })
    expect(feedStatus.payload).not.toHaveProperty('lost')
    await feedAgain.next((f) => isChange(f) && recordOf(f).id === 3)
    expect(feedAgain.all(isChange).map(recordOf)).toEqual([{ id: 2, label: 'while down' }, { id: 3, label: 'after' }])
    feedAgain.close()

    // Supabase's replay on a private channel returns the stored broadcasts with meta.replayed.
    const replayer = await RawSocket.connect(second.url, second.serviceRoleKey)
    await replayer.join('realtime:room', joinPayload({ private: true, broadcast: { replay: { since: 0, limit: 10 } } }))
    const first2 = await replayer.next((f) => f.event === 'broadcast')
    const second2 = await replayer.next((f) => f.event === 'broadcast')
    expect([first2, second2].map((f) => (f.payload as { meta: unknown }).meta)).toEqual([
      { replayed: true, id: expect.any(String) },
      { replayed: true, id: expect.any(String) },
    ])
    again.close()
    replayer.close()
  })
})
