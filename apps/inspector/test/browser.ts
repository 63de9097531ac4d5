/**
 * Setup of the inspector's browser tests: the page built with Vite into a temporary folder (never
 * a stale apps/inspector/dist), a real Switchboard on port 0 serving it at /inspector with an
 * admin key, a fresh database on the run's Postgres, official supabase-js clients in Node as the
 * app's users, and Debian's chromium driven by playwright-core (never a downloaded browser).
 * Screenshots land in apps/inspector/test-results/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import WebSocket from 'ws'
import { signToken, startSwitchboard, type RunningSwitchboard } from '@switchboard/server'
import { launchChromium, viteBuild } from '../../../test-support/chromium.js'
import { createTestDatabase, type TestDatabase } from '../../../test-support/database.js'

const APP_DIR = fileURLToPath(new URL('..', import.meta.url))
export const RESULTS = join(APP_DIR, 'test-results')
export const ADMIN_KEY = 'inspector-browser-test-admin-key'
const JWT_SECRET = 'inspector-browser-test-secret-at-least-32-chars'

export interface InspectorBrowser {
  server: RunningSwitchboard
  browser: Browser
  /** An official client signed in as a user (`claims` go into its JWT). */
  client(claims: Record<string, unknown>): Promise<SupabaseClient>
  /** A fresh browser context on /inspector/, signed in with `key` (not signed in: null). */
  open(key: string | null): Promise<{ context: BrowserContext; page: Page }>
  close(): Promise<void>
}

export async function startInspectorBrowser(): Promise<InspectorBrowser> {
  mkdirSync(RESULTS, { recursive: true })
  const buildDir = mkdtempSync(join(tmpdir(), 'switchboard-inspector-ui-'))
  const contexts: BrowserContext[] = []
  const clients: SupabaseClient[] = []
  let db: TestDatabase | undefined
  let server: RunningSwitchboard | undefined
  let browser: Browser | undefined
  const close = async () => {
    for (const client of clients) await client.realtime.disconnect().catch(() => undefined)
    for (const context of contexts) await context.close().catch(() => undefined)
    await browser?.close().catch(() => undefined)
    await server?.close()
    await db?.drop()
    rmSync(buildDir, { recursive: true, force: true })
  }
  try {
    viteBuild(APP_DIR, join(buildDir, 'dist'))
    db = await createTestDatabase('inspector')
    server = await startSwitchboard({ port: 0, databaseUrl: db.url, jwtSecret: JWT_SECRET, adminKey: ADMIN_KEY, inspector: { pageDir: join(buildDir, 'dist') } })
    browser = await launchChromium()
  } catch (error) {
    await close()
    throw error
  }
  const started = { server, browser }
  return {
    ...started,
    close,
    async client(claims) {
      const key = await signToken(JWT_SECRET, claims, 3600)
      const client = createClient(started.server.url, key, {
        realtime: { transport: WebSocket as never, heartbeatIntervalMs: 25_000 },
        auth: { persistSession: false, autoRefreshToken: false },
      })
      clients.push(client)
      return client
    },
    async open(key) {
      const context = await started.browser.newContext({ viewport: { width: 1440, height: 900 } })
      contexts.push(context)
      const page = await context.newPage()
      page.on('pageerror', (error) => console.error(`[inspector] page error: ${error.message}`))
      await page.goto(`${started.server.url}/inspector/`)
      await page.waitForSelector('[data-testid="signin-key"]')
      if (key !== null) {
        await page.fill('[data-testid="signin-key"]', key)
        await page.click('[data-testid="signin-submit"]')
        await page.waitForSelector('[data-testid="stream-status"][data-state="live"]')
      }
      return { context, page }
    },
  }
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(RESULTS, `${name}.png`), fullPage: true })
}
