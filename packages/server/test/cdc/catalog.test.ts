/**
 * The catalog cache must not answer for a table that changed identity: a table looked up
 * while absent (a dispatcher routing a change of a table just dropped), or dropped and
 * re-created under its name, gets no Relation message until its first change, so a cached
 * answer would refuse or mis-describe subscriptions to the new table.
 */
import postgres from 'postgres'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../../test-support/database.js'
import { Catalog } from '../../src/cdc/catalog.js'
import { systemClock } from '../../src/clock.js'

let db: TestDatabase
let sql: postgres.Sql
beforeAll(async () => {
  db = await createTestDatabase('catalog')
  sql = postgres(db.url, { max: 2, onnotice: () => {} })
  await sql.unsafe(`create publication cat_pub`)
})
afterAll(async () => {
  await sql?.end()
  await db?.drop()
})

it('a table missing at one lookup is found once created', async () => {
  const catalog = new Catalog(sql, systemClock)
  expect(await catalog.table('public', 'late')).toBeNull()
  await sql.unsafe(`create table public.late (id int primary key)`)
  expect((await catalog.table('public', 'late'))?.columns.map((c) => c.name)).toEqual(['id'])
})

it('a table dropped and re-created is described anew when the publication names its new oid', async () => {
  const catalog = new Catalog(sql, systemClock)
  await sql.unsafe(`create table public.reborn (id int primary key); alter publication cat_pub add table public.reborn`)
  const before = (await catalog.table('public', 'reborn'))!
  await sql.unsafe(`drop table public.reborn; create table public.reborn (key text primary key, v text); alter publication cat_pub add table public.reborn`)
  const [published] = (await catalog.publicationTables(['cat_pub'])).filter((t) => t.table === 'reborn')
  expect(published!.oid).not.toBe(before.oid)
  const after = (await catalog.table('public', 'reborn', published!.oid))!
  expect(after.oid).toBe(published!.oid)
  expect(after.columns.map((c) => c.name)).toEqual(['key', 'v'])
  expect(after.primaryKey).toEqual(['key'])
})

it('callers that miss the cache together share one query per lookup (a restart\'s crowd of joins)', async () => {
  let queries = 0
  const counted = postgres(db.url, { max: 4, onnotice: () => {}, debug: () => void queries++ })
  try {
    await counted.unsafe(`create table public.crowd (id int primary key)`)
    queries = 0
    const catalog = new Catalog(counted, systemClock)
    const tables = await Promise.all(Array.from({ length: 20 }, () => catalog.table('public', 'crowd')))
    expect(new Set(tables.map((t) => t!.oid)).size).toBe(1)
    expect(queries).toBe(1)
    const facts = await Promise.all(Array.from({ length: 20 }, () => catalog.roleFacts('postgres', tables[0]!)))
    expect(facts.every((f) => f === facts[0])).toBe(true)
    expect(queries).toBe(2)
    // Once settled, a lookup goes to the cache, and a table's invalidation starts a new query.
    await catalog.table('public', 'crowd')
    expect(queries).toBe(2)
    catalog.invalidateTable('public', 'crowd')
    await Promise.all([catalog.table('public', 'crowd'), catalog.table('public', 'crowd')])
    expect(queries).toBe(3)
  } finally {
    await counted.end()
  }
})

it('warmDelivery loads what delivering a table to a role needs, so the first delivery finds it cached', async () => {
  await sql.unsafe(`
    create role warm_reader nologin;
    create table public.warm (id int primary key, owner text);
    alter table public.warm enable row level security;
    grant select on public.warm to warm_reader;
    create policy own on public.warm for select to warm_reader using (owner = current_setting('request.jwt.claims', true)::json->>'sub')`)
  const catalog = new Catalog(sql, systemClock)
  const table = (await catalog.table('public', 'warm'))!
  expect([catalog.cachedRoleFacts('warm_reader', table.oid), catalog.cachedPolicyClaimPaths('warm_reader', table.oid), catalog.cachedInlinePolicy('warm_reader', table.oid)]).toEqual([undefined, undefined, undefined])
  await catalog.warmDelivery('warm_reader', table)
  expect(catalog.cachedRoleFacts('warm_reader', table.oid)?.selectable).toEqual(new Set(['id', 'owner']))
  expect(catalog.cachedPolicyClaimPaths('warm_reader', table.oid)).not.toBeUndefined()
  expect(catalog.cachedInlinePolicy('warm_reader', table.oid)).not.toBeUndefined()
})
