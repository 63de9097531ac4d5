/**
 * The inspector in a real browser (Debian's chromium through playwright-core) against a real
 * server and Postgres, with official supabase-js clients in Node as the app's users: sign in with
 * the admin key, see a client's channel appear with its subscriber and presence, send a broadcast
 * from the page and watch it arrive, trace a change that an RLS-denied subscriber did not get
 * (both verdicts shown); a tenant's service_role key sees only its tenant; a wrong key nothing.
 */
import type { RealtimeChannel } from '@supabase/supabase-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { ADMIN_KEY, shot, startInspectorBrowser, type InspectorBrowser } from './browser.js'

let session: InspectorBrowser
let admin: Page

async function subscribed(channel: RealtimeChannel): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${channel.topic} did not subscribe`)), 10_000)
    channel.subscribe((status) => {
      if (status === 'SUBSCRIBED') {
        clearTimeout(timer)
        resolve()
      }
    })
  })
}

async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('the inspector in chromium', () => {
  beforeAll(async () => {
    session = await startInspectorBrowser()
    await session.server.sql.unsafe(`
      create table calls (id bigint primary key, tenant_id text not null, caller text not null);
      alter table calls enable row level security;
      create policy "own tenant" on calls for select to authenticated using (tenant_id = (auth.jwt() ->> 'tenant_id'));
      grant select on calls to authenticated;
      alter publication supabase_realtime add table calls;
    `)
    ;({ page: admin } = await session.open(ADMIN_KEY))
  }, 120_000)

  afterAll(async () => {
    await session?.close()
  }, 60_000)

  it('signs in with the admin key and shows the overview live', async () => {
    await admin.waitForSelector('[data-testid="stat-connections"]')
    await admin.waitForSelector('[data-testid="chart-messages"] svg')
    await admin.waitForSelector('[data-testid="slot"]')
    expect(await admin.getAttribute('[data-testid="tracing"]', 'data-on')).toBe('true')
    await shot(admin, 'overview')
  })

  it("shows a client's channel appear, with its subscriber and presence; a broadcast sent from the page arrives", async () => {
    const alice = await session.client({ role: 'authenticated', sub: 'alice', tenant_id: 't1' })
    const received: unknown[] = []
    const room = alice.channel('ops-room', { config: { presence: { key: 'alice' } } })
    room.on('broadcast', { event: '*' }, (message) => received.push(message))
    room.on('presence', { event: 'sync' }, () => {})
    await subscribed(room)
    await room.track({ name: 'Alice', status: 'on call' })

    await admin.click('[data-testid="nav-channels"]')
    const row = '[data-testid="channel-row"][data-key="public:ops-room"]'
    await admin.waitForSelector(row)
    await admin.fill('[data-testid="channel-search"]', 'ops')
    await admin.waitForFunction((selector) => document.querySelector(`${selector} [data-testid="channel-subscribers"]`)?.textContent === '1', row)
    await shot(admin, 'channels')
    await admin.click(row)
    await admin.waitForSelector('[data-testid="member-row"][data-user="alice"]')
    await admin.waitForSelector('[data-testid="presence-key"][data-key="alice"]')
    expect(await admin.textContent('[data-testid="presence-key"][data-key="alice"]')).toContain('on call')

    // Send from the page; the client gets it, and the page's live list shows it.
    await admin.fill('[data-testid="broadcast-event"]', 'from-inspector')
    await admin.fill('[data-testid="broadcast-payload"]', '{"note": "hello alice"}')
    await admin.click('[data-testid="broadcast-send"]')
    await until(() => received.length === 1, 'the broadcast at the client')
    expect(received[0]).toMatchObject({ event: 'from-inspector', payload: { note: 'hello alice' } })
    await admin.waitForSelector('[data-testid="live-message"][data-event="from-inspector"]')

    // A broadcast from a client shows up live too.
    await room.send({ type: 'broadcast', event: 'cursor', payload: { x: 1 } })
    await admin.waitForSelector('[data-testid="live-message"][data-event="cursor"]')
    await shot(admin, 'channel')

    // Its trace: delivered to alice.
    await admin.click('[data-testid="live-message"][data-event="from-inspector"]')
    await admin.waitForSelector('[data-testid="verdict-row"][data-verdict="delivered"][data-user="alice"]')
  })

  it('traces a change that one subscriber got and one, denied by RLS, did not: both verdicts', async () => {
    const ann = await session.client({ role: 'authenticated', sub: 'ann', tenant_id: 't1' })
    const bob = await session.client({ role: 'authenticated', sub: 'bob', tenant_id: 't2' })
    const annGot: unknown[] = []
    const bobGot: unknown[] = []
    const ready = (client: typeof ann, topic: string, into: unknown[]) => {
      const channel = client.channel(topic)
      let system = false
      channel.on('postgres_changes' as never, { event: 'INSERT', schema: 'public', table: 'calls' } as never, (payload: unknown) => into.push(payload))
      channel.on('system', {}, () => (system = true))
      return subscribed(channel).then(() => until(() => system, `${topic} Subscribed to PostgreSQL`))
    }
    await Promise.all([ready(ann, 'calls-ann', annGot), ready(bob, 'calls-bob', bobGot)])
    await session.server.sql`insert into calls (id, tenant_id, caller) values (7, 't1', 'Ada Lovelace')`
    await until(() => annGot.length === 1, "ann's change")

    await admin.click('[data-testid="nav-trace"]')
    await admin.fill('[data-testid="trace-table"]', 'calls')
    await admin.fill('[data-testid="trace-pk"]', '7')
    await admin.click('[data-testid="trace-submit"]')
    await admin.waitForSelector('[data-testid="verdict-row"][data-verdict="delivered"][data-user="ann"]')
    const denied = '[data-testid="verdict-row"][data-verdict="not_authorized"][data-user="bob"]'
    await admin.waitForSelector(denied)
    const policy = await admin.textContent(`${denied} [data-testid="policy"]`)
    expect(policy).toContain('authenticated')
    expect(policy).toContain('"tenant_id":"t2"')
    expect(policy).toContain('own tenant')
    expect(policy).not.toMatch(/eyJ/)
    expect(bobGot).toEqual([])
    await shot(admin, 'trace')
  })

  it("a tenant's service_role key sees its tenant only", async () => {
    const { page } = await session.open(session.server.serviceRoleKey)
    await page.waitForSelector('[data-testid="stat-connections"]')
    expect(await page.textContent('[data-testid="tenant-name"]')).toBe('default')
    expect(await page.textContent('[data-testid="tenant-chip"]')).toContain('service_role')
    expect(await page.$('[data-testid="tenant-select"]')).toBeNull()
    const elsewhere = await page.evaluate(async (key) => {
      const response = await fetch('/api/inspect/tenants/other/overview', { headers: { authorization: `Bearer ${key}` } })
      return response.status
    }, session.server.serviceRoleKey)
    expect(elsewhere).toBe(404)
    await shot(page, 'service-role')
  })

  it('a wrong key sees nothing', async () => {
    for (const key of ['not-the-admin-key-at-all', session.server.anonKey]) {
      const { page } = await session.open(null)
      await page.fill('[data-testid="signin-key"]', key)
      await page.click('[data-testid="signin-submit"]')
      await page.waitForSelector('[data-testid="signin-error"]')
      expect(await page.$('[data-testid="nav-overview"]')).toBeNull()
      expect(await page.evaluate(() => sessionStorage.length)).toBe(0)
      await shot(page, 'wrong-key')
    }
  })
})
