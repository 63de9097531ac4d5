/**
 * Many tenants in a cluster: two nodes share the control database and a Redis. Tenants are
 * read from the control database by every node; each tenant's broadcasts, presence and
 * Postgres changes cross nodes and never cross tenants; each stored tenant's slot is read by
 * one elected node.
 */
import { createClient, type RealtimeChannel, type SupabaseClient } from '@supabase/supabase-js'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startSwitchboard, type RunningSwitchboard } from '@switchboard/server'
import { RedisProcess } from '../packages/server/test/support/redis-process.js'
import { subscribe, waitFor } from './support/harness.js'
import { ADMIN_KEY, DEFAULT_SECRET, startTenantsHarness, transportWith, type TenantsHarness, type TestTenant } from './support/tenants.js'

let redis: RedisProcess
let h: TenantsHarness
let nodeB: RunningSwitchboard
let initech: TestTenant
let hooli: TestTenant
const clientsOnB: SupabaseClient[] = []

beforeAll(async () => {
  redis = await RedisProcess.start()
  h = await startTenantsHarness({ redisUrl: redis.url, nodeId: 'tenants-a' })
  // Ids no other test file uses: a stored tenant's slot is named after its id, and slots are
  // per Postgres server (which every test file shares), so two files with one id would fight
  // over one slot.
  initech = await h.addTenant('initech')
  hooli = await h.addTenant('hooli')
  nodeB = await startSwitchboard({
    port: 0, databaseUrl: h.server.databaseUrl, jwtSecret: DEFAULT_SECRET, adminKey: ADMIN_KEY,
    controlDatabaseUrl: h.control.url, secretsKey: h.secretsKey, redisUrl: redis.url, nodeId: 'tenants-b',
  })
})

afterAll(async () => {
  for (const client of clientsOnB) await client.realtime.disconnect().catch(() => {})
  await nodeB?.close()
  await h?.close()
  await redis?.stop()
})

/** An official client of tenant `tenant` on node B (named by x-tenant-id). */
function onB(tenant: TestTenant): SupabaseClient {
  const client = createClient(nodeB.url, tenant.serviceRoleKey, {
    realtime: { transport: transportWith({ 'x-tenant-id': tenant.id }) as never },
    auth: { persistSession: false, autoRefreshToken: false },
  })
  clientsOnB.push(client)
  return client
}

function collect(channel: RealtimeChannel): unknown[] {
  const received: unknown[] = []
  channel.on('broadcast', { event: 'msg' }, (message) => received.push(message.payload))
  return received
}

describe('tenants in a cluster', () => {
  test('a tenant broadcast on node A reaches its subscribers on node B, and no other tenant', async () => {
    const sender = h.client('initech', { key: initech.serviceRoleKey, via: 'header' }).channel('shared-room')
    const initechOnB = onB(initech).channel('shared-room')
    const hooliOnB = onB(hooli).channel('shared-room')
    const initechReceived = collect(initechOnB)
    const hooliReceived = collect(hooliOnB)
    for (const channel of [sender, initechOnB, hooliOnB]) expect((await subscribe(channel)).status).toBe('SUBSCRIBED')
    for (let i = 0; i < 10; i++) await sender.send({ type: 'broadcast', event: 'msg', payload: { i } })
    await waitFor(() => initechReceived.length === 10, 5_000, 'initech on B')
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(initechReceived).toEqual([...Array(10).keys()].map((i) => ({ i })))
    expect(hooliReceived).toEqual([])
  })

  test("a stored tenant's Postgres changes reach its subscribers on both nodes, once each", async () => {
    await initech.sql`create table orders (id int primary key)`
    await initech.sql`alter publication supabase_realtime add table orders`
    const listeners = [h.client('initech', { key: initech.serviceRoleKey, via: 'header' }), onB(initech)].map((client) => {
      const ids: number[] = []
      const channel = client.channel('orders').on('postgres_changes' as never, { event: 'INSERT', schema: 'public', table: 'orders' } as never, (payload: { new: { id: number } }) => ids.push(payload.new.id))
      return { channel, ids }
    })
    for (const { channel } of listeners) expect((await subscribe(channel)).status).toBe('SUBSCRIBED')
    for (let id = 1; id <= 20; id++) await initech.sql`insert into orders values (${id})`
    // The stored tenant's first slot reader is elected one lease after its keys appear in Redis.
    await waitFor(() => listeners.every((l) => l.ids.length >= 20), 20_000, 'the orders on both nodes')
    await new Promise((resolve) => setTimeout(resolve, 200))
    for (const { ids } of listeners) expect(ids).toEqual([...Array(20).keys()].map((i) => i + 1))
  })
})
