#!/usr/bin/env node
/**
 * Cross-node broadcast latency at 100k deliveries/s: publishers on node A, receivers on node
 * B (two processes, one Redis), against everything on one node without Redis. The load is
 * bench/broadcast's fixed load (fleet.js, clients.js): 1,000 broadcasts/s from one publisher
 * per room, each to 100 receivers (1,000 receivers in 10 rooms), latency from the publisher's
 * stamp to the receiver's parse (CLOCK_MONOTONIC, one clock for every process).
 *
 *   configuration  publishers → node          receivers ← node       Redis    cores
 *   single         S (no Redis)               S                      —        S: 0; clients: 1
 *   same-redis     S (on Redis)               S                      yes      S: 0; Redis, clients: 1
 *   cross          A (on Redis)               B (on Redis)           yes      B: 0; A, Redis, clients: 1
 *
 * The node that writes the 100k frames/s gets core 0 alone in every configuration (at this
 * load it needs most of a core, bench/broadcast/README); A's work is 1,000 appends/s. Each
 * configuration starts fresh (servers, Redis, clients), warms up, then measures one window;
 * repetitions rotate the order; the report gives medians and the per-repetition difference
 * cross − single of p50 and p99.
 *
 * Usage: npm run build && node bench/cluster/latency.js [--reps 5] [--warmup 2] [--duration 5]
 *        [--only single,same-redis,cross] [--rate 1000] [--quiet-wait 5]
 * Writes bench/results/cluster-latency-<date>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { drainCheck, fmtMs, fmtRate, fmtStep, round, startClients, startServer, step, waitForQuiet } from '../broadcast/fleet.js'
import { canPin } from '../lib/child.js'
import { helpFromHeader, option } from '../lib/cli.js'
import { startPostgres } from '../lib/postgres.js'
import { startRedis } from '../lib/redis.js'
import { median } from '../lib/stats.js'

await helpFromHeader(import.meta.url)

const here = dirname(fileURLToPath(import.meta.url))
const resultsDir = join(here, '..', 'results')
const log = (line) => console.log(line)

const REPS = Number(option('reps', 5))
const STEP = { warmupMs: Number(option('warmup', 2)) * 1000, durationMs: Number(option('duration', 5)) * 1000, perRoom: 100 }
const ROOMS = 10
const RATE = Number(option('rate', 1_000)) // broadcasts/s; × 100 recipients
const QUIET_WAIT_MS = Number(option('quiet-wait', 5)) * 1000
/** Above this 1-minute load the latency target is not judged: run-queue waits, not the server, set the percentiles. */
const BUSY_LOAD = 2
const SELECTED = (option('only') ?? 'single,same-redis,cross').split(',')
const FAN_OUT_CORE = '0'
const OTHER_CORE = '1'

async function runConfiguration(name, databaseUrl, rep) {
  const quiet = await waitForQuiet({ waitMs: QUIET_WAIT_MS, log })
  const load = loadavg()[0]
  const redis = name === 'single' ? null : await startRedis({ core: OTHER_CORE })
  const servers = []
  let clients = null
  try {
    const env = (node) => ({ BENCH_DATABASE_URL: databaseUrl, ...(redis ? { BENCH_REDIS_URL: redis.url, BENCH_NODE_ID: `bench-${node}` } : {}) })
    const receiveFrom = Object.assign(await startServer('switchboard', FAN_OUT_CORE, { env: env('b') }), { name: name === 'cross' ? 'B' : 'S' })
    servers.push(receiveFrom)
    let publishTo = receiveFrom
    if (name === 'cross') {
      publishTo = Object.assign(await startServer('switchboard', OTHER_CORE, { env: env('a') }), { name: 'A' })
      servers.push(publishTo)
    }
    clients = await startClients({ publishTo, receiveFrom, rooms: ROOMS, perRoom: STEP.perRoom, core: OTHER_CORE })
    const ctx = { servers, receivers: clients.receivers, publishers: clients.publishers, ...(redis ? { otherCpu: { redis: redis.cpuUs } } : {}) }
    const result = await step(ctx, RATE, STEP)
    const integrity = await drainCheck(ctx, STEP.perRoom)
    log(`  ${name.padEnd(10)} ${fmtStep(result)}  drain ${integrity.delivered}/${integrity.expectedDeliveries}`)
    return { config: name, rep, quiet, loadAvg1: load, result, integrity }
  } finally {
    await clients?.stop()
    for (const server of servers) await server.stop('stop')
    await redis?.stop()
  }
}

function summarize(runs) {
  const summary = {}
  for (const name of SELECTED) {
    const mine = runs.filter((r) => r.config === name).map((r) => r.result)
    summary[name] = {
      runs: mine.length,
      deliveredPerSec: median(mine.map((s) => s.deliveredPerSec)),
      p50Ms: median(mine.map((s) => s.p50Ms)),
      p99Ms: median(mine.map((s) => s.p99Ms)),
      p50PerRep: mine.map((s) => s.p50Ms),
      p99PerRep: mine.map((s) => s.p99Ms),
      cpuByProcess: Object.fromEntries(Object.keys(mine[0]?.cpuByProcess ?? { server: 0 }).map((role) => [role, median(mine.map((s) => s.cpuByProcess?.[role] ?? s.serverCpu))])),
      receiverCpu: median(mine.map((s) => s.receiverCpu)),
      loadAvg1: runs.filter((r) => r.config === name).map((r) => round(r.loadAvg1, 2)),
      lost: runs.filter((r) => r.config === name).reduce((n, r) => n + Math.max(0, r.integrity.expectedDeliveries - r.integrity.delivered), 0),
    }
  }
  const diffs = (field) => {
    const out = []
    for (let rep = 1; rep <= REPS; rep++) {
      const cross = runs.find((r) => r.config === 'cross' && r.rep === rep)
      const single = runs.find((r) => r.config === 'single' && r.rep === rep)
      if (cross && single) out.push(round(cross.result[field] - single.result[field], 2))
    }
    return out
  }
  if (summary.cross && summary.single) {
    summary.crossMinusSingleP50Ms = median(diffs('p50Ms'))
    summary.crossMinusSingleP50PerRep = diffs('p50Ms')
    summary.crossMinusSingleP99Ms = median(diffs('p99Ms'))
    summary.crossMinusSingleP99PerRep = diffs('p99Ms')
  }
  return summary
}

function printSummary(summary) {
  log('')
  log(`Broadcast latency at ${fmtRate(RATE * STEP.perRoom)} deliveries/s, medians of ${REPS} run(s) (${STEP.durationMs / 1000} s windows)`)
  log('| configuration | delivered/s | p50 ms (per rep) | p99 ms (per rep) | CPU per process | load (1 min) |')
  log('|---|---:|---|---|---|---|')
  for (const name of SELECTED) {
    const s = summary[name]
    log(`| ${name} | ${fmtRate(s.deliveredPerSec)} | ${fmtMs(s.p50Ms)} (${s.p50PerRep.map(fmtMs).join(', ')}) | ${fmtMs(s.p99Ms)} (${s.p99PerRep.map(fmtMs).join(', ')}) | ${Object.entries(s.cpuByProcess).map(([k, v]) => `${k} ${v}`).join(', ')}; rx ${s.receiverCpu} | ${s.loadAvg1.join(', ')} |`)
  }
  if (summary.crossMinusSingleP50Ms !== undefined) {
    const load = median(SELECTED.flatMap((name) => summary[name].loadAvg1))
    const verdict = load > BUSY_LOAD ? `not judged: median 1-minute load ${load} on ${cpus().length} cores (the nodes waited for a core)` : summary.crossMinusSingleP50Ms < 5 ? 'met' : 'NOT met'
    log(`cross − single: p50 ${fmtMs(summary.crossMinusSingleP50Ms)} ms (per rep ${summary.crossMinusSingleP50PerRep.join(', ')}), p99 ${fmtMs(summary.crossMinusSingleP99Ms)} ms (per rep ${summary.crossMinusSingleP99PerRep.join(', ')}); target p50 < 5 ms above single → ${verdict}`)
  }
  for (const name of SELECTED) if (summary[name].lost) log(`WARNING ${name}: ${summary[name].lost} deliveries missing after the drain`)
}

async function main() {
  const started = new Date()
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, pinned: canPin }
  log(`cluster latency bench · ${started.toISOString()} · ${machine.cpus}× ${machine.cpuModel} · node ${machine.node} · load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  const pg = await startPostgres()
  const runs = []
  try {
    for (let rep = 1; rep <= REPS; rep++) {
      const shift = (rep - 1) % SELECTED.length
      const order = [...SELECTED.slice(shift), ...SELECTED.slice(0, shift)]
      log(`repetition ${rep}/${REPS}: ${order.join(', ')}`)
      for (const name of order) runs.push(await runConfiguration(name, pg.url, rep))
    }
  } finally {
    await pg.stop()
  }
  const summary = summarize(runs)
  printSummary(summary)
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `cluster-latency-${started.toISOString().replace(/[:.]/g, '-')}.json`)
  const config = { rooms: ROOMS, perRoom: STEP.perRoom, broadcastsPerSec: RATE, warmupMs: STEP.warmupMs, durationMs: STEP.durationMs, reps: REPS, cores: { fanOutNode: FAN_OUT_CORE, publisherNodeRedisClients: OTHER_CORE } }
  writeFileSync(file, JSON.stringify({ date: started.toISOString(), machine, config, summary, runs }, null, 2))
  log(`wrote ${file} (${Math.round((Date.now() - started.getTime()) / 1000)} s)`)
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
