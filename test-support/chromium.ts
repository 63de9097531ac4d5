/**
 * Browser tests' shared parts: a Vite build of an app into a folder of the test's own (never a
 * stale dist), and Debian's chromium (`/usr/bin/chromium`) launched through playwright-core,
 * never a downloaded browser.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser } from 'playwright-core'

const VITE = fileURLToPath(new URL('../node_modules/vite/bin/vite.js', import.meta.url))

/** Builds the Vite app in `appDir` into `outDir`. */
export function viteBuild(appDir: string, outDir: string): void {
  execFileSync(process.execPath, [VITE, 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], { cwd: appDir, stdio: 'pipe', timeout: 90_000 })
}

/** Debian's chromium; every launch gets a fresh temporary profile, removed on close. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
  })
}

