/**
 * Per-tenant delivery metrics: what each tenant's sockets were sent, counted on the write path
 * and reported per tenant at scrape time (bounded labels, as every tenant metric).
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startTenantsHarness, type TenantsHarness, type TestTenant } from './support/tenants.js'
import { subscribe, waitFor } from './support/harness.js'

let h: TenantsHarness
let acme: TestTenant
beforeAll(async () => {
  h = await startTenantsHarness()
  acme = await h.addTenant('acme')
  await h.addTenant('globex') // receives nothing: its counters must not move
})
afterAll(async () => {
  await h?.close()
})

async function sentTo(tenant: string): Promise<{ messages: number; bytes: number }> {
  const text = await (await fetch(`${h.server.url}/metrics`)).text()
  const read = (name: string) => Number(new RegExp(`^${name}\\{tenant="${tenant}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0)
  return { messages: read('switchboard_tenant_messages_out_total'), bytes: read('switchboard_tenant_bytes_out_total') }
}

test("a tenant's deliveries count for it and for no other tenant", async () => {
  const receivers = [h.client('acme', { key: acme.serviceRoleKey, via: 'header' }), h.client('acme', { key: acme.serviceRoleKey, via: 'header' })].map((c) => c.channel('counted'))
  const received: unknown[] = []
  for (const channel of receivers) channel.on('broadcast', { event: 'n' }, (m) => received.push(m.payload))
  const sender = h.client('acme', { key: acme.serviceRoleKey, via: 'header' }).channel('counted')
  for (const channel of [...receivers, sender]) expect((await subscribe(channel)).status).toBe('SUBSCRIBED')
  const before = { acme: await sentTo('acme'), globex: await sentTo('globex') }
  for (let i = 0; i < 25; i++) await sender.send({ type: 'broadcast', event: 'n', payload: { i } })
  await waitFor(() => received.length === 50, 5_000, '50 deliveries')
  await new Promise((resolve) => setTimeout(resolve, 100))
  const after = { acme: await sentTo('acme'), globex: await sentTo('globex') }
  expect(after.acme.messages - before.acme.messages).toBeGreaterThanOrEqual(50)
  expect(after.acme.bytes - before.acme.bytes).toBeGreaterThan(50 * 20)
  expect(after.globex).toEqual(before.globex)
})
