import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import postgres from 'postgres'
import { inject } from 'vitest'
import { formatStreamPoint, parsePgLsn } from '@switchboard/protocol'
import { createHarness, serviceRole, subscribe, type Harness } from './cdc-harness.js'
import { TenantHub } from '../../src/hub/tenant-hub.js'
import { DEFAULT_LOG_LIMITS, type LogLimits } from '../../src/hub/delivery-log.js'
import { LocalClusterAdapter } from '../../src/cluster/cluster-adapter.js'
import { systemClock } from '../../src/clock.js'
import { silentLogger } from '../../src/logger.js'

function newHub(limits: Partial<LogLimits> = {}): TenantHub {
  return new TenantHub({ limits: { ...DEFAULT_LOG_LIMITS, ...limits }, clock: systemClock, logger: silentLogger, cluster: new LocalClusterAdapter() })
}

const SETUP = `
  create table public.events (id int primary key, v text);
  alter publication supabase_realtime add table public.events;
`

describe('PostgresChangesService: restarts', () => {
  let h: Harness
  beforeAll(async () => { h = await createHarness(SETUP) })
  afterAll(async () => { await h.close() })

  it('a restart re-reads the window from the slot into the log as history; only later changes are delivered live', async () => {
    const slotName = 'sb_restart_test'
    const hub1 = newHub()
    const first = h.newService({ slotName, log: hub1 })
    await first.start()
    const s1 = await subscribe(h, [{ event: 'INSERT', schema: 'public', table: 'events' }], serviceRole, first)
    await h.sql`insert into events values (1, 'before')`
    const [delivered] = await s1.changeCount(1)
    await first.stop()
    // Change 1 is still in the first log's window, so the slot was not acknowledged past it.
    expect(hub1.log.evictedThrough).toBe(0)

    await h.sql`insert into events values (2, 'while down')`

    const hub2 = newHub()
    const second = h.newService({ slotName, log: hub2 })
    // A channel that registers before the backlog is read is not sent the backlog: it joined
    // after those changes were committed. Resuming clients get them from the log instead.
    const s2 = await subscribe(h, [{ event: 'INSERT', schema: 'public', table: 'events' }], serviceRole, second)
    await second.start()
    await hub2.whenRebuilt()
    await h.sql`insert into events values (3, 'after')`
    const [live] = await s2.changeCount(1)
    expect(live!.data.record).toEqual({ id: 3, v: 'after' })

    const all = hub2.log.since(hub2.log.epoch, 0)
    if (!all.ok) throw new Error('log unreadable')
    const logged = all.entries.filter((e) => e.value.kind === 'change').map((e) => [e.value.kind === 'change' && e.value.change.record!.id, e.historical])
    expect(logged).toEqual([[1, true], [2, true], [3, false]])
    // A client of the first process whose last message was change 1 resumes by its stream point.
    const resumed = hub2.log.sinceStreamPoint(formatStreamPoint(delivered!.position.lsn, delivered!.position.index))
    if (!resumed.ok) throw new Error(`resume refused: ${resumed.reason}`)
    expect(resumed.entries.flatMap((e) => (e.value.kind === 'change' ? [e.value.change.record!.id] : []))).toEqual([2, 3])
    await new Promise((r) => setTimeout(r, 100))
    expect(s2.changes).toHaveLength(1)
    await second.stop()
  })

  it('acknowledges the slot only past what has left the log', async () => {
    const slotName = 'sb_retention_test'
    const hub = newHub({ maxMessages: 3 })
    const service = h.newService({ slotName, log: hub })
    await service.start()
    const sub = await subscribe(h, [{ event: 'INSERT', schema: 'public', table: 'events' }], serviceRole, service)
    const confirmed = async () => {
      const [row] = await h.sql<{ lsn: string }[]>`select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = ${slotName}`
      return parsePgLsn(row!.lsn)!
    }
    const startLsn = await confirmed()
    // Keepalives may still move the slot past WAL that holds no change (the startup marker, an
    // idle moment), but never past the first insert below.
    const [current] = await h.sql<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`
    const beforeInserts = parsePgLsn(current!.lsn)!
    await h.sql`insert into events values (20, 'a')`
    await h.sql`insert into events values (21, 'b')`
    await sub.changeCount(2)
    // Both are in the window: nothing past them may be acknowledged (a restart re-reads them).
    await new Promise((r) => setTimeout(r, 1_300))
    expect(await confirmed()).toBeLessThanOrEqual(beforeInserts)
    for (let i = 22; i < 26; i++) await h.sql`insert into events values (${i}, 'more')`
    await sub.changeCount(6)
    // 20 and 21 (and more) have left the 3-entry window: the acknowledgement moves past them.
    await expect.poll(confirmed, { timeout: 5_000 }).toBeGreaterThan(startLsn > beforeInserts ? startLsn : beforeInserts)
    await service.stop()
  })

  it('a batch that fails is retried until it goes through, never acknowledged past', async () => {
    const slotName = 'sb_retry_test'
    const hub = newHub({ maxMessages: 1 })
    const service = h.newService({ slotName, log: hub, retryBackoffMs: [50] })
    await service.start()
    const sub = await subscribe(h, [{ event: 'INSERT', schema: 'public', table: 'events' }], serviceRole, service)
    const failures = async () => (await h.registry.getSingleMetric('switchboard_cdc_batch_failures_total')!.get()).values.reduce((n, v) => n + v.value, 0)
    const failuresBefore = await failures()
    // A transient database failure: the service's query pool cannot connect while the replication
    // connection keeps streaming, so the batch's catalog lookup fails.
    const admin = postgres(inject('adminDatabaseUrl'), { max: 1, onnotice: () => {} })
    try {
      await admin.unsafe(`alter database "${h.db.name}" allow_connections false`)
      await admin`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'switchboard_cdc_auth' and datname = ${h.db.name}`
      await h.sql`insert into events values (30, 'during the failure')`
      await h.sql`insert into events values (31, 'after it')`
      await expect.poll(failures, { timeout: 5_000 }).toBeGreaterThan(failuresBefore)
    } finally {
      await admin.unsafe(`alter database "${h.db.name}" allow_connections true`)
      await admin.end()
    }
    await sub.changeCount(2, 10_000)
    expect(sub.changes.map((c) => c.data.record!.id)).toEqual([30, 31])
    await service.stop()
  })

  it('reconnects when Postgres drops the replication connection, losing nothing', async () => {
    await h.service.start()
    const sub = await subscribe(h, [{ event: 'INSERT', schema: 'public', table: 'events' }], serviceRole)
    await h.sql`insert into events values (10, 'a')`
    await sub.changeCount(1)
    // What a Postgres restart looks like from here: the walsender goes away.
    const admin = postgres(inject('adminDatabaseUrl'), { max: 1, onnotice: () => {} })
    await admin`select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = ${h.service.slotName}`
    await admin.end()
    await h.sql`insert into events values (11, 'b')`
    await h.sql`insert into events values (12, 'c')`
    await sub.changeCount(3, 10_000)
    expect(sub.changes.map((c) => c.data.record!.id)).toEqual([10, 11, 12])
  })
})
