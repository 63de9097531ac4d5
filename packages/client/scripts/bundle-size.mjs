#!/usr/bin/env node
/* eslint-disable no-console -- a CLI script: printing is its job */
/**
 * Measures what @switchboard/client adds to an app bundle on top of @supabase/realtime-js, with
 * rolldown (minified ESM, target esnext so classes and `#private` fields are kept as written,
 * realtime-js external, gzip level 9). Entries:
 *   - `seed API` (the budgeted number): an app that imports the documented seed API
 *     (`configureRealtime`, `getChannelManager`, `subscribeToEntity`, `joinPresence`,
 *     `leavePresence`, `broadcast`, `cleanupAllChannels`) from `@switchboard/client`, which
 *     pulls in the whole `ChannelManager`; unused helpers (`createLogger`, `manualSignals`, …)
 *     are tree-shaken, as in any app bundler;
 *   - `every export`: the package entry with nothing tree-shaken away, for reference;
 *   - `seed API, shared across tabs`: the same app with `configureRealtime` from
 *     `@switchboard/client/tabs` (one socket per browser), and that entry's every export;
 *   - `seed API + browserLifecycle`: the seed app that also passes the opt-in plug-in of
 *     `@switchboard/client/lifecycle` (online/offline, visibility, probes), and the same with
 *     `debugLogging` of `@switchboard/client/logging` (the lifecycle log lines).
 * Also reports realtime-js itself for scale, and what each seed app adds to a bundle that already
 * holds realtime-js: gzip(realtime-js + the app's imports in one bundle) − gzip(realtime-js alone),
 * where gzip may share strings and patterns between the two. Budget: 6 kB gzip (issue 4), checked
 * against the first (stricter) number.
 *
 *   node packages/client/scripts/bundle-size.mjs [--json]
 */
import { gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { rolldown } from 'rolldown'

const BUDGET_GZIP = 6 * 1024
const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url))
const tabsEntry = fileURLToPath(new URL('../src/tabs/index.ts', import.meta.url))
const lifecycleEntry = fileURLToPath(new URL('../src/lifecycle.ts', import.meta.url))
const loggingEntry = fileURLToPath(new URL('../src/logging.ts', import.meta.url))

async function bundle(input, external) {
  const build = await rolldown({ input, external, logLevel: 'silent', platform: 'browser' })
  const { output } = await build.generate({ format: 'esm', minify: true })
  await build.close()
  const code = output.filter((o) => o.type === 'chunk').map((o) => o.code).join('\n')
  // rolldown leaves an import it cannot resolve external without an error (with logLevel
  // silent): an unbuilt @switchboard/protocol made the seed API 0.05 kB smaller than it ships.
  const left = output.flatMap((o) => (o.type === 'chunk' ? o.imports : [])).filter((id) => !external.some((re) => re.test(id)))
  if (left.length > 0) throw new Error(`unresolved imports ${left.join(', ')} (run npm run build first)`)
  return { minified: Buffer.byteLength(code), gzip: gzipSync(code, { level: 9 }).length }
}

const SEED_API = ['configureRealtime', 'getChannelManager', 'subscribeToEntity', 'joinPresence', 'leavePresence', 'broadcast', 'cleanupAllChannels']

// Temporary entries live in the package folder so '@supabase/realtime-js' resolves (from a
// system temp folder it did not, and rolldown silently left it external: the old 0.06 kB line).
const dir = mkdtempSync(fileURLToPath(new URL('../.size-', import.meta.url)))
let sdk, all, tabs, tabsAll, lifecycle, logging, realtime, combined, tabsCombined
const seedImports = (tabsToo) =>
  tabsToo
    ? `export { configureRealtime } from ${JSON.stringify(tabsEntry)}\nexport { ${SEED_API.filter((n) => n !== 'configureRealtime').join(', ')} } from ${JSON.stringify(entry)}\n`
    : `export { ${SEED_API.join(', ')} } from ${JSON.stringify(entry)}\n`
try {
  const seedEntry = join(dir, 'seed.mjs')
  writeFileSync(seedEntry, seedImports(false))
  sdk = await bundle(seedEntry, [/^@supabase\//])
  all = await bundle(entry, [/^@supabase\//])
  const tabsSeed = join(dir, 'tabs-seed.mjs')
  writeFileSync(tabsSeed, seedImports(true))
  tabs = await bundle(tabsSeed, [/^@supabase\//])
  const tabsEverything = join(dir, 'tabs-all.mjs')
  writeFileSync(tabsEverything, `export * from ${JSON.stringify(entry)}\nexport * from ${JSON.stringify(tabsEntry)}\n`)
  tabsAll = await bundle(tabsEverything, [/^@supabase\//])
  const lifecycleSeed = join(dir, 'lifecycle-seed.mjs')
  writeFileSync(lifecycleSeed, `${seedImports(false)}export { browserLifecycle } from ${JSON.stringify(lifecycleEntry)}\n`)
  lifecycle = await bundle(lifecycleSeed, [/^@supabase\//])
  const loggingSeed = join(dir, 'logging-seed.mjs')
  writeFileSync(loggingSeed, `${seedImports(false)}export { debugLogging } from ${JSON.stringify(loggingEntry)}\n`)
  logging = await bundle(loggingSeed, [/^@supabase\//])
  // realtime-js alone, as an app importing only RealtimeClient would ship it.
  const rtEntry = join(dir, 'rt.mjs')
  writeFileSync(rtEntry, "export { RealtimeClient } from '@supabase/realtime-js'\n")
  try {
    realtime = await bundle(rtEntry, [])
    if (realtime.minified < 10_000) throw new Error('realtime-js was not bundled (unresolved import)')
    const bothEntry = join(dir, 'both.mjs')
    writeFileSync(bothEntry, `export { RealtimeClient } from '@supabase/realtime-js'\n${seedImports(false)}`)
    combined = await bundle(bothEntry, [])
    const bothTabs = join(dir, 'both-tabs.mjs')
    writeFileSync(bothTabs, `export { RealtimeClient } from '@supabase/realtime-js'\n${seedImports(true)}`)
    tabsCombined = await bundle(bothTabs, [])
  } catch (err) {
    console.error(`realtime-js size not measured: ${err instanceof Error ? err.message : String(err)}`)
    realtime = undefined
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

const added = (both) => (both && realtime ? { minified: both.minified - realtime.minified, gzip: both.gzip - realtime.gzip } : undefined)
const result = {
  sdk: { ...sdk, budgetGzip: BUDGET_GZIP, withinBudget: sdk.gzip <= BUDGET_GZIP },
  everyExport: all,
  sharedAcrossTabs: tabs,
  sharedAcrossTabsEveryExport: tabsAll,
  withLifecycle: lifecycle,
  withDebugLogging: logging,
  realtimeJs: realtime,
  addedToRealtimeJs: added(combined),
  sharedAcrossTabsAddedToRealtimeJs: added(tabsCombined),
}
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(result, null, 2))
} else {
  const kb = (n) => `${(n / 1024).toFixed(2)} kB`
  const line = (label, r) => console.log(`${label.padEnd(68)} ${kb(r.minified)} min, ${kb(r.gzip)} gzip`)
  line(`@switchboard/client, seed API (budget ${kb(BUDGET_GZIP)}: ${result.sdk.withinBudget ? 'OK' : 'OVER'})`, sdk)
  line('@switchboard/client, every export (nothing tree-shaken)', all)
  line('seed API with configureRealtime from @switchboard/client/tabs', tabs)
  line('@switchboard/client + /tabs, every export', tabsAll)
  line('seed API + browserLifecycle from @switchboard/client/lifecycle', lifecycle)
  line('seed API + debugLogging from @switchboard/client/logging', logging)
  if (realtime) line('@supabase/realtime-js RealtimeClient, for scale', realtime)
  if (result.addedToRealtimeJs) line('seed API added to a bundle that holds realtime-js', result.addedToRealtimeJs)
  if (result.sharedAcrossTabsAddedToRealtimeJs) line('seed API shared across tabs, added to a bundle with realtime-js', result.sharedAcrossTabsAddedToRealtimeJs)
}
process.exitCode = result.sdk.withinBudget ? 0 : 1
