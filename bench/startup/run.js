#!/usr/bin/env node
/**
 * Start-up benchmark: how long `switchboard start` takes from spawn to "listening", i.e. how long
 * a restart keeps clients waiting before they can even reconnect.
 *
 *   run.js ──┬── embedded Postgres (a replication slot with --changes rows to re-read)
 *            └── switchboard start, --runs times per entry point, the entry points alternating:
 *                  bundle   packages/server/bin/switchboard.js → dist/switchboard.mjs (what users run)
 *                  modules  packages/server/dist/cli.js (the compiled modules, one file each)
 *
 * Each start is SIGKILLed once it listens (as the chaos bench's restarts are), so the slot is
 * never acknowledged and every start re-reads the same changes. Reported: median and spread of
 * spawn → "listening" per entry point, and their ratio. Nothing else should run on the box.
 *
 * Usage: npm run build && node bench/startup/run.js [--runs 10] [--changes 2000]
 * Writes bench/results/startup-<date>.json.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import postgres from 'postgres'
import { helpFromHeader, option } from '../lib/cli.js'
import { startPostgres } from '../lib/postgres.js'
import { median } from '../lib/stats.js'

await helpFromHeader(import.meta.url)

const here = dirname(fileURLToPath(import.meta.url))
const RUNS = Number(option('runs', 10))
const CHANGES = Number(option('changes', 2_000))
const ENTRIES = {
  bundle: join(here, '../../packages/server/bin/switchboard.js'),
  modules: join(here, '../../packages/server/dist/cli.js'),
}
const SECRET = 'switchboard-startup-bench-secret-32-characters'

/** Spawns `entry start` and resolves with the ms from spawn to its "listening" line, then kills it. */
async function timeStart(entry, databaseUrl) {
  const started = performance.now()
  const child = spawn(process.execPath, [entry, 'start', '--port', '0', '--database-url', databaseUrl, '--jwt-secret', SECRET, '--log-level', 'warn'])
  let output = ''
  const ms = await new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output = (output + chunk.toString()).slice(-4_000)
      if (output.includes('listening on')) resolve(performance.now() - started)
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)))
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
  return ms
}

const pg = await startPostgres()
try {
  // A first start creates the schema and the slot; the rows after it wait in the slot.
  await timeStart(ENTRIES.bundle, pg.url)
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} })
  await sql.unsafe('create table startup_rows (id bigint primary key, note text); alter publication supabase_realtime add table startup_rows;').simple()
  await sql.unsafe(`insert into startup_rows select i, 'row ' || i from generate_series(1, ${CHANGES}) i`)
  await sql.end()

  const times = { bundle: [], modules: [] }
  for (let run = 0; run < RUNS; run++) {
    const order = run % 2 === 0 ? ['bundle', 'modules'] : ['modules', 'bundle']
    for (const name of order) times[name].push(await timeStart(ENTRIES[name], pg.url))
    console.log(`run ${run + 1}/${RUNS}: bundle ${times.bundle.at(-1).toFixed(0)} ms, modules ${times.modules.at(-1).toFixed(0)} ms`)
  }
  const summary = Object.fromEntries(
    Object.entries(times).map(([name, ms]) => [name, { medianMs: Math.round(median(ms)), minMs: Math.round(Math.min(...ms)), maxMs: Math.round(Math.max(...ms)) }]),
  )
  const ratio = summary.modules.medianMs / summary.bundle.medianMs
  console.log(`\nspawn → listening, medians of ${RUNS} (a slot with ${CHANGES} changes to re-read):`)
  for (const [name, s] of Object.entries(summary)) console.log(`  ${name.padEnd(8)} ${s.medianMs} ms (${s.minMs}–${s.maxMs})`)
  console.log(`  modules / bundle: ${ratio.toFixed(2)}×`)
  const resultsDir = join(here, '..', 'results')
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `startup-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, JSON.stringify({ machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, runs: RUNS, changes: CHANGES, times, summary, ratio }, null, 2))
  console.log(`wrote ${file}`)
} finally {
  await pg.stop()
}
