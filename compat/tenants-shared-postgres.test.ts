/**
 * Two Switchboard deployments (each its own control database) whose tenants have the same id,
 * on databases of one Postgres server: staging and production on one managed instance, say.
 * Replication slots are per server, so a slot named after the tenant id alone was taken by
 * whichever deployment came first, and the other's Postgres Changes never flowed.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import { tenantSlotName } from '@switchboard/server'
import { waitFor } from './support/harness.js'
import { listen } from './support/pg-changes.js'
import { startTenantsHarness, type TenantsHarness, type TestTenant } from './support/tenants.js'

const TENANT_SQL = `
  create publication supabase_realtime;
  create table items (id int primary key, label text);
  alter publication supabase_realtime add table items;
`

let staging: TenantsHarness
let production: TenantsHarness
const twins: TestTenant[] = []
beforeAll(async () => {
  ;[staging, production] = await Promise.all([startTenantsHarness(), startTenantsHarness()])
  for (const h of [staging, production]) {
    const twin = await h.addTenant('twin')
    await twin.sql.unsafe(TENANT_SQL).simple()
    twins.push(twin)
  }
})
afterAll(async () => {
  await Promise.all([staging?.close(), production?.close()])
})

test('a tenant id used by two deployments on one Postgres server: each gets its own slot and its own changes', async () => {
  const [a, b] = twins as [TestTenant, TestTenant]
  const listeners = await Promise.all([staging, production].map((h, i) => listen(h.client('twin', { key: twins[i]!.serviceRoleKey }), [{ event: 'INSERT', table: 'items' }])))
  await a.sql`insert into items values (1, 'staging')`
  await b.sql`insert into items values (1, 'production')`
  await waitFor(() => listeners.every((l) => l.changes.length === 1), 10_000, 'a change on each deployment')
  expect(listeners.map((l) => l.changes[0]!.new.label)).toEqual(['staging', 'production'])
  expect(tenantSlotName('twin', a.database.url)).not.toBe(tenantSlotName('twin', b.database.url))
})

test('slot names stay valid identifiers within 63 characters, whatever the id', () => {
  const url = 'postgres://u:p@db.example.com:5432/app_production'
  const long = 'a'.repeat(63)
  for (const id of ['acme', 'acme-dental', long, `${'b'.repeat(30)}-${'c'.repeat(32)}`]) {
    const name = tenantSlotName(id, url)
    expect(name).toMatch(/^[a-z0-9_]{1,63}$/)
    expect(name).not.toBe(tenantSlotName(id, 'postgres://u:p@db.example.com:5432/app_staging'))
  }
  expect(tenantSlotName(long, url)).not.toBe(tenantSlotName(`${long.slice(0, 62)}b`, url))
})
