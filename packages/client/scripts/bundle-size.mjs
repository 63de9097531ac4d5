#!/usr/bin/env node
/* eslint-disable no-console -- a CLI script: printing is its job */
/**
 * Measures what @switchboard/client adds to an app bundle on top of @supabase/realtime-js, with
 * rolldown (minified ESM, target esnext so classes and `#private` fields are kept as written,
 * realtime-js external, gzip level 9). Two entries:
 *   - `seed API` (the budgeted number): an app that imports the documented seed API
 *     (`configureRealtime`, `getChannelManager`, `subscribeToEntity`, `joinPresence`,
 *     `leavePresence`, `broadcast`, `cleanupAllChannels`), which pulls in the whole
 *     `ChannelManager`; unused helpers (`createLogger`, `manualSignals`, …) are tree-shaken, as
 *     in any app bundler;
 *   - `every export`: the package entry with nothing tree-shaken away, for reference.
 * Also reports realtime-js itself for scale, and what the seed API adds to a bundle that already
 * holds realtime-js: gzip(realtime-js + seed API in one bundle) − gzip(realtime-js alone), where
 * gzip may share strings and patterns between the two. Budget: 6 kB gzip (issue 4), checked
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

async function bundle(input, external) {
  const build = await rolldown({ input, external, logLevel: 'silent', platform: 'browser' })
  const { output } = await build.generate({ format: 'esm', minify: true })
  await build.close()
  const code = output.filter((o) => o.type === 'chunk').map((o) => o.code).join('\n')
  return { minified: Buffer.byteLength(code), gzip: gzipSync(code, { level: 9 }).length }
}

const SEED_API = ['configureRealtime', 'getChannelManager', 'subscribeToEntity', 'joinPresence', 'leavePresence', 'broadcast', 'cleanupAllChannels']

// Temporary entries live in the package folder so '@supabase/realtime-js' resolves (from a
// system temp folder it did not, and rolldown silently left it external: the old 0.06 kB line).
const dir = mkdtempSync(fileURLToPath(new URL('../.size-', import.meta.url)))
let sdk, all, realtime, combined
try {
  const seedEntry = join(dir, 'seed.mjs')
  writeFileSync(seedEntry, `export { ${SEED_API.join(', ')} } from ${JSON.stringify(entry)}\n`)
  sdk = await bundle(seedEntry, [/^@supabase\//])
  all = await bundle(entry, [/^@supabase\//])
  // realtime-js alone, as an app importing only RealtimeClient would ship it.
  const rtEntry = join(dir, 'rt.mjs')
  writeFileSync(rtEntry, "export { RealtimeClient } from '@supabase/realtime-js'\n")
  try {
    realtime = await bundle(rtEntry, [])
    if (realtime.minified < 10_000) throw new Error('realtime-js was not bundled (unresolved import)')
    const bothEntry = join(dir, 'both.mjs')
    writeFileSync(bothEntry, `export { RealtimeClient } from '@supabase/realtime-js'\nexport { ${SEED_API.join(', ')} } from ${JSON.stringify(entry)}\n`)
    combined = await bundle(bothEntry, [])
  } catch (err) {
    console.error(`realtime-js size not measured: ${err instanceof Error ? err.message : String(err)}`)
    realtime = undefined
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

const result = {
  sdk: { ...sdk, budgetGzip: BUDGET_GZIP, withinBudget: sdk.gzip <= BUDGET_GZIP },
  everyExport: all,
  realtimeJs: realtime,
  addedToRealtimeJs: combined && realtime ? { minified: combined.minified - realtime.minified, gzip: combined.gzip - realtime.gzip } : undefined,
}
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(result, null, 2))
} else {
  const kb = (n) => `${(n / 1024).toFixed(2)} kB`
  console.log(`@switchboard/client, seed API (ESM, minified, realtime-js external): ${kb(sdk.minified)} min, ${kb(sdk.gzip)} gzip (budget ${kb(BUDGET_GZIP)}: ${result.sdk.withinBudget ? 'OK' : 'OVER'})`)
  console.log(`@switchboard/client, every export (nothing tree-shaken):          ${kb(all.minified)} min, ${kb(all.gzip)} gzip`)
  if (realtime) console.log(`@supabase/realtime-js RealtimeClient for scale:                    ${kb(realtime.minified)} min, ${kb(realtime.gzip)} gzip`)
  const added = result.addedToRealtimeJs
  if (added) console.log(`seed API added to a bundle that holds realtime-js:                 ${kb(added.minified)} min, ${kb(added.gzip)} gzip`)
}
process.exitCode = result.sdk.withinBudget ? 0 : 1
