#!/usr/bin/env node
// The `switchboard` command. A committed shim (not the compiled file itself) so npm can link
// the bin at install time, before `npm run build` has produced dist/. It runs the bundled
// command (dist/switchboard.mjs, scripts/bundle-cli.mjs: it starts faster), or the compiled
// modules when only `tsc` has run.
import { existsSync } from 'node:fs'

const bundle = new URL('../dist/switchboard.mjs', import.meta.url)
const cli = new URL('../dist/cli.js', import.meta.url)
const entry = existsSync(bundle) ? bundle : cli
if (!existsSync(entry)) {
  console.error('switchboard: not built yet; run `npm run build` first')
  process.exit(1)
}
await import(entry.href)
