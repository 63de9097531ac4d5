/**
 * Postgres Changes through the real server and the official client (issue 3, supabase-protocol.md
 * §5): payload shapes and value types as the client surfaces them, every filter operator,
 * event filtering, and channels with different filters on one table (Supabase realtime#1524).
 * RLS: postgres-changes-rls.test.ts; restarts and schema changes: postgres-changes-resilience.test.ts.
 */
import type postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startHarness, waitFor, type Harness } from './support/harness.js'
import { listen, tickBarrier, TICKS_SQL, type ClientChange } from './support/pg-changes.js'

let h: Harness
let sql: postgres.Sql
beforeAll(async () => {
  h = await startHarness()
  sql = h.sql
  await sql.unsafe(`
    ${TICKS_SQL}
    create table kinds (
      id int8 primary key, qty int4, price numeric(10,2), ratio float8, done bool, meta jsonb,
      tags text[], nums int4[], at timestamptz, day date, ref uuid, title text
    );
    create table kinds_full (like kinds including all);
    alter table kinds_full replica identity full;
    create table items (id int8 primary key, n int4, label text);
    alter publication supabase_realtime add table kinds, kinds_full, items;
  `).simple()
})
afterAll(async () => { await h?.close() })

const service = () => h.client({ key: h.server.serviceRoleKey })
const ISO_UTC_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/

const ROW = {
  id: 9_007_199_254_740_991, // 2^53 − 1: the largest int8 a JS number carries exactly
  qty: 3,
  price: 9.5,
  ratio: 0.25,
  done: true,
  meta: { a: { b: [1, 2, { c: null }] }, s: 'x' },
  tags: ['x', 'y z', 'comma,inside', 'quote"d'],
  nums: [1, 2, 3],
  at: '2025-03-01T12:00:00.5+00:00',
  day: '2025-03-01',
  ref: '6f1f5e5c-2f7a-4b7e-9a3c-0d6c1d2e3f40',
  title: 'héllo "world"',
}

async function insertRow(table: string, row: typeof ROW) {
  await sql`insert into ${sql(table)} ${sql(row as never)}`
}

describe('payload shapes', () => {
  test('INSERT, UPDATE, DELETE (REPLICA IDENTITY DEFAULT): eventType/new/old and value types', async () => {
    const client = service()
    const raw: { columns?: { name: string; type: string }[]; type?: string }[] = []
    // The client's socket adapter exposes Phoenix's onMessage hook (decoded frames).
    const adapter = (client.realtime as unknown as { socketAdapter: { onMessage(cb: (m: { event: string; payload: { data?: (typeof raw)[number] } }) => void): void } }).socketAdapter
    adapter.onMessage((message) => {
      if (message.event === 'postgres_changes' && message.payload.data) raw.push(message.payload.data)
    })
    const l = await listen(client, [{ event: '*', table: 'kinds' }])
    await insertRow('kinds', ROW)
    await sql`update kinds set qty = 4, tags = '{}' where id = ${ROW.id}`
    await sql`delete from kinds where id = ${ROW.id}`
    await waitFor(() => l.changes.length === 3, 5_000, 'three changes')
    const [ins, upd, del] = l.changes as [ClientChange, ClientChange, ClientChange]

    expect(ins).toMatchObject({ eventType: 'INSERT', schema: 'public', table: 'kinds', errors: null, new: ROW, old: {} })
    expect(ins.commit_timestamp).toMatch(ISO_UTC_MS)
    expect(typeof ins.new.id).toBe('number')
    expect(typeof ins.new.price).toBe('number')
    expect(Array.isArray(ins.new.tags)).toBe(true)

    expect(upd).toMatchObject({ eventType: 'UPDATE', errors: null, new: { ...ROW, qty: 4, tags: [] }, old: { id: ROW.id } })
    expect(Object.keys(upd.old)).toEqual(['id']) // DEFAULT identity: the primary key only
    expect(del).toMatchObject({ eventType: 'DELETE', errors: null, new: {}, old: { id: ROW.id } })
    expect(Object.keys(del.old)).toEqual(['id'])

    // The wire `columns` (not surfaced by the client callback): names and type names, attnum order.
    await waitFor(() => raw.length === 3)
    expect(raw[0]!.columns).toEqual([
      { name: 'id', type: 'int8' }, { name: 'qty', type: 'int4' }, { name: 'price', type: 'numeric' },
      { name: 'ratio', type: 'float8' }, { name: 'done', type: 'bool' }, { name: 'meta', type: 'jsonb' },
      { name: 'tags', type: '_text' }, { name: 'nums', type: '_int4' }, { name: 'at', type: 'timestamptz' },
      { name: 'day', type: 'date' }, { name: 'ref', type: 'uuid' }, { name: 'title', type: 'text' },
    ])
  })

  test('REPLICA IDENTITY FULL: UPDATE and DELETE carry the whole old row', async () => {
    const l = await listen(service(), [{ event: '*', table: 'kinds_full' }])
    await insertRow('kinds_full', ROW)
    await sql`update kinds_full set done = false, meta = '{"n": 2}' where id = ${ROW.id}`
    await sql`delete from kinds_full where id = ${ROW.id}`
    await waitFor(() => l.changes.length === 3, 5_000, 'three changes')
    const [, upd, del] = l.changes as [ClientChange, ClientChange, ClientChange]
    expect(upd).toMatchObject({ eventType: 'UPDATE', new: { ...ROW, done: false, meta: { n: 2 } }, old: ROW })
    expect(del).toMatchObject({ eventType: 'DELETE', new: {}, old: { ...ROW, done: false, meta: { n: 2 } } })
  })

  test('NULLs and a multi-row transaction arrive in commit order', async () => {
    const l = await listen(service(), [{ event: 'INSERT', table: 'kinds' }])
    await sql.begin(async (tx) => {
      await tx`insert into kinds (id) values (101)`
      await tx`insert into kinds (id, title) values (102, 'second')`
    })
    await waitFor(() => l.changes.length === 2, 5_000, 'two inserts')
    expect(l.changes.map((c) => c.new.id)).toEqual([101, 102])
    expect(l.changes[0]!.new).toEqual({ id: 101, qty: null, price: null, ratio: null, done: null, meta: null, tags: null, nums: null, at: null, day: null, ref: null, title: null })
    expect(l.changes[0]!.commit_timestamp).toBe(l.changes[1]!.commit_timestamp)
  })
})

describe('filters', () => {
  // 10 > 9 numerically but '10' < '9' as text: a comparison by text would get lt/gt wrong.
  const values = [2, 5, 9, 10, 11]
  const cases: [string, number[]][] = [
    ['n=eq.9', [9]],
    ['n=neq.9', [2, 5, 10, 11]],
    ['n=lt.10', [2, 5, 9]],
    ['n=lte.10', [2, 5, 9, 10]],
    ['n=gt.9', [10, 11]],
    ['n=gte.9', [9, 10, 11]],
    ['n=in.(2,10,42)', [2, 10]],
  ]

  test.each(cases)('%s through the client receives exactly %j', async (filter, expected) => {
    const table = `items`
    const client = service()
    const l = await listen(client, [{ event: 'INSERT', table, filter }])
    const barrier = await tickBarrier(client, sql)
    const base = 1_000 * (cases.findIndex(([f]) => f === filter) + 1)
    for (const [i, n] of values.entries()) await sql`insert into items (id, n, label) values (${base + i}, ${n}, ${`v${n}`})`
    await barrier.sync()
    expect(l.changes.map((c) => c.new.n)).toEqual(expected)
  })

  test('a text eq filter and an in filter on text values', async () => {
    const client = service()
    const eq = await listen(client, [{ event: 'INSERT', table: 'items', filter: 'label=eq.hello world' }])
    const inList = await listen(client, [{ event: 'INSERT', table: 'items', filter: 'label=in.(a,"b,c")' }])
    const barrier = await tickBarrier(client, sql)
    for (const [i, label] of ['hello world', 'a', 'b,c', 'b', 'hello'].entries()) await sql`insert into items (id, label) values (${20_000 + i}, ${label})`
    await barrier.sync()
    expect(eq.changes.map((c) => c.new.label)).toEqual(['hello world'])
    expect(inList.changes.map((c) => c.new.label)).toEqual(['a', 'b,c'])
  })

  test('UPDATE filters test the new row; DELETE filters on the primary key (DEFAULT identity)', async () => {
    const client = service()
    const upd = await listen(client, [{ event: 'UPDATE', table: 'items', filter: 'n=eq.7' }])
    const del = await listen(client, [{ event: 'DELETE', table: 'items', filter: 'id=eq.30001' }])
    const barrier = await tickBarrier(client, sql)
    await sql`insert into items (id, n) values (30001, 1), (30002, 1)`
    await sql`update items set n = 7 where id = 30001`
    await sql`update items set n = 8 where id = 30002`
    await sql`delete from items where id in (30001, 30002)`
    await barrier.sync()
    expect(upd.changes.map((c) => [c.eventType, c.new.id])).toEqual([['UPDATE', 30001]])
    expect(del.changes.map((c) => [c.eventType, c.old])).toEqual([['DELETE', { id: 30001 }]])
  })
})

describe('routing', () => {
  test("event: 'INSERT' bindings do not fire on UPDATE or DELETE (and UPDATE/DELETE only their own)", async () => {
    const client = service()
    const l = await listen(client, [
      { event: 'INSERT', table: 'items', filter: 'id=eq.40001' },
      { event: 'UPDATE', table: 'items', filter: 'id=eq.40001' },
      { event: 'DELETE', table: 'items', filter: 'id=eq.40001' },
      { event: '*', table: 'items', filter: 'id=eq.40001' },
    ])
    const barrier = await tickBarrier(client, sql)
    await sql`insert into items (id, n) values (40001, 1)`
    await sql`update items set n = 2 where id = 40001`
    await sql`delete from items where id = 40001`
    await barrier.sync()
    expect(l.byBinding.map((list) => list.map((c) => c.eventType))).toEqual([['INSERT'], ['UPDATE'], ['DELETE'], ['INSERT', 'UPDATE', 'DELETE']])
  })

  test('two channels with different filters on the same table each receive only their own (realtime#1524)', async () => {
    const client = service()
    const one = await listen(client, [{ event: '*', table: 'items', filter: 'label=eq.p1' }])
    const two = await listen(client, [{ event: '*', table: 'items', filter: 'label=eq.p2' }])
    const other = service() // and on another socket
    const three = await listen(other, [{ event: '*', table: 'items', filter: 'label=eq.p3' }])
    const barrier = await tickBarrier(client, sql)
    const barrierOther = await tickBarrier(other, sql)
    await sql`insert into items (id, label) values (50001, 'p1'), (50002, 'p2'), (50003, 'p3'), (50004, 'p4')`
    await sql`update items set n = 1 where id in (50001, 50002, 50003, 50004)`
    await barrier.sync()
    await barrierOther.sync()
    expect(one.changes.map((c) => [c.eventType, c.new.label])).toEqual([['INSERT', 'p1'], ['UPDATE', 'p1']])
    expect(two.changes.map((c) => [c.eventType, c.new.label])).toEqual([['INSERT', 'p2'], ['UPDATE', 'p2']])
    expect(three.changes.map((c) => [c.eventType, c.new.label])).toEqual([['INSERT', 'p3'], ['UPDATE', 'p3']])
  })

  test('several matching bindings of one channel: each callback fires once per change', async () => {
    const client = service()
    const l = await listen(client, [
      { event: 'INSERT', table: 'items', filter: 'n=gt.100' },
      { event: 'INSERT', table: 'items', filter: 'n=lt.1000' },
      { event: 'INSERT', table: 'items' },
    ])
    const barrier = await tickBarrier(client, sql)
    await sql`insert into items (id, n) values (60001, 500), (60002, 5000)`
    await barrier.sync()
    expect(l.byBinding.map((list) => list.map((c) => c.new.id))).toEqual([[60001, 60002], [60001], [60001, 60002]])
  })
})
