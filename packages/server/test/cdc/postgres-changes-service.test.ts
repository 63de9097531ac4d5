import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PostgresChangesService } from '../../src/cdc/postgres-changes-service.js'
import { anon, createHarness, serviceRole, sleep, subscribe, type Harness } from './cdc-harness.js'

const SETUP = `
  create table public.todos (id bigint primary key, title text, done bool default false, tags text[], meta jsonb,
    due timestamptz, created timestamp, day date, price numeric(10,2), ratio float8, blob bytea, uid uuid);
  alter publication supabase_realtime add table public.todos;
  create table public.notes (id int primary key, body text);
  create table public.unpublished (id int primary key);
  grant all on all tables in schema public to anon, authenticated, service_role;
`

describe('PostgresChangesService: payloads and routing', () => {
  let h: Harness
  beforeAll(async () => {
    h = await createHarness(SETUP)
    await h.service.start()
  })
  afterAll(async () => { await h.close() })

  it('delivers INSERT / UPDATE / DELETE in Supabase shapes', async () => {
    const binding = { event: '*', schema: 'public', table: 'todos' }
    const id = PostgresChangesService.bindingId(binding)
    const sub = await subscribe(h, [binding], serviceRole)
    expect(sub.system).toEqual([{ status: 'ok', message: 'Subscribed to PostgreSQL' }])
    await h.sql`insert into todos (id, title, done, tags, meta, due, created, day, price, ratio, blob, uid)
      values (1, 'milk', true, '{a,"b c"}', '{"k":[1,{"x":null}]}', '2025-03-01 12:00:00.5+00', '2025-03-01 12:00:00',
              '2025-03-01', 12.50, 1.5, '\\x0102', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')`
    await h.sql`update todos set title = 'oat milk' where id = 1`
    await h.sql`delete from todos where id = 1`
    const [ins, upd, del] = await sub.changeCount(3)
    expect(ins!.ids).toEqual([id])
    expect(Object.keys(ins!.data)).toEqual(['schema', 'table', 'commit_timestamp', 'type', 'columns', 'record', 'errors'])
    expect(ins!.data.commit_timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(ins!.data.columns).toContainEqual({ name: 'id', type: 'int8' })
    expect(ins!.data.columns).toContainEqual({ name: 'tags', type: '_text' })
    expect(ins!.data.record).toEqual({
      id: 1, title: 'milk', done: true, tags: ['a', 'b c'], meta: { k: [1, { x: null }] },
      due: '2025-03-01T12:00:00.5+00:00', created: '2025-03-01T12:00:00', day: '2025-03-01', price: 12.5, ratio: 1.5,
      blob: '0102', uid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    })
    expect(ins!.data.errors).toBeNull()
    expect(upd!.data.type).toBe('UPDATE')
    expect(Object.keys(upd!.data)).toEqual(['schema', 'table', 'commit_timestamp', 'type', 'columns', 'record', 'old_record', 'errors'])
    expect(upd!.data.record!.title).toBe('oat milk')
    expect(upd!.data.old_record).toEqual({ id: 1 })
    expect(del!.data.type).toBe('DELETE')
    expect(Object.keys(del!.data)).toEqual(['schema', 'table', 'commit_timestamp', 'type', 'columns', 'old_record', 'errors'])
    expect(del!.data.old_record).toEqual({ id: 1 })
    expect(ins!.position.lsn < upd!.position.lsn && upd!.position.lsn < del!.position.lsn).toBe(true)
    h.service.unsubscribe(sub)
  })

  it('event-specific bindings, one delivery carrying every matching id', async () => {
    const inserts = { event: 'INSERT', schema: 'public', table: 'todos' }
    const all = { event: '*', schema: 'public', table: 'todos', filter: 'id=eq.10' }
    const sub = await subscribe(h, [inserts, all], serviceRole)
    await h.sql`insert into todos (id, title) values (10, 'x')`
    await h.sql`update todos set title = 'y' where id = 10`
    await sub.changeCount(2)
    expect(sub.changes[0]!.ids).toEqual([PostgresChangesService.bindingId(inserts), PostgresChangesService.bindingId(all)])
    expect(sub.changes[1]!.ids).toEqual([PostgresChangesService.bindingId(all)])
    expect(sub.changes[1]!.data.type).toBe('UPDATE')
    h.service.unsubscribe(sub)
  })

  it('every filter operator, compared by column type', async () => {
    const cases: [string, number[]][] = [
      ['id=eq.21', [21]], ['id=neq.21', [20, 22]], ['id=lt.21', [20]], ['id=lte.21', [20, 21]],
      ['id=gt.21', [22]], ['id=gte.21', [21, 22]], ['id=in.(20,22)', [20, 22]], ['price=eq.1.5', [21]],
      ['title=eq."a,b"', [22]], ['price=gt.9', [20]], ['title=in.(x,"a,b")', [20, 22]], ['id=not.in.(20,21)', [22]],
    ]
    const subs = await Promise.all(cases.map(([filter]) => subscribe(h, [{ event: 'INSERT', schema: 'public', table: 'todos', filter }], anon)))
    for (const s of subs) expect(s.system[0]).toEqual({ status: 'ok', message: 'Subscribed to PostgreSQL' })
    await h.sql`insert into todos (id, title, price) values (20, 'x', 10), (21, 'y', 1.50), (22, 'a,b', 2)`
    await sleep(300)
    for (const [i, [filter, want]] of cases.entries()) {
      expect(subs[i]!.changes.map((c) => c.data.record!.id), filter).toEqual(want)
      h.service.unsubscribe(subs[i]!)
    }
  })

  it('two subscribers with different filters on one table each get only their own (realtime#1524)', async () => {
    const a = await subscribe(h, [{ event: '*', schema: 'public', table: 'todos', filter: 'title=eq.alpha' }], anon)
    const b = await subscribe(h, [{ event: '*', schema: 'public', table: 'todos', filter: 'title=eq.beta' }], anon)
    await h.sql`insert into todos (id, title) values (30, 'alpha'), (31, 'beta'), (32, 'gamma')`
    await a.changeCount(1)
    await b.changeCount(1)
    await sleep(100)
    expect(a.changes.map((c) => c.data.record!.id)).toEqual([30])
    expect(b.changes.map((c) => c.data.record!.id)).toEqual([31])
    h.service.unsubscribe(a)
    h.service.unsubscribe(b)
  })

  it('reports bad bindings through systemMessage with Supabase wording, and stays healthy', async () => {
    const bad = await subscribe(h, [{ event: '*', schema: 'public', table: 'todos', filter: 'wrong' }], anon)
    expect(bad.system).toEqual([{ status: 'error', message: 'Error parsing `filter` params: ["wrong"]' }])
    const unpublished = await subscribe(h, [{ event: 'INSERT', schema: 'public', table: 'unpublished' }], anon)
    expect(unpublished.system[0]!.message).toBe(
      'Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given connect parameters: [event: INSERT, schema: public, table: unpublished, filters: [], select: nil]')
    const missing = await subscribe(h, [{ event: '*', table: 'nope' }], anon)
    expect(missing.system[0]!.status).toBe('error')
    const badColumn = await subscribe(h, [{ event: '*', schema: 'public', table: 'todos', filter: 'nope=eq.1' }], anon)
    expect(badColumn.system[0]).toEqual({ status: 'error', message: 'invalid column for filter nope' })
    const badValue = await subscribe(h, [{ event: '*', schema: 'public', table: 'todos', filter: 'id=eq.abc' }], anon)
    expect(badValue.system[0]!.message).toMatch(/^Error parsing `filter` params: invalid input syntax for type bigint/)
    const good = await subscribe(h, [{ event: 'INSERT', schema: 'public', table: 'todos', filter: 'id=eq.40' }], anon)
    await h.sql`insert into todos (id) values (40)`
    await good.changeCount(1)
    h.service.unsubscribe(good)
  })

  it('picks up a table added to the publication while running, and survives one dropped', async () => {
    await h.sql`create table public.late (id int primary key, v text)`
    await h.sql`grant all on public.late to anon`
    await h.sql`alter publication supabase_realtime add table public.late`
    const sub = await subscribe(h, [{ event: '*', schema: 'public', table: 'late' }], anon)
    expect(sub.system[0]!.status).toBe('ok')
    await h.sql`insert into late values (1, 'a')`
    await sub.changeCount(1)
    await h.sql`alter publication supabase_realtime drop table public.late`
    await h.sql`insert into late values (2, 'b')`
    await h.sql`drop table public.late`
    // The stream goes on for other tables.
    const other = await subscribe(h, [{ event: 'INSERT', schema: 'public', table: 'todos', filter: 'id=eq.50' }], anon)
    await h.sql`insert into todos (id) values (50)`
    await other.changeCount(1)
    expect(sub.changes).toHaveLength(1)
  })

  it('turns realtime.send into onDatabaseBroadcast', async () => {
    await h.sql`select realtime.send('{"hello":"world"}'::jsonb, 'greet', 'room:1', false)`
    const deadline = Date.now() + 5_000
    while (h.broadcasts.length === 0 && Date.now() < deadline) await sleep(20)
    expect(h.broadcasts).toHaveLength(1)
    const [b] = h.broadcasts
    expect(b).toMatchObject({ topic: 'room:1', event: 'greet', private: false, binaryPayload: null })
    expect(JSON.parse(b!.payloadJson!)).toMatchObject({ hello: 'world' })
    expect(b!.id).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('cuts records over maxRecordBytes to small fields with Error 413', async () => {
    const small = h.newService({ limits: { maxRecordBytes: 200 }, slotName: `${h.service.slotName}_small` })
    await small.start()
    const sub = await subscribe(h, [{ event: 'INSERT', schema: 'public', table: 'todos' }], serviceRole, small)
    await h.sql`insert into todos (id, title) values (60, ${'x'.repeat(300)})`
    const [c] = await sub.changeCount(1)
    expect(c!.data.errors).toEqual(['Error 413: Payload Too Large'])
    expect(c!.data.record).toMatchObject({ id: 60 })
    expect(c!.data.record).not.toHaveProperty('title')
    await small.stop()
  })
})
