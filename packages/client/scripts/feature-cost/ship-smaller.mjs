#!/usr/bin/env node
/* eslint-disable no-console -- a CLI script: printing is its job */
/**
 * Could the same code ship fewer bytes? Bundles the seed API as `scripts/bundle-size.mjs` does
 * (rolldown, minified ESM, realtime-js external, gzip level 9) and prints its size:
 *   - as is (the budgeted number);
 *   - with the internal property names shortened (`minify.mangleProps`, the names
 *     `internal-names.mjs` proves are ours alone): what a dist built that way would save;
 *   - with every property name shortened but the built-ins' (breaks the code: an upper bound for
 *     any naming convention);
 *   - with every message string emptied (breaks behaviour the tests check: an upper bound for
 *     error codes plus a dev-only lookup).
 *
 *   node packages/client/scripts/feature-cost/ship-smaller.mjs
 */
import { gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { rolldown } from 'rolldown'
import { internalNames } from './internal-names.mjs'

const SEED_API = ['configureRealtime', 'getChannelManager', 'subscribeToEntity', 'joinPresence', 'leavePresence', 'broadcast', 'cleanupAllChannels']
const entry = fileURLToPath(new URL('../../src/index.ts', import.meta.url))
// Names the built-ins and the DOM own: kept even in the upper bound so the count stays meaningful.
const BUILTINS = /^(then|catch|finally|length|push|has|get|set|add|delete|clear|size|keys|values|entries|now|setTimeout|clearTimeout|stringify|parse|floor|min|max|ceil|random|isArray|freeze|resolve|reject|all|message|name|cause|code|stack|call|apply|bind|slice|splice|sort|filter|map|some|find|findIndex|includes|split|replace|toString|toISOString|toLowerCase|encode|getPrototypeOf|getOwnPropertySymbols|fromEntries|isFinite|POSITIVE_INFINITY|randomUUID|crypto|process|env|addEventListener|removeEventListener|postMessage|onmessage|onopen|onclose|onerror|close|send|data|locks|request|navigator|document|visibilityState|onLine|reason|wasClean|signal|abort|captureStackTrace|[A-Z]\w*)$/

const dir = mkdtempSync(fileURLToPath(new URL('../../.size-', import.meta.url)))
try {
  const input = join(dir, 'seed.mjs')
  writeFileSync(input, `export { ${SEED_API.join(', ')} } from ${JSON.stringify(entry)}\n`)
  const size = async (mangleProps, transform = (c) => c) => {
    const build = await rolldown({ input, external: [/^@supabase\//], logLevel: 'silent', platform: 'browser' })
    const { output } = await build.generate({ format: 'esm', minify: mangleProps ? { mangleProps } : true })
    await build.close()
    const code = transform(output[0].code)
    return `${(Buffer.byteLength(code) / 1024).toFixed(2)} kB min, ${(gzipSync(code, { level: 9 }).length / 1024).toFixed(2)} kB gzip`
  }
  const { internal } = internalNames()
  const line = (label, value) => console.log(`${label.padEnd(66)} ${value}`)
  line('seed API as built', await size())
  line(`internal property names shortened (${internal.length} names)`, await size({ include: new RegExp(`^(${internal.join('|')})$`) }))
  line('every non-built-in property name shortened (upper bound)', await size({ include: /./, exclude: BUILTINS }))
  // Template literals holding a space and no code: the error and log messages.
  const noMessages = (code) => code.replace(/`([^`]*)`/g, (m, body) => (/ /.test(body) && !/[;{}=]/.test(body.replace(/\$\{[^}]*\}/g, '')) ? '``' : m))
  line('every message string emptied (upper bound)', await size(undefined, noMessages))
} finally {
  rmSync(dir, { recursive: true, force: true })
}
