/**
 * Postgres Changes across failures, through the real server and the official client:
 *
 * - Postgres restarted under a live subscription (its OWN embedded Postgres, stopped and
 *   started again on the same data folder and port): subscribers that stayed connected get
 *   every change, including one committed before the replication stream reconnected.
 * - The server restarted between two inserts: the permanent slot survives, the new server
 *   re-reads what the old one had not acknowledged (its metrics count it), the slot's
 *   confirmed_flush_lsn moves past it, and changes after the restart flow to clients that
 *   rejoined on their own.
 *   NOT guaranteed (and not asserted): that a change committed while no server ran reaches a
 *   client. The backlog is read as soon as the new server streams, before any socket can have
 *   re-joined, and Supabase's rule applies: changes committed before a subscription exists
 *   are not delivered. See docs/postgres-changes.md "Restarts".
 * - A table dropped, or removed from the publication, while subscribed: no crash, other
 *   subscriptions keep working, a new subscription to it gets the `system` error.
 */
import { mkdtempSync, rmSync, chmodSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import postgres from 'postgres'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { silentLogger, startSwitchboard, type RunningSwitchboard } from '@switchboard/server'
import { startEmbeddedPostgres } from '../packages/server/src/db/embedded-postgres.js'
import { createTestDatabase, type TestDatabase } from '../test-support/database.js'
import { startHarness, waitFor, type Harness } from './support/harness.js'
import { expectRoundTrip } from './support/checks.js'
import { listen, tickBarrier, TICKS_SQL } from './support/pg-changes.js'

const SECRET = 'compat-secret-at-least-32-characters-long!'

/** An official client of `server` (it reconnects and rejoins by itself, like an app). */
function officialClient(server: RunningSwitchboard, clients: SupabaseClient[]): SupabaseClient {
  const client = createClient(server.url, server.serviceRoleKey, {
    realtime: { transport: WebSocket as never, heartbeatIntervalMs: 25_000 },
    auth: { persistSession: false, autoRefreshToken: false },
  })
  clients.push(client)
  return client
}

async function lsn(sql: postgres.Sql): Promise<bigint> {
  const [row] = await sql<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`
  return parseLsn(row!.lsn)
}
function parseLsn(text: string): bigint {
  const [hi, lo] = text.split('/')
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`)
}

describe('Postgres restarted under a live subscription', () => {
  let dir: string
  let server: RunningSwitchboard | null = null
  const clients: SupabaseClient[] = []
  let stopPg: (() => Promise<void>) | null = null
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-pg-restart-'))
    chmodSync(dir, 0o777) // as root, Postgres runs as the OS user "postgres"
  })
  afterAll(async () => {
    for (const c of clients) await c.realtime.disconnect().catch(() => {})
    await server?.close()
    await stopPg?.()
    rmSync(dir, { recursive: true, force: true })
  })

  test('no change is lost for subscribers that stayed connected', { timeout: 120_000 }, async () => {
    let pg = await startEmbeddedPostgres({ dataDir: dir, logger: silentLogger })
    stopPg = () => pg.stop()
    server = await startSwitchboard({ port: 0, databaseUrl: pg.url, jwtSecret: SECRET })
    const setup = postgres(pg.url, { max: 1, onnotice: () => {} })
    await setup.unsafe(`
      create table calls (id int8 primary key, status text);
      alter publication supabase_realtime add table calls;
    `).simple()
    await setup.end()

    const l = await listen(officialClient(server, clients), [{ event: '*', table: 'calls' }])
    const write = async (statement: string) => {
      const sql = postgres(pg.url, { max: 1, onnotice: () => {} })
      try { await sql.unsafe(statement) } finally { await sql.end() }
    }
    await write(`insert into calls values (1, 'before restart')`)
    await waitFor(() => l.changes.length === 1, 5_000, 'first change')

    await pg.stop()
    pg = await startEmbeddedPostgres({ dataDir: dir, logger: silentLogger, port: pg.port })
    stopPg = () => pg.stop()
    // Committed at once: most likely before the replication stream has reconnected (backoff).
    await write(`insert into calls values (2, 'right after restart')`)
    await write(`update calls set status = 'updated after restart' where id = 1`)
    await waitFor(() => l.changes.length === 3, 30_000, 'changes after the Postgres restart')
    await write(`insert into calls values (3, 'later')`)
    await waitFor(() => l.changes.length === 4, 10_000, 'a later change')

    expect(l.changes.map((c) => [c.eventType, c.new.id, c.new.status])).toEqual([
      ['INSERT', 1, 'before restart'],
      ['INSERT', 2, 'right after restart'],
      ['UPDATE', 1, 'updated after restart'],
      ['INSERT', 3, 'later'],
    ])
    expect(l.channel.state).toBe('joined') // the socket and channel never noticed
  })
})

describe('server restarted between two inserts', () => {
  let database: TestDatabase
  let admin: postgres.Sql
  const servers: RunningSwitchboard[] = []
  const clients: SupabaseClient[] = []
  beforeAll(async () => {
    database = await createTestDatabase('compat')
    admin = postgres(database.url, { max: 1, onnotice: () => {} })
  })
  afterAll(async () => {
    for (const c of clients) await c.realtime.disconnect().catch(() => {})
    for (const s of servers) await s.close()
    await admin?.end()
    await database?.drop()
  })

  const slotState = async (slot: string) => {
    const rows = await admin<{ confirmed: string; active: boolean }[]>`
      select confirmed_flush_lsn::text as confirmed, active from pg_replication_slots where slot_name = ${slot}`
    return rows[0] ? { confirmed: parseLsn(rows[0].confirmed), active: rows[0].active } : null
  }
  const changesRead = async (server: RunningSwitchboard) => {
    const metric = await server.metrics.registry.getSingleMetric('switchboard_cdc_changes_total')!.get()
    return metric.values.filter((v) => v.labels.type === 'insert').reduce((sum, v) => sum + v.value, 0)
  }

  test('the slot keeps the replay window; a restart re-reads it into the log, and later changes flow to rejoined clients', { timeout: 60_000 }, async () => {
    const slot = `sb_compat_restart_${database.name.slice(-10)}`
    const first = await startSwitchboard({ port: 0, databaseUrl: database.url, jwtSecret: SECRET, postgresChanges: { slotName: slot } })
    servers.push(first)
    await admin.unsafe(`
      create table events (id int8 primary key, v text);
      alter publication supabase_realtime add table events;
    `).simple()
    const client = officialClient(first, clients)
    const l = await listen(client, [{ event: 'INSERT', table: 'events' }])

    const beforeA = await lsn(admin)
    await admin`insert into events values (1, 'A')`
    await waitFor(() => l.changes.length === 1, 5_000, 'A')
    // A was delivered but stays in the replay window, so the slot is not acknowledged past it:
    // a restarted server re-reads it and can replay it to a client resuming from before it.
    await new Promise((r) => setTimeout(r, 1_500))
    expect((await slotState(slot))!.confirmed).toBeLessThanOrEqual(beforeA)

    await first.close()
    await expect.poll(async () => (await slotState(slot))?.active, { timeout: 10_000 }).toBe(false)
    const beforeB = await lsn(admin)
    await admin`insert into events values (2, 'B, committed while no server runs')`
    const afterB = await lsn(admin)
    const down = (await slotState(slot))!
    expect(down.confirmed).toBeLessThanOrEqual(beforeA) // the slot kept A and B

    // Same port: the official client reconnects and rejoins by itself.
    const second = await startSwitchboard({ port: first.port, databaseUrl: database.url, jwtSecret: SECRET, postgresChanges: { slotName: slot } })
    servers.push(second)
    await expect.poll(() => changesRead(second), { timeout: 10_000 }).toBe(2) // A and B re-read from the slot
    expect(afterB).toBeGreaterThan(beforeB)

    await waitFor(() => l.system.filter((m) => m.message === 'Subscribed to PostgreSQL').length === 2, 30_000, 'rejoin and re-subscribe')
    await admin`insert into events values (3, 'C')`
    await waitFor(() => l.changes.some((c) => c.new.id === 3), 5_000, 'C after restart')
    // The official client rejoined fresh (it has no positions): B, committed before its join,
    // is history for resuming clients only, never replayed live as if it were new.
    expect(l.changes.map((c) => c.new.id)).toEqual([1, 3])
  })
})

describe('schema changes while subscribed', () => {
  let h: Harness
  let sql: postgres.Sql
  beforeAll(async () => {
    h = await startHarness()
    sql = h.sql
    await sql.unsafe(`
      ${TICKS_SQL}
      create table kept (id int8 primary key, v text);
      create table doomed (id int8 primary key, v text);
      create table leaving (id int8 primary key, v text);
      alter publication supabase_realtime add table kept, doomed, leaving;
    `).simple()
  })
  afterAll(async () => { await h?.close() })

  const service = () => h.client({ key: h.server.serviceRoleKey })

  test('a table dropped while subscribed: no crash, others keep working, new joins get the error', async () => {
    const client = service()
    const doomed = await listen(client, [{ event: '*', table: 'doomed' }])
    const kept = await listen(client, [{ event: '*', table: 'kept' }])
    await sql`insert into doomed values (1, 'x')`
    await sql`insert into kept values (1, 'x')`
    await waitFor(() => doomed.changes.length === 1 && kept.changes.length === 1, 5_000, 'first changes')
    // Same transaction as a change of the dropped table, to catch the catalog going away mid-batch.
    await sql.begin(async (tx) => {
      await tx`insert into doomed values (2, 'y')`
      await tx`insert into kept values (2, 'y')`
    })
    await sql`drop table doomed`
    await sql`insert into kept values (3, 'z')`
    await waitFor(() => kept.changes.length === 3, 5_000, 'kept keeps flowing')
    expect(kept.changes.map((c) => c.new.id)).toEqual([1, 2, 3])
    expect(doomed.channel.state).toBe('joined')
    await listen(service(), [{ event: '*', table: 'doomed' }], { expect: 'error' })
    // Re-created under the same name and re-published: subscribable and streaming again.
    await sql.unsafe(`create table doomed (id int8 primary key, v text); alter publication supabase_realtime add table doomed`).simple()
    const again = await listen(service(), [{ event: '*', table: 'doomed' }])
    await sql`insert into doomed values (10, 'reborn')`
    await waitFor(() => again.changes.length === 1, 5_000, 're-created table')
    await expectRoundTrip(h)
  })

  test('a table removed from the publication: its changes stop, others keep working, new joins get the error', async () => {
    const client = service()
    const leaving = await listen(client, [{ event: '*', table: 'leaving' }])
    const kept = await listen(client, [{ event: '*', table: 'kept' }])
    const barrier = await tickBarrier(client, sql)
    await sql`insert into leaving values (1, 'published')`
    await waitFor(() => leaving.changes.length === 1, 5_000, 'before removal')
    await sql`alter publication supabase_realtime drop table leaving`
    await sql`insert into leaving values (2, 'unpublished')`
    await sql`insert into kept values (100, 'still here')`
    await barrier.sync()
    expect(leaving.changes.map((c) => c.new.id)).toEqual([1])
    expect(kept.changes.map((c) => c.new.id)).toEqual([100])
    const refused = await listen(service(), [{ event: '*', table: 'leaving' }], { expect: 'error' })
    expect(refused.system[0]!.message).toMatch(/^Unable to subscribe to changes with given parameters/)
    // Added back while running: picked up without a restart.
    await sql`alter publication supabase_realtime add table leaving`
    await sql`insert into leaving values (3, 'published again')`
    await waitFor(() => leaving.changes.length === 2, 5_000, 'after re-adding')
    expect(leaving.changes[1]!.new).toEqual({ id: 3, v: 'published again' })
  })
})
