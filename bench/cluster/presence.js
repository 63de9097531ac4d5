#!/usr/bin/env node
/**
 * Presence convergence across 3 nodes: N clients on one topic, spread evenly over nodes A, B
 * and C (three server-proc.js processes, one Redis, one Postgres); one more client on A tracks,
 * and the trial times how long until every client on B and on C has the tracker in its
 * presence (the `presence_diff` join reached its last observer there); then the tracker
 * untracks and the same for the leave. A is reported too (same node, no Redis hop on the way
 * in; its diff still goes through Redis for the others).
 *
 *   presence.js ──┬── Postgres (embedded, idle), Redis          Redis on core 1
 *                 ├── server-proc.js × 3 (A, B, C)              nodes on core 0
 *                 └── presence-clients.js (all N + tracker)     clients on core 1
 *
 * Trials run one after another (the next starts once the leave was seen everywhere, or the
 * timeout passed), --gap ms apart. Convergence of a trial = the time to the last observer of a
 * node; the report gives p50/p99 over trials per node and for B and C together (the later of
 * the two), join and leave. A trial whose event some observer never saw counts as the timeout
 * (it ranks above every measured time, so it lands in the p99).
 *
 * Usage: npm run build && node bench/cluster/presence.js [--clients 300] [--trials 200]
 *        [--gap 20] [--timeout 5000] [--quiet-wait 5]
 * Writes bench/results/cluster-presence-<date>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { coreTimes, coreBusy, fmtMs, round, sleep, startServer, waitForQuiet } from '../broadcast/fleet.js'
import { canPin, spawnNode } from '../lib/child.js'
import { helpFromHeader, option } from '../lib/cli.js'
import { startPostgres } from '../lib/postgres.js'
import { startRedis } from '../lib/redis.js'

await helpFromHeader(import.meta.url)

const here = dirname(fileURLToPath(import.meta.url))
const resultsDir = join(here, '..', 'results')
const log = (line) => console.log(line)

const CLIENTS = Number(option('clients', 300))
const TRIALS = Number(option('trials', 200))
const GAP_MS = Number(option('gap', 20))
const TIMEOUT_MS = Number(option('timeout', 5_000))
const QUIET_WAIT_MS = Number(option('quiet-wait', 5)) * 1000
const NODES = ['A', 'B', 'C']
const NODE_CORE = '0'
const OTHER_CORE = '1'

/** The q-quantile of `values` (nearest rank); null when empty. */
function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
}

async function main() {
  const started = new Date()
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, pinned: canPin }
  log(`cluster presence bench · ${started.toISOString()} · ${machine.cpus}× ${machine.cpuModel} · node ${machine.node} · load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  const quiet = await waitForQuiet({ waitMs: QUIET_WAIT_MS, log })
  const loadAvg1 = loadavg()[0]
  const pg = await startPostgres()
  const redis = await startRedis({ core: OTHER_CORE })
  const servers = []
  let clients = null
  const trials = []
  let cpu = null
  try {
    for (const name of NODES) {
      const env = { BENCH_DATABASE_URL: pg.url, BENCH_REDIS_URL: redis.url, BENCH_NODE_ID: `bench-${name}` }
      servers.push(Object.assign(await startServer('switchboard', NODE_CORE, { env }), { name }))
    }
    clients = spawnNode(join(here, 'presence-clients.js'), { core: OTHER_CORE, slowWarningMs: 15_000 })
    await clients.ready
    const perNode = Math.ceil(CLIENTS / NODES.length)
    await clients.call('start', { nodes: servers.map((s) => ({ name: s.name, port: s.port, apiKey: s.apiKey })), perNode, topic: 'realtime:presence-bench' })
    log(`${perNode * NODES.length} observers (${perNode} per node) + 1 tracker on A; ${TRIALS} trials`)
    // A first track/untrack, not measured: the first presence write of a topic sets up its keys.
    await clients.call('trial', { trial: -1, timeoutMs: TIMEOUT_MS })
    const cpu0 = { nodes: await Promise.all(servers.map((s) => s.call('cpu'))), redis: redis.cpuUs(), cores: coreTimes(), at: performance.now() }
    for (let trial = 0; trial < TRIALS; trial++) {
      trials.push({ trial, ...(await clients.call('trial', { trial, timeoutMs: TIMEOUT_MS })) })
      if ((trial + 1) % 50 === 0) log(`  ${trial + 1} trials`)
      await sleep(GAP_MS)
    }
    const seconds = (performance.now() - cpu0.at) / 1000
    const nodesCpu = await Promise.all(servers.map((s) => s.call('cpu')))
    cpu = {
      ...Object.fromEntries(servers.map((s, i) => [s.name, round((nodesCpu[i].cpuUs - cpu0.nodes[i].cpuUs) / 1e6 / seconds, 3)])),
      redis: round((redis.cpuUs() - cpu0.redis) / 1e6 / seconds, 3),
      coreBusy: coreBusy(cpu0.cores, coreTimes()),
    }
  } finally {
    await clients?.stop('exit')
    for (const server of servers) await server.stop('stop')
    await redis.stop()
    await pg.stop()
  }

  // ─── summary ──────────────────────────────────────────────────────────────────────────
  const time = (entry) => (entry.missing > 0 || entry.lastMs === null ? TIMEOUT_MS : entry.lastMs)
  const summary = { trials: trials.length, clients: CLIENTS, loadAvg1: round(loadAvg1, 2), quiet, cpu }
  for (const kind of ['join', 'leave']) {
    const series = {
      A: trials.map((t) => time(t[kind].A)),
      B: trials.map((t) => time(t[kind].B)),
      C: trials.map((t) => time(t[kind].C)),
    }
    series['B+C'] = trials.map((t) => Math.max(time(t[kind].B), time(t[kind].C)))
    summary[kind] = Object.fromEntries(Object.entries(series).map(([node, values]) => [node, { p50Ms: round(quantile(values, 0.5), 2), p99Ms: round(quantile(values, 0.99), 2), maxMs: round(Math.max(...values), 2) }]))
    summary[kind].timedOut = trials.filter((t) => NODES.some((n) => t[kind][n].missing > 0)).length
  }
  log('')
  log(`Presence convergence over 3 nodes, ${CLIENTS} clients, ${trials.length} trials (1-min load ${summary.loadAvg1})`)
  log('| event | A (tracker\'s node) p50 / p99 | B p50 / p99 | C p50 / p99 | every client on B and C: p50 / p99 / max | timed out |')
  log('|---|---:|---:|---:|---:|---:|')
  for (const kind of ['join', 'leave']) {
    const s = summary[kind]
    log(`| ${kind} | ${fmtMs(s.A.p50Ms)} / ${fmtMs(s.A.p99Ms)} ms | ${fmtMs(s.B.p50Ms)} / ${fmtMs(s.B.p99Ms)} ms | ${fmtMs(s.C.p50Ms)} / ${fmtMs(s.C.p99Ms)} ms | ${fmtMs(s['B+C'].p50Ms)} / ${fmtMs(s['B+C'].p99Ms)} / ${fmtMs(s['B+C'].maxMs)} ms | ${s.timedOut} |`)
  }
  log(`CPU over the trials: ${Object.entries(cpu ?? {}).filter(([k]) => k !== 'coreBusy').map(([k, v]) => `${k} ${v}`).join(', ')}; cores busy ${cpu?.coreBusy?.join('/')}`)
  const worst = Math.max(summary.join['B+C'].p99Ms, summary.leave['B+C'].p99Ms)
  log(`Target p99 < 500 ms (join and leave, every client on B and C) → ${worst < 500 ? 'met' : 'NOT met'} (${fmtMs(worst)} ms)`)
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `cluster-presence-${started.toISOString().replace(/[:.]/g, '-')}.json`)
  const config = { clients: CLIENTS, trials: TRIALS, gapMs: GAP_MS, timeoutMs: TIMEOUT_MS, cores: { nodes: NODE_CORE, redisAndClients: OTHER_CORE } }
  writeFileSync(file, JSON.stringify({ date: started.toISOString(), machine, config, summary, trials }, null, 2))
  log(`wrote ${file} (${Math.round((Date.now() - started.getTime()) / 1000)} s)`)
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
