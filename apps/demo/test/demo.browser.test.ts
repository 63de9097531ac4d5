/**
 * Switchboard Ops in a real browser: playwright-core driving Debian's chromium against the demo
 * launcher started in-process (port 0, fresh database), with three browser contexts: an ADMIN
 * and a VIEWER of Acme Dental (tenant A) and the ADMIN of Bright Plumbing (tenant B).
 *
 * Setup (Vite build into a temporary folder, demo, chromium) is shared with
 * demo-live.browser.test.ts through ./browser.ts. Screenshots land in apps/demo/test-results/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BrowserContext, Page } from 'playwright-core'
import WebSocket from 'ws'
import type { RunningDemo } from '../server/demo.js'
import { PHONES, TENANTS, USERS } from '../server/ids.js'
import { callRow, go, insertCall as insertCallInto, shot, startDemoBrowser, waitLive, type DemoBrowser } from './browser.js'

const ALICE = USERS.find((u) => u.email === 'alice@acme-dental.test')!
const VICTOR = USERS.find((u) => u.email === 'victor@acme-dental.test')!
const BEN = USERS.find((u) => u.email === 'ben@bright-plumbing.test')!

let session: DemoBrowser
let demo: RunningDemo
let alice: Page
let victor: Page
let ben: Page
let victorContext: BrowserContext

const insertCall = (tenantId: string, phoneId: string, caller: string) => insertCallInto(demo, tenantId, phoneId, caller)

describe('Switchboard Ops in chromium', () => {
  beforeAll(async () => {
    session = await startDemoBrowser('demo')
    demo = session.demo
    ;({ page: alice } = await session.signIn(ALICE.email, { screenshot: 'signin' }))
    ;({ page: victor, context: victorContext } = await session.signIn(VICTOR.email))
    ;({ page: ben } = await session.signIn(BEN.email))
  }, 120_000)

  afterAll(async () => {
    await session?.close()
  }, 60_000)

  it('signs in per tenant and role; a viewer sees only the assigned phone (RLS)', async () => {
    await alice.waitForSelector('[data-testid="phone-lane"]')
    await victor.waitForSelector('[data-testid="phone-lane"]')
    await ben.waitForSelector('[data-testid="phone-lane"]')
    const labels = (page: Page) => page.$$eval('[data-testid="phone-label"]', (els) => els.map((el) => el.getAttribute('data-phone-id')))
    expect((await labels(alice)).sort()).toEqual([PHONES.acmeFront.id, PHONES.acmeBilling.id, PHONES.acmeEmergency.id].sort())
    expect(await labels(victor)).toEqual([PHONES.acmeFront.id])
    expect((await labels(ben)).sort()).toEqual([PHONES.brightDispatch.id, PHONES.brightSales.id].sort())
    // Seeded history: the viewer's rows are all on the assigned phone.
    const victorPhones = await victor.$$eval('[data-testid="call-row"]', (els) => [...new Set(els.map((el) => el.getAttribute('data-phone-id')))])
    expect(victorPhones).toEqual([PHONES.acmeFront.id])
    await expect.poll(() => ben.textContent('[data-testid="tenant-name"]')).toContain('Bright Plumbing')
    await shot(alice, 'calls-admin-acme')
    await shot(victor, 'calls-viewer-acme')
    await shot(ben, 'calls-admin-bright')
  })

  it('a call inserted for tenant A reaches A within 1 s, the viewer only on the assigned phone, never tenant B', async () => {
    // Warm-up on Billing (also: the viewer, assigned to Front desk only, must not get it).
    const billing = await insertCall(TENANTS.acme.id, PHONES.acmeBilling.id, 'Warm Up')
    await alice.waitForSelector(callRow(billing), { timeout: 5000 })

    const started = Date.now()
    const front = await insertCall(TENANTS.acme.id, PHONES.acmeFront.id, 'Ada Lovelace')
    await alice.waitForSelector(callRow(front), { timeout: 1000 })
    const latency = Date.now() - started
    console.log(`call insert → visible for tenant A's admin in ${latency} ms`)
    expect(latency).toBeLessThan(1000)
    await victor.waitForSelector(callRow(front), { timeout: 2000 })
    expect(await alice.getAttribute(callRow(front), 'data-status')).toBe('ringing')

    // Status transitions arrive live too; the duration ticks.
    await demo.server.sql`update calls set status = 'in_progress', answered_at = now() where id = ${front}`
    await alice.waitForSelector(`${callRow(front)}[data-status="in_progress"]`, { timeout: 2000 })
    const first = await alice.textContent(`${callRow(front)} [data-testid="call-duration"]`)
    await alice.waitForFunction(([selector, before]) => document.querySelector(selector!)?.textContent !== before, [`${callRow(front)} [data-testid="call-duration"]`, first] as const, { timeout: 3000 })

    // Give tenant B and the viewer every chance to (wrongly) receive the others.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(await ben.$(callRow(front))).toBeNull()
    expect(await ben.$(callRow(billing))).toBeNull()
    expect(await victor.$(callRow(billing))).toBeNull()
    const benCallPhones = await ben.$$eval('[data-testid="call-row"]', (els) => [...new Set(els.map((el) => el.getAttribute('data-phone-id')))])
    expect(benCallPhones.every((id) => id === PHONES.brightDispatch.id || id === PHONES.brightSales.id)).toBe(true)
    await shot(alice, 'calls-live-admin')
    await shot(victor, 'calls-live-viewer')
  })

  it('presence shows both tenant A users on the page, and never tenant B', async () => {
    const ids = (page: Page) => page.$$eval('.topbar [data-testid="presence-user"]', (els) => els.map((el) => el.getAttribute('data-user-id')).sort())
    await expect.poll(() => ids(alice), { timeout: 5000 }).toEqual([ALICE.id, VICTOR.id].sort())
    await expect.poll(() => ids(victor), { timeout: 5000 }).toEqual([ALICE.id, VICTOR.id].sort())
    expect(await ids(ben)).toEqual([BEN.id])
  })

  it('inbox: typing indicator over broadcast shows and clears; a new message appears live', async () => {
    await go(victor, 'inbox')
    await go(alice, 'inbox')
    await go(ben, 'inbox')
    await victor.waitForSelector('[data-testid="conversation"]')
    // Victor sees the conversations of his phone only; open his first one in both browsers.
    const conversationId = (await victor.getAttribute('[data-testid="conversation"]', 'data-conversation-id'))!
    await victor.click(`[data-testid="conversation"][data-conversation-id="${conversationId}"]`)
    await alice.click(`[data-testid="conversation"][data-conversation-id="${conversationId}"]`)
    expect(await ben.$(`[data-testid="conversation"][data-conversation-id="${conversationId}"]`)).toBeNull()
    await waitLive(alice)
    await waitLive(victor)
    await victor.waitForSelector('[data-testid="message"]')

    await alice.fill('[data-testid="composer"]', 'Hello from Alice')
    await victor.waitForSelector('[data-testid="typing-indicator"][data-typing="yes"]', { timeout: 3000 })
    expect(await victor.textContent('[data-testid="typing-indicator"]')).toContain('Alice Moreno is typing')
    await shot(victor, 'inbox-typing')
    await alice.click('[data-testid="send"]')
    await victor.waitForSelector('[data-testid="typing-indicator"][data-typing="no"]', { timeout: 3000 })
    await victor.waitForFunction(() => [...document.querySelectorAll('[data-testid="message"]')].some((el) => el.textContent?.includes('Hello from Alice')), undefined, { timeout: 3000 })
    // Tenant B's typing channel is its own: nothing shows there.
    expect(await ben.getAttribute('[data-testid="typing-indicator"]', 'data-typing')).not.toBe('yes')
    await shot(alice, 'inbox')
  })

  it('maintenance: upload progress is broadcast to everyone viewing the report', async () => {
    await go(alice, 'maintenance')
    await go(victor, 'maintenance')
    await alice.waitForSelector('[data-testid="report-detail"]')
    await victor.waitForSelector('[data-testid="report-detail"]')
    await alice.click('[data-testid="attach-sample"]')
    await victor.waitForSelector('[data-testid="upload-progress"]', { timeout: 3000 })
    await shot(victor, 'maintenance-upload-progress')
  })

  it('screenshots every page (admin of tenant A)', async () => {
    for (const name of ['activity', 'chart', 'bids', 'maintenance', 'calls']) {
      await go(alice, name)
      await alice.waitForTimeout(600)
      await shot(alice, name)
    }
    const rows = await alice.$$eval('[data-testid="activity-row"]', (els) => els.length)
    await go(alice, 'activity')
    const count = Number((await alice.textContent('[data-testid="activity-count"] .stat-value'))?.replace(/\D/g, ''))
    expect(count).toBeGreaterThan(2000)
    expect(rows).toBeLessThan(200) // virtualized: a few dozen rows in the DOM, not thousands
    await go(alice, 'calls')
  })

  it('offline: the indicator says so, and back online the page shows what it missed', async () => {
    await go(victor, 'calls')
    await victorContext.setOffline(true)
    await victor.waitForSelector('[data-testid="connection-indicator"][data-state="offline"]', { timeout: 5000 })
    const missed = await insertCall(TENANTS.acme.id, PHONES.acmeFront.id, 'Missed While Offline')
    await alice.waitForSelector(callRow(missed), { timeout: 2000 })
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(await victor.$(callRow(missed))).toBeNull() // really cut off: nothing arrives while offline
    await shot(victor, 'offline-viewer')

    await victorContext.setOffline(false)
    await victor.waitForSelector('[data-testid="connection-indicator"][data-state="live"]', { timeout: 15_000 })
    await victor.waitForSelector(callRow(missed), { timeout: 10_000 })
    // And it is live again afterwards.
    const after = await insertCall(TENANTS.acme.id, PHONES.acmeFront.id, 'After Reconnect')
    await victor.waitForSelector(callRow(after), { timeout: 3000 })
    await shot(victor, 'back-online-viewer')
  })
  it('presence and typing channels are private: the server refuses another tenant, whatever the name', async () => {
    // What a hostile client of tenant B would do: join tenant A's presence channel by name.
    const ben = USERS.find((u) => u.tenantId === TENANTS.bright.id && u.role === 'ADMIN')!
    const response = await fetch(`${demo.url}/demo/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: ben.id }) })
    const { token } = (await response.json()) as { token: string }
    const url = `${demo.url.replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=${demo.server.anonKey}&vsn=1.0.0`
    const replies: { topic: string; payload: { status: string; response: { reason?: string } } }[] = []
    const socket = new WebSocket(url)
    await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = reject })
    socket.onmessage = (event) => { const message = JSON.parse(String(event.data)); if (message.event === 'phx_reply') replies.push(message) }
    const join = (topic: string, ref: string) => socket.send(JSON.stringify({ topic, event: 'phx_join', ref, join_ref: ref,
      payload: { config: { private: true, presence: { key: ben.id, enabled: true }, broadcast: { self: false, ack: false }, postgres_changes: [] }, access_token: token } }))
    join(`realtime:tenant:${TENANTS.acme.id}:presence:page:calls`, '1')
    join(`realtime:tenant:${TENANTS.bright.id}:presence:page:calls`, '2')
    const deadline = Date.now() + 5000
    while (replies.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    socket.close()
    const byTopic = Object.fromEntries(replies.map((r) => [r.topic.split(':')[2], r.payload]))
    expect(byTopic[TENANTS.acme.id]).toMatchObject({ status: 'error', response: { reason: expect.stringMatching(/^Unauthorized/) } })
    expect(byTopic[TENANTS.bright.id]).toMatchObject({ status: 'ok' })
  })
})
