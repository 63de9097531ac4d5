/**
 * Switchboard Ops in a real browser, the live pages: the campaign bids board, the calls-per-minute
 * chart and the simulator switch. Two browser contexts of Acme Dental (tenant A): Alice, an ADMIN,
 * and Victor, a VIEWER. Everything live reaches the pages through Switchboard only: rows are
 * written with SQL (as a webhook would), through the app's /api actions (the UI's Bid button), or
 * by the demo's simulator once the switch is turned on in the UI.
 *
 * Own file, own database and demo (setup shared through ./browser.ts): the simulator test runs
 * last and writes into this file's database only. Screenshots land in apps/demo/test-results/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import type { RunningDemo } from '../server/demo.js'
import { PHONES, TENANTS, USERS } from '../server/ids.js'
import { go, insertCall, shot, startDemoBrowser, type DemoBrowser } from './browser.js'

const ALICE = USERS.find((u) => u.email === 'alice@acme-dental.test')!
const VICTOR = USERS.find((u) => u.email === 'victor@acme-dental.test')!

let session: DemoBrowser
let demo: RunningDemo
let alice: Page
let victor: Page

const money = (n: number) => `$${n.toFixed(2)}`
const cents = (n: number) => Math.round(n * 100) / 100
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The ranking of one campaign board as shown: "rank. bidder amount" per row. */
const ranking = (page: Page, campaignId: string) =>
  page.$$eval(`[data-testid="ranking"][data-campaign-id="${campaignId}"] [data-testid="bid-row"]`, (rows) =>
    rows.map((row) => `${row.getAttribute('data-rank')}. ${row.querySelector('[data-testid="bid-bidder"]')?.textContent} ${row.querySelector('[data-testid="bid-amount"]')?.textContent}`))
const leading = (page: Page, campaignId: string) => page.textContent(`[data-testid="leading-bid"][data-campaign-id="${campaignId}"]`)
const bidCount = (page: Page, campaignId: string) => page.textContent(`[data-testid="bid-count"][data-campaign-id="${campaignId}"]`)

const statValue = async (page: Page, testId: string) => (await page.textContent(`[data-testid="${testId}"] .stat-value`))?.trim()
const callIds = (page: Page) => page.$$eval('[data-testid="call-row"]', (rows) => rows.map((row) => row.getAttribute('data-call-id')!))
const toggle = '[data-testid="simulator-toggle"]'
const switchState = (page: Page) => page.$eval(toggle, (el) => ({ on: (el as HTMLInputElement).checked, disabled: (el as HTMLInputElement).disabled }))

describe('Switchboard Ops in chromium: live bids, chart and simulator', () => {
  beforeAll(async () => {
    session = await startDemoBrowser('demolive')
    demo = session.demo
    ;({ page: alice } = await session.signIn(ALICE.email))
    ;({ page: victor } = await session.signIn(VICTOR.email))
  }, 120_000)

  afterAll(async () => {
    await session?.close()
  }, 60_000)

  it('bids board: bids placed elsewhere and in the UI appear live, ranked by amount, on every screen', async () => {
    const [campaign] = await demo.server.sql<{ id: string }[]>`select id from campaigns where tenant_id = ${TENANTS.acme.id} and name = 'Emergency dentist near me'`
    const id = campaign!.id
    await go(alice, 'bids')
    await go(victor, 'bids')
    for (const page of [alice, victor]) await page.waitForSelector(`[data-testid="ranking"][data-campaign-id="${id}"] [data-testid="bid-row"]`)
    const before = await ranking(victor, id)
    const top = Number((await leading(victor, id))!.replace('$', ''))
    const count = Number((await bidCount(victor, id))!.replace(/\D/g, ''))
    expect(before[0]).toMatch(new RegExp(`^1\\. .+ \\${money(top)}$`))
    expect(await leading(alice, id)).toBe(money(top))

    // 1. An outbid, written straight into Postgres: new leader on both screens, count + 1.
    const outbid = cents(top + 1)
    await demo.server.sql`insert into bids (tenant_id, campaign_id, bidder, amount) values (${TENANTS.acme.id}, ${id}, 'Zenith Leads', ${outbid})`
    for (const page of [alice, victor]) {
      await expect.poll(() => leading(page, id), { timeout: 3000 }).toBe(money(outbid))
      expect((await ranking(page, id)).slice(0, 2)).toEqual([`1. Zenith Leads ${money(outbid)}`, before[0]!.replace(/^1\./, '2.')])
      expect(await bidCount(page, id)).toBe(`${count + 1} bids`)
    }
    await shot(victor, 'bids-live-outbid')

    // 2. A bid between the two leaders is ranked second, not on top (ranked by amount, not time).
    const second = cents(top + 0.5)
    await demo.server.sql`insert into bids (tenant_id, campaign_id, bidder, amount) values (${TENANTS.acme.id}, ${id}, 'Yonder Ads', ${second})`
    for (const page of [alice, victor]) {
      await expect.poll(() => bidCount(page, id), { timeout: 3000 }).toBe(`${count + 2} bids`)
      expect((await ranking(page, id)).slice(0, 3)).toEqual([`1. Zenith Leads ${money(outbid)}`, `2. Yonder Ads ${money(second)}`, before[0]!.replace(/^1\./, '3.')])
      expect(await leading(page, id)).toBe(money(outbid))
    }
    await shot(victor, 'bids-live-ranked-second')

    // 3. Alice bids in the UI (POST /api/campaigns/:id/bids); Victor's board re-ranks live.
    const mine = cents(top + 2)
    await alice.fill(`[data-testid="bid-form"][data-campaign-id="${id}"] input`, String(mine))
    await alice.press(`[data-testid="bid-form"][data-campaign-id="${id}"] input`, 'Enter')
    await expect.poll(() => leading(victor, id), { timeout: 3000 }).toBe(money(mine))
    expect((await ranking(victor, id)).slice(0, 3)).toEqual([`1. ${ALICE.name} ${money(mine)}`, `2. Zenith Leads ${money(outbid)}`, `3. Yonder Ads ${money(second)}`])
    await expect.poll(async () => (await ranking(alice, id))[0], { timeout: 3000 }).toBe(`1. ${ALICE.name} (you) ${money(mine)}`)
    expect(await bidCount(victor, id)).toBe(`${count + 3} bids`)
    await shot(victor, 'bids-live-placed-in-ui-viewer')
    await shot(alice, 'bids-live-placed-in-ui-admin')
  })

  it('live chart: calls per minute counts new calls of the tenant as they arrive', async () => {
    // Stay clear of a minute boundary ("this minute" starts again at 0 there): the rest takes ~3 s.
    const second = new Date().getSeconds()
    if (second >= 54) await sleep((60 - second) * 1000 + 300)
    const loaded = alice.waitForResponse((response) => response.url().includes('/api/calls/per-minute'))
    await go(alice, 'chart')
    await loaded
    await alice.waitForFunction(() => Number(document.querySelector('.page[data-version]')?.getAttribute('data-version')) > 0)
    const nowBar = 'rect[data-testid="chart-bar"].chart-bar-now title'
    const current = Number(await statValue(alice, 'chart-current'))
    const received = Number(await statValue(alice, 'chart-received'))
    expect(await alice.textContent(nowBar)).toMatch(new RegExp(`: ${current} calls$`))
    await shot(alice, 'chart-live-before')

    await insertCall(demo, TENANTS.acme.id, PHONES.acmeFront.id, 'Chart One')
    await expect.poll(() => statValue(alice, 'chart-current'), { timeout: 2500 }).toBe(String(current + 1))
    expect(await alice.textContent(nowBar)).toMatch(new RegExp(`: ${current + 1} calls$`))
    await shot(alice, 'chart-live-plus-1')

    // Two more for tenant A, one for tenant B (never counted here).
    await insertCall(demo, TENANTS.acme.id, PHONES.acmeBilling.id, 'Chart Two')
    await insertCall(demo, TENANTS.bright.id, PHONES.brightDispatch.id, 'Other Tenant')
    await insertCall(demo, TENANTS.acme.id, PHONES.acmeEmergency.id, 'Chart Three')
    await expect.poll(() => statValue(alice, 'chart-current'), { timeout: 2500 }).toBe(String(current + 3))
    expect(await alice.textContent(nowBar)).toMatch(new RegExp(`: ${current + 3} calls$`))
    expect(Number(await statValue(alice, 'chart-received'))).toBe(received + 3)
    expect(Number(await alice.getAttribute('rect[data-testid="chart-bar"].chart-bar-now', 'height'))).toBeGreaterThan(0)
    await sleep(1000) // renders are batched once a second: the Bright call would show by now
    expect(await statValue(alice, 'chart-current')).toBe(String(current + 3))
    await shot(alice, 'chart-live-plus-3')
  })

  it('simulator switch: on in the UI, calls appear with nobody inserting them; off, they stop', async () => {
    await go(alice, 'calls')
    await go(victor, 'calls')
    await alice.waitForSelector('[data-testid="phone-lane"]')
    await alice.waitForSelector(`${toggle}:enabled`, { state: 'attached' })
    expect(await switchState(alice)).toEqual({ on: false, disabled: false })
    expect(await switchState(victor)).toEqual({ on: false, disabled: true }) // viewers cannot switch it
    const seen = new Set(await callIds(alice))
    await alice.waitForFunction(() => /^\d+$/.test(document.querySelector('[data-testid="stat-calls-today"] .stat-value')?.textContent ?? ''))
    const today = Number(await statValue(alice, 'stat-calls-today'))

    // On, at the fastest rate (300 events/min, about 2 calls a second).
    await alice.selectOption('[data-testid="simulator"] select', '300')
    // The select is controlled by the stored settings: it shows 300/min once they are re-read.
    await alice.waitForFunction(() => document.querySelector<HTMLSelectElement>('[data-testid="simulator"] select')?.value === '300', undefined, { timeout: 8000 })
    await alice.waitForSelector(`${toggle}:enabled`, { state: 'attached' })
    await alice.click('[data-testid="simulator"] label.switch')
    await alice.waitForSelector(`${toggle}:checked:enabled`, { state: 'attached', timeout: 8000 })
    await victor.waitForSelector(`${toggle}:checked`, { state: 'attached', timeout: 8000 }) // the switch is live for everyone
    await expect.poll(async () => (await callIds(alice)).filter((id) => !seen.has(id)).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3)
    await expect.poll(async () => Number(await statValue(alice, 'stat-calls-today')), { timeout: 8000 }).toBeGreaterThanOrEqual(today + 3)
    await shot(alice, 'simulator-on-admin')
    await shot(victor, 'simulator-on-viewer')

    // Off: once in-flight events have landed, nothing new shows up.
    await alice.click('[data-testid="simulator"] label.switch')
    await alice.waitForSelector(`${toggle}:not(:checked):enabled`, { state: 'attached', timeout: 8000 })
    await victor.waitForSelector(`${toggle}:not(:checked)`, { state: 'attached', timeout: 8000 })
    await sleep(1000)
    for (const id of await callIds(alice)) seen.add(id)
    const stopped = await statValue(alice, 'stat-calls-today')
    await sleep(2500) // still on, ~5 calls would show up here (P(none) ≈ 0.55^12)
    expect((await callIds(alice)).filter((id) => !seen.has(id))).toEqual([])
    expect(await statValue(alice, 'stat-calls-today')).toBe(stopped)
    await shot(alice, 'simulator-off-admin')
  })
})
