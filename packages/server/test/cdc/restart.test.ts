import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import postgres from 'postgres'
import { inject } from 'vitest'
import { createHarness, serviceRole, subscribe, type Harness } from './cdc-harness.js'

const SETUP = `
  create table public.events (id int primary key, v text);
  alter publication supabase_realtime add table public.events;
`

describe('PostgresChangesService: restarts', () => {
  let h: Harness
  beforeAll(async () => { h = await createHarness(SETUP) })
  afterAll(async () => { await h.close() })

  it('a service restart between two inserts re-reads the second from the permanent slot', async () => {
    const first = h.newService({ slotName: 'sb_restart_test' })
    await first.start()
    const s1 = await subscribe(h, [{ event: 'INSERT', schema: 'public', table: 'events' }], serviceRole, first)
    await h.sql`insert into events values (1, 'before')`
    await s1.changeCount(1)
    await first.stop()

    await h.sql`insert into events values (2, 'while down')`

    const second = h.newService({ slotName: 'sb_restart_test' })
    // Channels register before the backlog is read (subscribe needs only the catalog).
    const s2 = await subscribe(h, [{ event: 'INSERT', schema: 'public', table: 'events' }], serviceRole, second)
    await second.start()
    const [c] = await s2.changeCount(1)
    expect(c!.data.record).toEqual({ id: 2, v: 'while down' })
    await second.stop()
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
