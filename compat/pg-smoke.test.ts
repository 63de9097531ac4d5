import type postgres from 'postgres'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startHarness, subscribe, waitFor, type Harness } from './support/harness.js'

let h: Harness
let sql: postgres.Sql
beforeAll(async () => {
  h = await startHarness()
  sql = h.sql
  await sql`create table todos (id bigint primary key, title text, done bool default false)`
  await sql`alter publication supabase_realtime add table todos`
})
afterAll(async () => { await h?.close() })

test('INSERT reaches the official client', async () => {
  const got: { eventType: string; new: Record<string, unknown> }[] = []
  const ch = h.client({ key: h.server.serviceRoleKey }).channel('todos')
    .on('postgres_changes', { event: '*', schema: 'public', table: 'todos' }, (p) => got.push(p as never))
  const system: { message?: string }[] = []
  ch.on("system", {}, (p: { message?: string }) => system.push(p))
  expect((await subscribe(ch)).status).toBe('SUBSCRIBED')
  await waitFor(() => system.some((m) => m.message === 'Subscribed to PostgreSQL'))
  await sql`insert into todos (id, title) values (1, 'milk')`
  await waitFor(() => got.length === 1)
  expect(got[0]).toMatchObject({ eventType: 'INSERT', new: { id: 1, title: 'milk', done: false }, schema: 'public', table: 'todos' })
})
