#!/usr/bin/env node
// The `switchboard` command. A committed shim (not the compiled file itself) so npm can link
// the bin at install time, before `npm run build` has produced dist/.
import { existsSync } from 'node:fs'

const cli = new URL('../dist/cli.js', import.meta.url)
if (!existsSync(cli)) {
  console.error('switchboard: not built yet; run `npm run build` first')
  process.exit(1)
}
await import(cli.href)
