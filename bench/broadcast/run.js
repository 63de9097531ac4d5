#!/usr/bin/env node
/**
 * Broadcast fan-out benchmark: Switchboard vs a minimal `ws` server (baseline-server.js).
 *
 *   run.js ──┬── embedded Postgres (Switchboard's database; idle during the measurement)
 *            ├── server-proc.js   (switchboard | baseline)   pinned to core 0
 *            ├── clients.js receivers  (1,000 sockets)       pinned to core 1
 *            └── clients.js publishers (1 socket per room)   pinned to core 1
 *
 * For each configuration: the fixed load (1,000 broadcasts/s × 100 recipients = 100k
 * deliveries/s), then a ladder of higher offered rates until delivered/s stops growing.
 * Each step: warm-up, then a measured window; deliveries are what the receivers parsed.
 * Configurations alternate order between repetitions; the summary reports medians.
 *
 * Usage: npm run build && node bench/broadcast/run.js [--reps 3] [--warmup 1] [--duration 2]
 *        [--only switchboard|baseline] [--fixed 1000] [--fixed-only] [--prof] [--database-url URL]
 *        [--also NAME=/abs/path/to/another/packages/server/dist]   (A/B of two Switchboard builds)
 *        [--tracing]   the inspector's delivery trace off vs on, in PAIRS: one Switchboard process,
 *                      every offered rate (the fixed load, then the ladder) measured once with
 *                      tracing off and once on, switched through the inspector API between the
 *                      two (order alternating), so both halves of a pair share the machine's state.
 *                      Reports the median on/off ratio of delivered/s over the saturated pairs and
 *                      of deliveries per server CPU-second over all pairs. No baseline. With --prof,
 *                      also the share of the server's sampled CPU time in the inspector's code.
 * BENCH_SERVER_NODE_ARGS='--trace-gc' (or any node flags, space-separated): the servers' node flags.
 * Writes bench/results/broadcast-<date>.json.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { canPin } from '../lib/child.js'
import { argv, flag, option, helpFromHeader } from '../lib/cli.js'
import { BENCH_ADMIN_KEY, setTracing } from '../lib/inspector.js'
import { startPostgres } from '../lib/postgres.js'
import { profileShares } from '../lib/profile-share.js'
import { median } from '../lib/stats.js'
import { climbLadder, drainCheck as drain, fmtMs, fmtRate, fmtStep, round, startClients, startServer, step as measureStep, waitForQuiet as quiet } from './fleet.js'

await helpFromHeader(import.meta.url)

const here = dirname(fileURLToPath(import.meta.url))
const resultsDir = join(here, '..', 'results')

// ─── options ────────────────────────────────────────────────────────────────────────────

const REPS = Number(option('reps', 3))
const WARMUP_MS = Number(option('warmup', 1)) * 1000
const DURATION_MS = Number(option('duration', 2)) * 1000
const ROOMS = 10
const PER_ROOM = 100
const FIXED_BROADCASTS = Number(option('fixed', 1_000)) // × 100 recipients = 100k deliveries/s
const LADDER = !flag('fixed-only')
const LADDER_FACTOR = 1.5
const MAX_LADDER_STEPS = 12
/** Starved steps repeated per configuration, at most (keeps the whole bench near 5 minutes). */
const MAX_RETRIES = 2
/** A step behind its offered load with less server CPU than this was starved, not saturated. */
const STARVED_CPU = 0.85
/** `--also before=/abs/path/to/packages/server/dist`: one more Switchboard build, for A/B runs. */
const EXTRA_BUILDS = new Map(argv.flatMap((a, i) => (argv[i - 1] === '--also' ? [a.split('=')] : [])))
const SERVERS = [...(option('only') ? [option('only')] : ['baseline', 'switchboard']), ...EXTRA_BUILDS.keys()]

/** BENCH_SERVER_NODE_ARGS='--trace-gc' (space-separated node flags): the server processes' node flags. */
const SERVER_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean)

const SERVER_CORE = '0'
const CLIENT_CORE = '1'

// ─── one configuration (the pieces: fleet.js) ───────────────────────────────────────────

const step = (ctx, broadcastsPerSecond) => measureStep(ctx, broadcastsPerSecond, { warmupMs: WARMUP_MS, durationMs: DURATION_MS, perRoom: PER_ROOM })
const drainCheck = (ctx) => drain(ctx, PER_ROOM)

/**
 * The box is shared: before each configuration, wait (up to --quiet-wait s) until both cores
 * were less than 25 % busy for a second. Returns the last sample, stored with the run.
 */
const QUIET_WAIT_MS = Number(option('quiet-wait', 30)) * 1000
const waitForQuiet = () => quiet({ waitMs: QUIET_WAIT_MS, log })

/** The server (`args`, `env`) on its core and the two client processes on theirs, all sockets joined. */
async function startFleet(args, env, execArgv = []) {
  const server = await startServer(args[0], SERVER_CORE, { env, execArgv })
  try {
    const clients = await startClients({ publishTo: server, rooms: ROOMS, perRoom: PER_ROOM, core: CLIENT_CORE })
    const { receivers, publishers } = clients
    const ctx = { servers: [server], receivers, publishers, port: server.port, stop: async () => {
      await clients.stop()
      await server.stop('stop')
    } }
    return { ctx, frameBytes: clients.frameBytes, payloadBytes: clients.payloadBytes, joinMs: clients.joinMs }
  } catch (error) {
    await server.stop('stop')
    throw error
  }
}

async function runConfiguration(serverMode, databaseUrl, rep) {
  const quiet = await waitForQuiet()
  const execArgv = [...SERVER_NODE_ARGS, ...(flag('prof') ? ['--cpu-prof', `--cpu-prof-dir=${join(resultsDir, 'prof')}`, `--cpu-prof-name=${serverMode}-${rep}.cpuprofile`] : [])]
  const dist = EXTRA_BUILDS.get(serverMode)
  const env = { BENCH_DATABASE_URL: databaseUrl, ...(dist ? { BENCH_SERVER_DIST: dist } : {}) }
  const { ctx, frameBytes, payloadBytes, joinMs } = await startFleet([dist ? 'switchboard' : serverMode], env, execArgv)
  try {
    const fixed = await step(ctx, FIXED_BROADCASTS)
    log(`  ${serverMode.padEnd(11)} fixed ${fmtStep(fixed)}`)
    const ladder = [fixed]
    if (LADDER) {
      ladder.push(...(await climbLadder(ctx, {
        startRate: Math.round(FIXED_BROADCASTS * LADDER_FACTOR), best: fixed.deliveredPerSec, factor: LADDER_FACTOR, maxSteps: MAX_LADDER_STEPS, maxRetries: MAX_RETRIES,
        starvedCpu: STARVED_CPU, stepOptions: { warmupMs: WARMUP_MS, durationMs: DURATION_MS, perRoom: PER_ROOM }, label: serverMode, log,
      })))
    }
    // Drain: every broadcast sent must reach its 100 recipients (nothing lost, nothing extra).
    const integrity = await drainCheck(ctx)
    const saturation = ladder.reduce((a, b) => (b.deliveredPerSec > a.deliveredPerSec ? b : a))
    return {
      server: serverMode,
      rep,
      quiet,
      joinMs,
      frameBytes,
      payloadBytes,
      fixed,
      ladder,
      saturation,
      integrity,
    }
  } finally {
    await ctx.stop()
  }
}

// ─── tracing on vs off, in pairs (--tracing) ─────────────────────────────────────────────

const TRACING = flag('tracing')
/** Ladder rates of a tracing run, × the fixed rate: 1.5^1 … 1.5^7 (about 17×, past saturation). */
const TRACING_STEPS = 7

async function runTracingPairs(databaseUrl, rep) {
  const quiet = await waitForQuiet()
  const execArgv = [...SERVER_NODE_ARGS, ...(flag('prof') ? ['--cpu-prof', `--cpu-prof-dir=${join(resultsDir, 'prof')}`, `--cpu-prof-name=tracing-${rep}.cpuprofile`] : [])]
  const { ctx } = await startFleet(['switchboard'], { BENCH_DATABASE_URL: databaseUrl, BENCH_ADMIN_KEY }, execArgv)
  const { port } = ctx
  try {
    const pairs = []
    for (let i = 0; i <= (LADDER ? TRACING_STEPS : 0); i++) {
      const rate = Math.round(FIXED_BROADCASTS * LADDER_FACTOR ** i)
      const pair = { offeredDeliveriesPerSec: rate * PER_ROOM }
      for (const on of (rep + i) % 2 === 0 ? [false, true] : [true, false]) {
        await setTracing(port, on)
        pair[on ? 'on' : 'off'] = await step(ctx, rate)
      }
      pairs.push(pair)
      log(`  ${i === 0 ? 'fixed' : 'step '} off ${fmtStep(pair.off)}\n        on  ${fmtStep(pair.on)}`)
    }
    await setTracing(port, false)
    return { rep, quiet, pairs, integrity: await drainCheck(ctx) }
  } finally {
    await ctx.stop()
  }
}

function summarizeTracing(runs) {
  const pairs = runs.flatMap((r) => r.pairs)
  const ratio = (a, b) => (b > 0 ? a / b : null)
  const saturated = pairs.filter((p) => p.off.deliveredPerSec < 0.97 * p.offeredDeliveriesPerSec || p.on.deliveredPerSec < 0.97 * p.offeredDeliveriesPerSec)
  const fixed = runs.map((r) => r.pairs[0])
  const best = (r, side) => Math.max(...r.pairs.map((p) => p[side].deliveredPerSec))
  return {
    pairs: pairs.length,
    saturatedPairs: saturated.length,
    saturatedDeliveredRatio: round(median(saturated.map((p) => ratio(p.on.deliveredPerSec, p.off.deliveredPerSec))), 3),
    perServerCpuSecRatio: round(median(pairs.map((p) => ratio(p.on.deliveredPerServerCpuSec, p.off.deliveredPerServerCpuSec))), 3),
    bestDelivered: { off: median(runs.map((r) => best(r, 'off'))), on: median(runs.map((r) => best(r, 'on'))) },
    bestDeliveredRatioPerRep: runs.map((r) => round(best(r, 'on') / best(r, 'off'), 3)),
    fixed: {
      serverCpu: { off: median(fixed.map((p) => p.off.serverCpu)), on: median(fixed.map((p) => p.on.serverCpu)) },
      p50Ms: { off: median(fixed.map((p) => p.off.p50Ms)), on: median(fixed.map((p) => p.on.p50Ms)) },
      p99Ms: { off: median(fixed.map((p) => p.off.p99Ms)), on: median(fixed.map((p) => p.on.p99Ms)) },
      perServerCpuSecRatio: round(median(fixed.map((p) => ratio(p.on.deliveredPerServerCpuSec, p.off.deliveredPerServerCpuSec))), 3),
    },
    lostDeliveries: runs.reduce((n, r) => n + Math.max(0, r.integrity.expectedDeliveries - r.integrity.delivered), 0),
    closedSockets: runs.reduce((n, r) => n + r.integrity.closedSockets, 0),
  }
}

/**
 * `--tracing --prof`: the share of the server's running time in the inspector's code
 * (packages/server/dist/inspect/), over whole repetitions with tracing on half the time.
 */
function profileSummary() {
  const shares = []
  for (let rep = 1; rep <= REPS; rep++) {
    const file = join(resultsDir, 'prof', `tracing-${rep}.cpuprofile`)
    if (existsSync(file)) shares.push(profileShares(file, { inspector: /\/inspect\// }))
  }
  return { inspectorShare: round(median(shares.map((s) => s.inspector)), 4), gcShare: round(median(shares.map((s) => s.gc)), 4), perRep: shares.map((s) => round(s.inspector, 4)) }
}

function printTracing(t) {
  const pct = (ratio) => `${((1 - ratio) * 100).toFixed(1)} %`
  log('')
  log(`Tracing on / off, ${t.pairs} pairs over ${REPS} repetition(s), medians of the paired ratios:`)
  log(`  delivered/s at saturation (${t.saturatedPairs} saturated pairs): ${t.saturatedDeliveredRatio}× → cost ${pct(t.saturatedDeliveredRatio)}`)
  log(`  best step per repetition: off ${fmtRate(t.bestDelivered.off)}/s, on ${fmtRate(t.bestDelivered.on)}/s (on/off per repetition: ${t.bestDeliveredRatioPerRep.join(', ')})`)
  log(`  deliveries per server CPU-second, all pairs: ${t.perServerCpuSecRatio}× → cost ${pct(t.perServerCpuSecRatio)}`)
  log(`  at ${fmtRate(FIXED_BROADCASTS * PER_ROOM)}/s: server CPU ${t.fixed.serverCpu.off} → ${t.fixed.serverCpu.on}, per CPU-second ${t.fixed.perServerCpuSecRatio}×, p50 ${fmtMs(t.fixed.p50Ms.off)} → ${fmtMs(t.fixed.p50Ms.on)} ms, p99 ${fmtMs(t.fixed.p99Ms.off)} → ${fmtMs(t.fixed.p99Ms.on)} ms`)
  log(`Target: cost ≤ 5 % → ${t.saturatedDeliveredRatio >= 0.95 ? 'met' : 'NOT met'} (throughput at saturation), ${t.perServerCpuSecRatio >= 0.95 ? 'met' : 'NOT met'} (per CPU-second)`)
  if (t.profile) {
    log(`  profile: the inspector's code is ${(t.profile.inspectorShare * 100).toFixed(2)} % of the server's running time over whole repetitions, tracing on half of it ` +
      `(≈ ${(t.profile.inspectorShare * 200).toFixed(2)} % while on; per repetition ${t.profile.perRep.map((x) => (x * 100).toFixed(2)).join(', ')} %); GC ${(t.profile.gcShare * 100).toFixed(1)} %`)
  }
  if (t.lostDeliveries || t.closedSockets) log(`WARNING: ${t.lostDeliveries} deliveries missing, ${t.closedSockets} sockets closed`)
}

// ─── report ─────────────────────────────────────────────────────────────────────────────

const log = (line) => console.log(line)

function summarize(runs) {
  const summary = {}
  for (const server of SERVERS) {
    const mine = runs.filter((r) => r.server === server)
    summary[server] = {
      runs: mine.length,
      fixedDeliveredPerSec: median(mine.map((r) => r.fixed.deliveredPerSec)),
      fixedP50Ms: median(mine.map((r) => r.fixed.p50Ms)),
      fixedP99Ms: median(mine.map((r) => r.fixed.p99Ms)),
      fixedServerCpu: median(mine.map((r) => r.fixed.serverCpu)),
      saturationDeliveredPerSec: median(mine.map((r) => r.saturation.deliveredPerSec)),
      saturationP50Ms: median(mine.map((r) => r.saturation.p50Ms)),
      saturationP99Ms: median(mine.map((r) => r.saturation.p99Ms)),
      saturationServerCpu: median(mine.map((r) => r.saturation.serverCpu)),
      saturationDeliveredPerServerCpuSec: median(mine.map((r) => r.saturation.deliveredPerServerCpuSec)),
      fixedDeliveredPerServerCpuSec: median(mine.map((r) => r.fixed.deliveredPerServerCpuSec)),
      saturationReceiverCpu: median(mine.map((r) => r.saturation.receiverCpu)),
      lostDeliveries: mine.reduce((n, r) => n + Math.max(0, r.integrity.expectedDeliveries - r.integrity.delivered), 0),
      closedSockets: mine.reduce((n, r) => n + r.integrity.closedSockets, 0),
    }
  }
  if (summary.baseline && summary.switchboard) {
    summary.ratioAtSaturation = round(summary.switchboard.saturationDeliveredPerSec / summary.baseline.saturationDeliveredPerSec, 2)
    const perRep = []
    for (let rep = 1; rep <= REPS; rep++) {
      const sb = runs.find((r) => r.server === 'switchboard' && r.rep === rep)
      const base = runs.find((r) => r.server === 'baseline' && r.rep === rep)
      if (sb && base) perRep.push(round(sb.saturation.deliveredPerSec / base.saturation.deliveredPerSec, 2))
    }
    summary.ratioPerRep = perRep
    summary.ratioPerServerCpuSecAtSaturation = round(summary.switchboard.saturationDeliveredPerServerCpuSec / summary.baseline.saturationDeliveredPerServerCpuSec, 2)
  }
  return summary
}

function printSummary(summary) {
  log('')
  log(`Broadcast fan-out: ${ROOMS} rooms × ${PER_ROOM} receivers, medians of ${REPS} run(s)`)
  log(`| server      | @${fmtRate(FIXED_BROADCASTS * PER_ROOM)} offered: delivered/s | p50 ms | p99 ms | server cpu | saturation: delivered/s | p50 ms | p99 ms | server cpu | per server CPU-s |`)
  log('|-------------|---------------------------:|-------:|-------:|-----------:|------------------------:|-------:|-------:|-----------:|-----------------:|')
  for (const server of SERVERS) {
    const s = summary[server]
    log(`| ${server.padEnd(11)} | ${fmtRate(s.fixedDeliveredPerSec).padStart(26)} | ${fmtMs(s.fixedP50Ms).padStart(6)} | ${fmtMs(s.fixedP99Ms).padStart(6)} | ${String(round(s.fixedServerCpu, 2)).padStart(10)} | ${fmtRate(s.saturationDeliveredPerSec).padStart(23)} | ${fmtMs(s.saturationP50Ms).padStart(6)} | ${fmtMs(s.saturationP99Ms).padStart(6)} | ${String(round(s.saturationServerCpu, 2)).padStart(10)} | ${fmtRate(s.saturationDeliveredPerServerCpuSec).padStart(16)} |`)
  }
  if (!LADDER) {
    log('(--fixed-only: no saturation ladder, so no ratio)')
  } else if (summary.ratioAtSaturation !== undefined) {
    log(`Switchboard / baseline at saturation: ${summary.ratioAtSaturation}× (per repetition: ${summary.ratioPerRep.join(', ')}); per server CPU-second: ${summary.ratioPerServerCpuSecAtSaturation}×`)
    const sb = summary.switchboard
    log(`Targets: ratio ≥ 10× → ${summary.ratioAtSaturation >= 10 ? 'met' : 'NOT met'}; p99 < 50 ms at 100k/s → ${sb.fixedP99Ms !== null && sb.fixedP99Ms < 50 ? 'met' : 'NOT met'} (${fmtMs(sb.fixedP99Ms)} ms)`)
  }
  for (const server of SERVERS) {
    const s = summary[server]
    if (s.lostDeliveries || s.closedSockets) log(`WARNING ${server}: ${s.lostDeliveries} deliveries missing, ${s.closedSockets} sockets closed`)
  }
}

// ─── main ───────────────────────────────────────────────────────────────────────────────

async function main() {
  const started = new Date()
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGb: Math.round(totalmem() / 1e9), node: process.version, pinned: canPin }
  log(`broadcast fan-out bench · ${started.toISOString()} · ${machine.cpus}× ${machine.cpuModel} · node ${machine.node}`)
  log(canPin ? `server on core ${SERVER_CORE}, clients on core ${CLIENT_CORE} (taskset)` : 'not pinned (taskset missing or one core)')
  log(`warm-up ${WARMUP_MS / 1000} s + measured ${DURATION_MS / 1000} s per step, ${REPS} repetition(s)`)
  const pg = option('database-url') ? { url: option('database-url'), stop: async () => {} } : SERVERS.some((s) => s !== 'baseline') ? await startPostgres() : { url: '', stop: async () => {} }
  const runs = []
  if (TRACING) {
    try {
      for (let rep = 1; rep <= REPS; rep++) {
        log(`repetition ${rep}/${REPS} (tracing off / on, in pairs)`)
        runs.push(await runTracingPairs(pg.url, rep))
      }
    } finally {
      await pg.stop()
    }
    const tracing = summarizeTracing(runs)
    if (flag('prof')) tracing.profile = profileSummary()
    printTracing(tracing)
    mkdirSync(resultsDir, { recursive: true })
    const file = join(resultsDir, `broadcast-tracing-${started.toISOString().replace(/[:.]/g, '-')}.json`)
    const config = { rooms: ROOMS, perRoom: PER_ROOM, fixedBroadcastsPerSec: FIXED_BROADCASTS, ladderFactor: LADDER_FACTOR, steps: TRACING_STEPS, warmupMs: WARMUP_MS, durationMs: DURATION_MS, reps: REPS }
    writeFileSync(file, JSON.stringify({ date: started.toISOString(), machine, config, tracing, runs }, null, 2))
    log(`wrote ${file} (${Math.round((Date.now() - started.getTime()) / 1000)} s)`)
    return
  }
  try {
    for (let rep = 1; rep <= REPS; rep++) {
      const order = rep % 2 === 1 ? SERVERS : [...SERVERS].reverse()
      log(`repetition ${rep}/${REPS}`)
      for (const server of order) runs.push(await runConfiguration(server, pg.url, rep))
    }
  } finally {
    await pg.stop()
  }
  const summary = summarize(runs)
  printSummary(summary)
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `broadcast-${started.toISOString().replace(/[:.]/g, '-')}.json`)
  const config = { rooms: ROOMS, perRoom: PER_ROOM, fixedBroadcastsPerSec: FIXED_BROADCASTS, ladderFactor: LADDER_FACTOR, warmupMs: WARMUP_MS, durationMs: DURATION_MS, reps: REPS }
  writeFileSync(file, JSON.stringify({ date: started.toISOString(), machine, config, summary, runs }, null, 2))
  log(`wrote ${file} (${Math.round((Date.now() - started.getTime()) / 1000)} s)`)
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
