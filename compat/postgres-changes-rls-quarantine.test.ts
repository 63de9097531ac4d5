/**
 * One subscriber whose RLS check raises is quarantined; everyone else keeps receiving
 * (Supabase realtime#2093 stopped delivery for a whole project for 2.5 h). Through the real
 * server and the official client: the policy casts a claim to int, one subscriber's token says
 * `tenant: 'abc'`. 100 healthy subscribers (4 tenants, 25 channels each) receive every row of
 * their tenant in order; the poisoned one gets one `system` error naming the table and the
 * Postgres error, then nothing, and costs no query per batch; a token refresh routes it again.
 */
import type { SupabaseClient } from '@supabase/supabase-js'
import type postgres from 'postgres'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { metricsText, sample } from './support/checks.js'
import { startHarness, waitFor, type Harness } from './support/harness.js'
import { listen, tickBarrier, TICKS_SQL, type Listener } from './support/pg-changes.js'

let h: Harness
let sql: postgres.Sql
beforeAll(async () => {
  h = await startHarness()
  sql = h.sql
  await sql.unsafe(`
    ${TICKS_SQL}
    create table ledger (id int8 primary key, tenant_id int4 not null, note text);
    alter table ledger enable row level security;
    create policy "own tenant" on ledger for select to authenticated
      using ((auth.jwt() ->> 'tenant')::int = tenant_id);
    grant select on ledger to authenticated;
    alter publication supabase_realtime add table ledger;
  `).simple()
})
afterAll(async () => { await h?.close() })

const TENANTS = [1, 2, 3, 4]
const CHANNELS_PER_TENANT = 25

async function tenantClient(tenant: number | string): Promise<SupabaseClient> {
  return h.client({ key: await h.token({ role: 'authenticated', sub: `user-${tenant}`, tenant }) })
}

const authQueries = async () => sample(await metricsText(h), 'switchboard_cdc_auth_queries_total')

test('a subscriber whose policy check raises is quarantined; 100 others receive every row, in order', async () => {
  const healthy: { tenant: number; listener: Listener }[] = []
  for (const tenant of TENANTS) {
    const client = await tenantClient(tenant)
    const joins = Array.from({ length: CHANNELS_PER_TENANT }, () => listen(client, [{ event: '*', table: 'ledger' }]))
    for (const listener of await Promise.all(joins)) healthy.push({ tenant, listener })
  }
  expect(healthy).toHaveLength(100)
  const poisonedClient = await tenantClient('abc')
  const poisoned = await listen(poisonedClient, [{ event: '*', table: 'ledger' }]) // the join itself succeeds
  const barrier = await tickBarrier(poisonedClient, sql)

  // Twenty transactions, one row per tenant each, committed one after another.
  let id = 0
  const perStep: number[] = []
  for (let step = 0; step < 20; step++) {
    const before = await authQueries()
    await sql`insert into ledger ${sql(TENANTS.map((tenant) => ({ id: ++id, tenant_id: tenant, note: `step ${step}` })))}`
    await waitFor(() => healthy.every(({ listener }) => listener.changes.length === step + 1), 10_000, `step ${step} everywhere`)
    perStep.push((await authQueries()) - before)
  }
  await barrier.sync() // the poisoned subscriber's socket has seen everything up to here

  for (const { tenant, listener } of healthy) {
    expect(listener.changes.map((c) => c.new.tenant_id)).toEqual(Array(20).fill(tenant))
    expect(listener.changes.map((c) => c.new.note)).toEqual(Array.from({ length: 20 }, (_, s) => `step ${s}`))
  }
  expect(poisoned.changes).toEqual([])
  expect(poisoned.system.slice(1)).toEqual([{
    extension: 'postgres_changes',
    status: 'error',
    message: 'Row level security check on public.ledger failed for this token: invalid input syntax for type integer: "abc" (SQLSTATE 22P02). ' +
      'Changes are no longer delivered to this channel; rejoin it or refresh the token.',
    channel: expect.any(String),
  }])
  // The first batch paid one retry; from then on every batch costs the same: the healthy
  // contexts' checks only (the quarantined one costs nothing, and nothing grows with time).
  expect(perStep.slice(1)).toEqual(Array(19).fill(perStep[1]))
  expect(perStep[1]).toBe(TENANTS.length)

  // A refreshed token routes the subscriber again; with valid claims it receives its rows.
  await poisonedClient.realtime.setAuth(await h.token({ role: 'authenticated', sub: 'user-abc', tenant: 2 }))
  await new Promise((r) => setTimeout(r, 200)) // the access_token push reaches the server
  await sql`insert into ledger values (${++id}, 2, 'after refresh')`
  await waitFor(() => poisoned.changes.length === 1, 10_000, 'a row after the token refresh')
  expect(poisoned.changes[0]!.new.note).toBe('after refresh')
  expect(poisoned.system).toHaveLength(2) // no second error
})
