/**
 * Shared setup of the demo's browser tests: the UI built with Vite into a temporary folder (so a
 * test never depends on a stale apps/demo/dist), the demo launcher started in-process (port 0,
 * fresh database, simulator off), and Debian's chromium driven by playwright-core. Every test
 * file gets its own database, demo and browser; screenshots land in apps/demo/test-results/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchChromium, viteBuild } from '../../../test-support/chromium.js'
import { createTestDatabase, type TestDatabase } from '../../../test-support/database.js'
import { startDemo, type RunningDemo } from '../server/demo.js'

const DEMO_DIR = fileURLToPath(new URL('..', import.meta.url))
export const RESULTS = join(DEMO_DIR, 'test-results')

export interface DemoBrowser {
  db: TestDatabase
  demo: RunningDemo
  browser: Browser
  /** A fresh browser context signed in as `email`, on the calls page, live. */
  signIn(email: string, options?: { screenshot?: string }): Promise<{ context: BrowserContext; page: Page }>
  close(): Promise<void>
}

export async function startDemoBrowser(prefix = 'demo'): Promise<DemoBrowser> {
  mkdirSync(RESULTS, { recursive: true })
  const buildDir = mkdtempSync(join(tmpdir(), 'switchboard-demo-ui-'))
  const contexts: BrowserContext[] = []
  let db: TestDatabase | undefined
  let demo: RunningDemo | undefined
  let browser: Browser | undefined
  const close = async () => {
    for (const context of contexts) await context.close().catch(() => undefined)
    await browser?.close().catch(() => undefined)
    await demo?.close()
    await db?.drop()
    rmSync(buildDir, { recursive: true, force: true })
  }
  try {
    viteBuild(DEMO_DIR, join(buildDir, 'dist'))
    db = await createTestDatabase(prefix)
    demo = await startDemo({ port: 0, databaseUrl: db.url, simulate: 0, staticDir: join(buildDir, 'dist') })
    browser = await launchChromium()
  } catch (error) {
    await close()
    throw error
  }
  const started = { db, demo, browser }
  return {
    ...started,
    close,
    async signIn(email, options = {}) {
      const context = await started.browser.newContext({ viewport: { width: 1440, height: 900 } })
      contexts.push(context)
      const page = await context.newPage()
      page.on('pageerror', (error) => console.error(`[${email}] page error: ${error.message}`))
      await page.goto(`${started.demo.url}/`)
      await page.waitForSelector(`[data-testid="signin-${email}"]`)
      if (options.screenshot) await shot(page, options.screenshot)
      await page.click(`[data-testid="signin-${email}"]`)
      await page.waitForSelector('[data-testid="current-user"]')
      await waitLive(page)
      return { context, page }
    },
  }
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(RESULTS, `${name}.png`) })
}

/** Socket connected and every channel the page holds joined. */
export async function waitLive(page: Page, timeout = 10_000): Promise<void> {
  await page.waitForFunction(() => {
    const el = document.querySelector('[data-testid="connection-indicator"]')
    if (!el || el.getAttribute('data-state') !== 'live') return false
    const total = Number(el.getAttribute('data-channels'))
    return total > 0 && Number(el.getAttribute('data-channels-connected')) === total
  }, undefined, { timeout })
}

/** Navigates with the sidebar and waits until the new page's channels are joined. */
export async function go(page: Page, name: string): Promise<void> {
  await page.click(`[data-testid="nav-${name}"]`)
  await waitLive(page)
}

/** A ringing call written straight into Postgres (as a telephony webhook would). */
export async function insertCall(demo: RunningDemo, tenantId: string, phoneId: string, caller: string): Promise<string> {
  const [row] = await demo.server.sql<{ id: string }[]>`
    insert into calls (tenant_id, phone_number_id, from_number, caller_name) values (${tenantId}, ${phoneId}, '+1 555 010 2030', ${caller}) returning id`
  return row!.id
}

export const callRow = (id: string) => `[data-testid="call-row"][data-call-id="${id}"]`
