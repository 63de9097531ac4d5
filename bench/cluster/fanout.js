#!/usr/bin/env node
/**
 * Cluster fan-out benchmark: `--workers 2` vs one process, and what the shared log costs.
 * The load is bench/broadcast's (fleet.js, clients.js): 1,000 receivers in 10 rooms of 100,
 * one publisher per room sending kind-3 broadcasts with a window of 32 unacknowledged.
 *
 *   configuration   server (server-proc.js)                       Redis        clients
 *   single          one node, no Redis            taskset core 0  —            core 1
 *   single-redis    one node on Redis             taskset core 0  core 1       core 1
 *   workers         `--workers 2` on Redis: the CLI's primary + 2   core 1       core 1
 *                   workers, floating on cores 0-1 (--workers-cores)
 *
 * Each configuration gets a fresh Redis (`--save "" --appendonly no`, a free port) and runs the
 * fixed load (1,000 broadcasts/s = 100k deliveries/s), then the saturation ladder from
 * --ladder-start broadcasts/s (450k deliveries/s), ×1.5 per step, at most --max-steps steps. Per step: delivered/s, latency, CPU of every
 * process (server processes from /proc, Redis, receivers, publishers) and Redis's command
 * counts (INFO commandstats) over the window. Repetitions rotate the order of configurations.
 *
 * Flow control caveat: a cluster node acknowledges a broadcast once it has handed it to Redis
 * (hub/tenant-hub.ts publishUser returns after append), not after the fan-out, so on Redis the
 * publishers' window bounds what waits in the node, not what waits in Redis or on the way back.
 *
 * Usage: npm run build && node bench/cluster/fanout.js [--reps 3] [--warmup 1] [--duration 2]
 *        [--only single,single-redis,workers] [--ladder-start 4500] [--max-steps 7]
 *        [--workers-cores 0,1] [--quiet-wait 5] [--prof]
 * --prof: each server process under `node --cpu-prof`, profiles in bench/results/prof/
 *         (cluster-<configuration>-<rep>.cpuprofile; read them with Chrome DevTools or
 *         `node bench/lib/profile-top.js FILE`).
 * Writes bench/results/cluster-fanout-<date>.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { climbLadder, drainCheck, fmtMs, fmtRate, fmtStep, round, startClients, startServer, step, waitForQuiet } from '../broadcast/fleet.js'
import { canPin } from '../lib/child.js'
import { flag, helpFromHeader, option } from '../lib/cli.js'
import { startPostgres } from '../lib/postgres.js'
import { commandDelta, startRedis } from '../lib/redis.js'
import { median } from '../lib/stats.js'

await helpFromHeader(import.meta.url)

const here = dirname(fileURLToPath(import.meta.url))
const resultsDir = join(here, '..', 'results')
const log = (line) => console.log(line)

const REPS = Number(option('reps', 3))
const STEP = { warmupMs: Number(option('warmup', 1)) * 1000, durationMs: Number(option('duration', 2)) * 1000, perRoom: 100 }
const ROOMS = 10
const FIXED_BROADCASTS = 1_000
const LADDER_START = Number(option('ladder-start', 4_500))
const MAX_STEPS = Number(option('max-steps', 7))
// Short: nine configurations, and the whole bench should stay near 5 minutes on a shared box.
const QUIET_WAIT_MS = Number(option('quiet-wait', 5)) * 1000

const CONFIGS = {
  single: { mode: 'switchboard', redis: false, serverCore: '0' },
  'single-redis': { mode: 'switchboard', redis: true, serverCore: '0' },
  workers: { mode: 'workers', redis: true, serverCore: option('workers-cores', '0,1'), env: { BENCH_WORKERS: '2' } },
}
const SELECTED = (option('only') ?? Object.keys(CONFIGS).join(',')).split(',')
const CLIENT_CORE = '1'
const REDIS_CORE = '1'

/** The loop's broadcasts appended to the shared log over a step's window, from Redis's command counts. */
function redisWindow(redis) {
  let before = null
  return {
    start: async () => {
      before = await redis.commandStats()
    },
    end: async () => {
      const delta = commandDelta(before, await redis.commandStats())
      const appends = (delta.byCommand.eval ?? 0) + (delta.byCommand.evalsha ?? 0)
      return { commands: delta.total, appends, byCommand: delta.byCommand }
    },
  }
}

async function runConfiguration(name, databaseUrl, rep) {
  const config = CONFIGS[name]
  const quiet = await waitForQuiet({ waitMs: QUIET_WAIT_MS, log })
  const load = loadavg()[0]
  const redis = config.redis ? await startRedis({ core: REDIS_CORE }) : null
  let server = null
  let clients = null
  try {
    const env = { BENCH_DATABASE_URL: databaseUrl, ...(redis ? { BENCH_REDIS_URL: redis.url } : {}), ...config.env }
    const execArgv = flag('prof') ? ['--cpu-prof', `--cpu-prof-dir=${join(resultsDir, 'prof')}`, `--cpu-prof-name=cluster-${name}-${rep}.cpuprofile`] : []
    server = await startServer(config.mode, config.serverCore, { env, execArgv })
    clients = await startClients({ publishTo: server, rooms: ROOMS, perRoom: STEP.perRoom, core: CLIENT_CORE })
    const ctx = {
      servers: [server],
      receivers: clients.receivers,
      publishers: clients.publishers,
      ...(redis ? { otherCpu: { redis: redis.cpuUs }, onWindow: redisWindow(redis) } : {}),
    }
    const fixed = await step(ctx, FIXED_BROADCASTS, STEP)
    log(`  ${name.padEnd(12)} fixed ${fmtStep(fixed)}${fmtRedis(fixed)}`)
    const ladder = await climbLadder(ctx, {
      startRate: LADDER_START, factor: 1.5, maxSteps: MAX_STEPS, maxRetries: 1,
      // A server that has not got most of what it could use was starved by other work on the box.
      starvedCpu: config.mode === 'workers' ? 1.2 : 0.85, stepOptions: STEP, label: name, log: (line) => log(line),
    })
    const integrity = await drainCheck(ctx, STEP.perRoom)
    const saturation = [fixed, ...ladder].reduce((a, b) => (b.deliveredPerSec > a.deliveredPerSec ? b : a))
    log(`  ${name.padEnd(12)} saturation ${fmtRate(saturation.deliveredPerSec)}/s${fmtRedis(saturation)}; drain: ${integrity.delivered}/${integrity.expectedDeliveries} delivered, ${integrity.closedSockets} closed`)
    return { config: name, rep, quiet, loadAvg1: load, joinMs: clients.joinMs, pids: server.pids, fixed, ladder, saturation, integrity }
  } finally {
    await clients?.stop()
    await server?.stop('stop')
    await redis?.stop()
  }
}

const fmtRedis = (s) => (s.window ? `  redis: ${s.window.appends} appends, ${round(s.window.commands / Math.max(1, s.window.appends), 2)} commands each` : '')

// ─── summary ────────────────────────────────────────────────────────────────────────────

function summarize(runs) {
  const summary = {}
  for (const name of SELECTED) {
    const mine = runs.filter((r) => r.config === name)
    const sat = mine.map((r) => r.saturation)
    const roles = [...new Set(sat.flatMap((s) => Object.keys(s.cpuByProcess ?? {})))]
    summary[name] = {
      runs: mine.length,
      fixedP50Ms: median(mine.map((r) => r.fixed.p50Ms)),
      fixedP99Ms: median(mine.map((r) => r.fixed.p99Ms)),
      fixedServerCpu: median(mine.map((r) => r.fixed.serverCpu)),
      saturationDeliveredPerSec: median(sat.map((s) => s.deliveredPerSec)),
      saturationPerRep: sat.map((s) => s.deliveredPerSec),
      saturationP50Ms: median(sat.map((s) => s.p50Ms)),
      saturationP99Ms: median(sat.map((s) => s.p99Ms)),
      saturationServerCpu: median(sat.map((s) => s.serverCpu)),
      saturationDeliveredPerServerCpuSec: median(sat.map((s) => s.deliveredPerServerCpuSec)),
      saturationReceiverCpu: median(sat.map((s) => s.receiverCpu)),
      saturationPublisherCpu: median(sat.map((s) => s.publisherCpu)),
      saturationCpuByProcess: Object.fromEntries(roles.map((role) => [role, median(sat.map((s) => s.cpuByProcess?.[role] ?? null))])),
      saturationCoreBusy: [0, 1].map((i) => median(sat.map((s) => s.coreBusy?.[i] ?? null))),
      redisCommandsPerBroadcast: median(sat.filter((s) => s.window).map((s) => s.window.commands / Math.max(1, s.window.appends))),
      redisAppendsPerSec: median(sat.filter((s) => s.window).map((s) => (s.window.appends * 1000) / STEP.durationMs)),
      loadAvg1: mine.map((r) => round(r.loadAvg1, 2)),
      lostDeliveries: mine.reduce((n, r) => n + Math.max(0, r.integrity.expectedDeliveries - r.integrity.delivered), 0),
      closedSockets: mine.reduce((n, r) => n + r.integrity.closedSockets, 0),
    }
  }
  const perRepRatio = (a, b) => {
    const out = []
    for (let rep = 1; rep <= REPS; rep++) {
      const x = runs.find((r) => r.config === a && r.rep === rep)
      const y = runs.find((r) => r.config === b && r.rep === rep)
      if (x && y) out.push(round(x.saturation.deliveredPerSec / y.saturation.deliveredPerSec, 2))
    }
    return out
  }
  if (summary.workers && summary['single-redis']) {
    summary.workersOverSingle = round(median(perRepRatio('workers', 'single-redis')), 2)
    summary.workersOverSinglePerRep = perRepRatio('workers', 'single-redis')
  }
  if (summary.single && summary['single-redis']) {
    summary.redisOverNoRedis = round(median(perRepRatio('single-redis', 'single')), 2)
    summary.redisOverNoRedisPerRep = perRepRatio('single-redis', 'single')
    summary.redisOverNoRedisPerServerCpuSec = round(summary['single-redis'].saturationDeliveredPerServerCpuSec / summary.single.saturationDeliveredPerServerCpuSec, 2)
  }
  return summary
}

function printSummary(summary) {
  log('')
  log(`Cluster fan-out: ${ROOMS} rooms × ${STEP.perRoom} receivers, medians of ${REPS} run(s)`)
  log('| configuration | @100k: p50 / p99 ms | server cpu | saturation delivered/s | p50 / p99 ms | server cpu | per server CPU-s | CPU per process at saturation | Redis commands / broadcast |')
  log('|---|---:|---:|---:|---:|---:|---:|---|---:|')
  for (const name of SELECTED) {
    const s = summary[name]
    const cpu = Object.entries(s.saturationCpuByProcess).map(([k, v]) => `${k} ${v}`).join(', ') || `server ${s.saturationServerCpu}`
    log(`| ${name} | ${fmtMs(s.fixedP50Ms)} / ${fmtMs(s.fixedP99Ms)} | ${s.fixedServerCpu} | ${fmtRate(s.saturationDeliveredPerSec)} (${s.saturationPerRep.map(fmtRate).join(', ')}) | ${fmtMs(s.saturationP50Ms)} / ${fmtMs(s.saturationP99Ms)} | ${s.saturationServerCpu} | ${fmtRate(s.saturationDeliveredPerServerCpuSec)} | ${cpu}; rx ${s.saturationReceiverCpu}, tx ${s.saturationPublisherCpu} | ${s.redisCommandsPerBroadcast === null ? '—' : round(s.redisCommandsPerBroadcast, 2)} |`)
  }
  if (summary.workersOverSingle !== undefined) log(`workers 2 / single (both on Redis) at saturation: ${summary.workersOverSingle}× (per repetition ${summary.workersOverSinglePerRep.join(', ')}); target ≥ 1.6× → ${summary.workersOverSingle >= 1.6 ? 'met' : 'NOT met'}`)
  if (summary.redisOverNoRedis !== undefined) log(`single on Redis / single without at saturation: ${summary.redisOverNoRedis}× (per repetition ${summary.redisOverNoRedisPerRep.join(', ')}); per server CPU-second ${summary.redisOverNoRedisPerServerCpuSec}×`)
  for (const name of SELECTED) {
    const s = summary[name]
    if (s.lostDeliveries || s.closedSockets) log(`WARNING ${name}: ${s.lostDeliveries} deliveries missing after the drain, ${s.closedSockets} sockets closed`)
  }
}

// ─── main ───────────────────────────────────────────────────────────────────────────────

async function main() {
  const started = new Date()
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, pinned: canPin, kernel: readFileSync('/proc/version', 'utf8').split(' ')[2] }
  log(`cluster fan-out bench · ${started.toISOString()} · ${machine.cpus}× ${machine.cpuModel} · node ${machine.node} · load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  log(`warm-up ${STEP.warmupMs / 1000} s + measured ${STEP.durationMs / 1000} s per step, ${REPS} repetition(s), configurations ${SELECTED.join(', ')}`)
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
  const file = join(resultsDir, `cluster-fanout-${started.toISOString().replace(/[:.]/g, '-')}.json`)
  const config = { rooms: ROOMS, perRoom: STEP.perRoom, fixedBroadcastsPerSec: FIXED_BROADCASTS, ladderStart: LADDER_START, ladderFactor: 1.5, warmupMs: STEP.warmupMs, durationMs: STEP.durationMs, reps: REPS, cores: Object.fromEntries(SELECTED.map((n) => [n, { server: CONFIGS[n].serverCore, redis: CONFIGS[n].redis ? REDIS_CORE : null, clients: CLIENT_CORE }])) }
  writeFileSync(file, JSON.stringify({ date: started.toISOString(), machine, config, summary, runs }, null, 2))
  log(`wrote ${file} (${Math.round((Date.now() - started.getTime()) / 1000)} s)`)
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
