#!/usr/bin/env node
/**
 * Postgres Changes (change-stream) benchmark: RLS-checked deliveries/s and commit-to-client
 * latency, Switchboard's per-auth-context authorization vs the per-subscriber baseline.
 *
 *   run.js (writer: INSERTs at a set rate) ──┬── embedded Postgres (wal_level=logical)   core 1 with run.js
 *                                            ├── server-proc.js  Switchboard          pinned to core 0
 *                                            └── clients.js      subscriber sockets   pinned to core 1
 *
 * Two tables, each with RLS, in the publication; every subscriber binds `INSERT` on one of them.
 * Subscribers are spread over `--users` distinct users (distinct `sub`) of one tenant, and every
 * row is visible to every subscriber, so deliveries/s = inserts/s × subscribers, each one
 * RLS-checked. The two policies (`--policies`):
 *  - `tenant`:   `tenant_id = auth.jwt() ->> 'tenant_id'`. The policy reads only `tenant_id`, so
 *                the engine groups the 100 users into ONE check per batch (policy-claims.ts);
 *  - `per-user`: `owner = auth.jwt() ->> 'sub' or shared` (rows are inserted `shared`). The
 *                policy reads `sub`, so the 100 users are 100 real checks per batch.
 *
 * Per repetition:
 *  1. light load, per policy: 100 subscribers (100 users), 100 inserts/s → commit-to-client p50/p99;
 *  2. ladders (order alternates between repetitions), 1,000 subscribers over 100 users:
 *     per-context on each policy, and the per-subscriber baseline on the `tenant` policy. The
 *     insert rate rises step by step; each step warms up, then measures a window; the ladder
 *     stops at the first failing step. The result is the highest delivered rate of a passing step.
 * Strategies: `per-context` (the engine: one RLS query per table per distinct check per batch)
 * and `per-subscriber` (Supabase's: one check per subscriber per change; a bench-side replica,
 * see server-proc.js).
 *
 * Accounting is by the row's `sent_at`, not by arrival time: a step counts the rows the writer
 * SENT inside its window [from, to) and committed; each subscriber counts the deliveries of
 * exactly those rows, whenever they arrive. After the window the bench waits GRACE_MS (500 ms,
 * twice the p99 bar); a delivery still missing then counts as later than any measured one (so it
 * lands in the p99). A step passes when p99 < 250 ms (missing deliveries included) and the
 * writer sent ≥ 90 % of the offered inserts. (Before 2026-11-22 the bench compared deliveries
 * counted by arrival in a 2 s window with the offered rate: at a few inserts/s one insert
 * straddling the window edge is 1,000 deliveries, ~6 %, and steps with a p99 of 60 ms failed.)
 *
 * Latency is commit-to-client, conservatively: from the writer's clock read just before it sends
 * the INSERT (autocommit; stored in the row's `sent_at`) to the subscriber's parse of the frame.
 * Every step also prints each process's CPU and its main thread's run-queue wait (time it was
 * runnable but another process had the core: /proc/<pid>/schedstat), so contention from other
 * work on the machine is visible next to the numbers it distorts.
 *
 * Usage: npm run build && node bench/cdc/run.js [--reps 3] [--warmup 1] [--duration 2]
 *        [--subscribers 1000] [--users 100] [--only per-context|per-subscriber]
 *        [--policies tenant,per-user] [--profile DIR (server under node --cpu-prof)]
 *        [--others-core 1|float]  the core of Postgres and the writer (default 1, with the clients)
 *        [--tracing [--fixed-inserts 40]]  the engine (per-context) with the inspector's delivery
 *            trace off vs on, switched through its API (as an operator's open inspector does),
 *            in PAIRS, order alternating: light load off/on, a fixed load off/on (1,000
 *            subscribers, --fixed-inserts/s for 5 s: deliveries per server CPU-second), then the
 *            ladder with every rate measured off and on on the same subscribers (drained between
 *            the halves). Reports paired on/off ratios. No baseline. Policies default to `tenant`.
 *        [--compare NAME=/abs/path/to/packages/server/dist[,NAME2=…] [--fixed-inserts 40,120]]
 *            server CPU per delivery, this build against others in the same run: per repetition,
 *            each build in turn (order alternating) serves the engine (per-context) a fixed load
 *            (--subscribers over --users, each --fixed-inserts/s for 5 s) and reports deliveries
 *            per server CPU-second. Reports medians and paired ratios to this build. No ladder.
 *        BENCH_TRACE=1 prints per-stage server timestamps (trace.js).
 *        BENCH_SERVER_NODE_ARGS='--trace-gc' (or any node flags, space-separated): the server
 *            process's node flags, for --compare runs (e.g. GC traces, a heap-sampling --import).
 * Writes bench/results/cdc-<date>.json.
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import postgres from 'postgres'
import { canPin, pinRunning, spawnNode } from '../lib/child.js'
import { flag, option, helpFromHeader } from '../lib/cli.js'
import { BENCH_ADMIN_KEY, setTracing } from '../lib/inspector.js'
import { startPostgres } from '../lib/postgres.js'
import { profileShares } from '../lib/profile-share.js'
import { median } from '../lib/stats.js'

await helpFromHeader(import.meta.url)

const here = dirname(fileURLToPath(import.meta.url))
const resultsDir = join(here, '..', 'results')
const { signToken } = await import('../../packages/server/dist/index.js')

const REPS = Number(option('reps', 3))
const WARMUP_MS = Number(option('warmup', 1)) * 1000
const DURATION_MS = Number(option('duration', 2)) * 1000
const SUBSCRIBERS = Number(option('subscribers', 1000))
const USERS = Number(option('users', 100))
const LIGHT = { subscribers: 100, users: 100, insertsPerSecond: 100, durationMs: 5_000 }
const P99_LIMIT_MS = 250
const STRATEGIES = option('only') ? [option('only')] : ['per-context', 'per-subscriber']
const LADDER = { 'per-context': { start: 4, factor: 1.5, steps: 14 }, 'per-subscriber': { start: 0.5, factor: 1.5, steps: 14 } }
const SECRET = 'switchboard-bench-secret-0123456789abcdef'
const GRACE_MS = 2 * P99_LIMIT_MS
const POLICIES = {
  tenant: {
    table: 'bench_events',
    columns: 'tenant_id text not null',
    using: `tenant_id = (auth.jwt() ->> 'tenant_id')`,
  },
  'per-user': {
    table: 'bench_events_per_user',
    columns: 'owner text not null, shared boolean not null',
    using: `owner = (auth.jwt() ->> 'sub') or shared`,
  },
}
const TRACING = flag('tracing')
const FIXED_RATES = option('fixed-inserts', '40').split(',').map(Number)
const FIXED_INSERTS = FIXED_RATES[0]
/** `--compare`: other server builds (their `packages/server/dist`), by name. */
const COMPARE = option('compare', null)?.split(',').map((pair) => {
  const at = pair.indexOf('=')
  if (at <= 0) throw new Error(`--compare wants NAME=/abs/path/to/dist, got ${pair}`)
  return { name: pair.slice(0, at), dist: pair.slice(at + 1) }
}) ?? null
const FIXED_MS = 5_000
const POLICY_NAMES = option('policies', TRACING ? 'tenant' : 'tenant,per-user').split(',')
for (const name of POLICY_NAMES) if (!POLICIES[name]) throw new Error(`unknown policy ${name}`)
/** The ladders of one repetition: per-context on every policy, the baseline on the first. */
const LADDERS = [
  ...(STRATEGIES.includes('per-context') ? POLICY_NAMES.map((policy) => ({ strategy: 'per-context', policy })) : []),
  ...(STRATEGIES.includes('per-subscriber') ? [{ strategy: 'per-subscriber', policy: POLICY_NAMES[0] }] : []),
]
const ladderName = ({ strategy, policy }) => `${strategy}/${policy}`
const TRACE = process.env.BENCH_TRACE === '1'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const now = () => performance.timeOrigin + performance.now()

/** Median of latencies where null means "undelivered after the grace period" (returned as null). */
const medianLatency = (xs) => {
  const s = xs.map((x) => (x === null ? Infinity : x)).sort((a, b) => a - b)
  const m = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
  return Number.isFinite(m) ? m : null
}

// ─── child processes (spawnNode and its IPC protocol: ../lib/child.js) ───────────────────

/** `script` (in this folder), pinned to `core`. */
const spawnChild = (script, core, options = {}) => spawnNode(join(here, script), { core, ...options })

// ─── writer ─────────────────────────────────────────────────────────────────────────────

/**
 * INSERTs at `rate` per second (autocommit, up to 8 in flight), each stamped with `sent_at`.
 * `window(from, to)` starts counting the committed inserts whose stamp falls in [from, to).
 */
function startWriter(sql) {
  let rate = 0
  let insert = null
  let origin = now()
  let sent = 0
  let inflight = 0
  let stopped = false
  let window = { from: 0, to: 0, committed: 0 }
  const timer = setInterval(() => {
    if (rate === 0) return
    const due = Math.floor(((now() - origin) / 1000) * rate) - sent
    for (let i = 0; i < due && inflight < 8; i++) {
      sent++
      inflight++
      const stamp = now()
      const w = window
      insert(stamp)
        .then(() => { if (stamp >= w.from && stamp < w.to) w.committed++ }, (error) => { if (!stopped) console.error('insert failed:', error.message) })
        .finally(() => { inflight-- })
    }
    // Behind by more than the in-flight cap allows: drop the backlog rather than burst later.
    if (inflight >= 8) sent = Math.floor(((now() - origin) / 1000) * rate)
  }, 5)
  return {
    set(perSecond, policy, tenant) {
      rate = perSecond
      origin = now()
      sent = 0
      insert = policy === 'per-user'
        ? (stamp) => sql`insert into bench_events_per_user (owner, shared, sent_at) values ('nobody', true, ${stamp})`
        : (stamp) => sql`insert into bench_events (tenant_id, sent_at) values (${tenant}, ${stamp})`
    },
    window(from, to) { window = { from, to, committed: 0 }; return window },
    async stop() { stopped = true; clearInterval(timer); while (inflight > 0) await sleep(5) },
  }
}

// ─── measurement ────────────────────────────────────────────────────────────────────────

async function tokens(count, users, tenant, uniquePerSubscriber) {
  return Promise.all(Array.from({ length: count }, (_, i) => signToken(SECRET, {
    role: 'authenticated',
    sub: `user-${i % users}`,
    tenant_id: tenant,
    ...(uniquePerSubscriber ? { sid: `s${i}` } : {}),
  })))
}

/** Waits until the subscribers stop receiving (the server drained its backlog). */
async function drain(clients, quietMs = 1_000, maxMs = 60_000) {
  const deadline = Date.now() + maxMs
  let last = (await clients.call('count')).received
  while (Date.now() < deadline) {
    await sleep(quietMs)
    const { received } = await clients.call('count')
    if (received === last) return
    last = received
  }
}

const sleepUntil = (t) => sleep(Math.max(0, t - now()))

/** One step: `perSecond` inserts/s for a warm-up, then a window of `durationMs` (see header). */
async function measure(ctx, perSecond, policy, tenant, subscribers, durationMs) {
  ctx.writer.set(perSecond, policy, tenant)
  await sleep(WARMUP_MS)
  // The subscribers must have opened the window before its first row can reach them: under
  // load an IPC round trip can take tens of ms, so open it ahead and check that it was in time.
  let from, to
  for (let lead = 200; ; lead *= 2) {
    from = now() + lead
    to = from + durationMs
    await Promise.all([ctx.clients.call('mark', { from, to }), TRACE && ctx.server.call('trace', { reset: true })])
    if (now() < from) break
  }
  const window = ctx.writer.window(from, to)
  await sleepUntil(from)
  const usage = async () => {
    const [server, clients] = await Promise.all([ctx.server.call('stats'), ctx.clients.call('cpu')])
    return { server, clients, pg: ctx.pgCpuUs(), writer: process.cpuUsage(), at: now() }
  }
  const u0 = await usage()
  await sleepUntil(to)
  const u1 = await usage()
  await sleep(GRACE_MS) // rows sent in the window and not delivered by now are > GRACE_MS late
  const expected = window.committed * subscribers
  const [rx, tr] = await Promise.all([ctx.clients.call('collect', { expected }), TRACE ? ctx.server.call('trace', { reset: true }) : null])
  const seconds = durationMs / 1000
  const cpuSeconds = (u1.at - u0.at) / 1000
  const pct = (us) => round(us / 1e4 / cpuSeconds) // % of one core
  const result = {
    offeredInserts: perSecond,
    inserts: round(window.committed / seconds),
    expected,
    expectedDeliveries: round(expected / seconds),
    deliveries: round(rx.received / seconds),
    missing: rx.missing,
    p50: rx.p50,
    p90: rx.p90,
    p99: rx.p99,
    max: rx.max,
    serverCpu: pct(u1.server.cpuUs - u0.server.cpuUs),
    clientsCpu: pct(u1.clients.cpuUs - u0.clients.cpuUs),
    postgresCpu: pct(u1.pg - u0.pg),
    writerCpu: pct(u1.writer.user + u1.writer.system - u0.writer.user - u0.writer.system),
    // Run-queue wait of each process's main thread: runnable, but the core ran something else.
    serverWait: pct((u1.server.waitNs - u0.server.waitNs) / 1e3),
    clientsWait: pct((u1.clients.waitNs - u0.clients.waitNs) / 1e3),
    loadAverage: round(loadavg()[0]),
    authQueriesPerSecond: round((u1.server.authQueries - u0.server.authQueries) / cpuSeconds),
    serverDeliveries: round((u1.server.deliveries - u0.server.deliveries) / cpuSeconds),
  }
  result.pass = result.p99 !== null && result.p99 < P99_LIMIT_MS && window.committed >= 0.9 * perSecond * seconds - 1
  if (tr?.trace) {
    result.trace = tr.trace
    console.log('    trace (ms since sent_at, p50/p99): ' + ['receipt', 'dispatch', 'authz', 'enqueued', 'flushed']
      .map((k) => `${k} ${tr.trace[k].p50}/${tr.trace[k].p99}`).join(', ') +
      `; RLS round trip ${tr.trace.authzMs.p50}/${tr.trace.authzMs.p99} ms, dispatch ${tr.trace.dispatchMs.p50}/${tr.trace.dispatchMs.p99} ms, ` +
      `changes/batch p50 ${tr.trace.batchChanges.p50} max ${tr.trace.batchChanges.max}`)
  }
  return result
}

const describe = (r) => `p50 ${r.p50} ms, p99 ${r.p99 ?? `> ${GRACE_MS}`} ms${r.missing ? ` (${r.missing} undelivered after ${GRACE_MS} ms` +
  `${r.stillMissingAfterDrain !== undefined ? `, ${r.stillMissingAfterDrain} never` : ''})` : ''}; ` +
  `CPU % server ${r.serverCpu} clients ${r.clientsCpu} postgres ${r.postgresCpu} writer ${r.writerCpu}; ` +
  `run-queue wait % server ${r.serverWait} clients ${r.clientsWait}; load ${r.loadAverage}; RLS queries/s ${r.authQueriesPerSecond}`
const round = (x) => Math.round(x * 10) / 10
/** a / b to three decimals; null when either is missing or b is 0. */
const ratio = (a, b) => (b > 0 && a != null && b != null ? Math.round((a / b) * 1000) / 1000 : null)

async function withClients(ctx, count, users, tenant, unique, table, body) {
  const clients = spawnChild('clients.js', '1')
  await clients.ready
  try {
    const list = await tokens(count, users, tenant, unique)
    const { opened } = await clients.call('open', { port: ctx.port, tokens: list, table })
    if (opened !== count) throw new Error(`only ${opened}/${count} subscribers joined`)
    return await body({ ...ctx, clients })
  } finally {
    await clients.call('close').catch(() => clients.kill())
  }
}

async function lightLoad(ctx, policy) {
  await ctx.server.call('strategy', { perSubscriber: false })
  return withClients(ctx, LIGHT.subscribers, LIGHT.users, 'light', false, POLICIES[policy].table, async (c) => {
    const result = await measure(c, LIGHT.insertsPerSecond, policy, 'light', LIGHT.subscribers, LIGHT.durationMs)
    ctx.writer.set(0, policy, 'light')
    await drain(c.clients)
    // Deliveries missing after the grace period: late (arrived by now) or lost (still missing)?
    if (result.missing > 0) result.stillMissingAfterDrain = (await c.clients.call('collect', { expected: result.expected })).missing
    return result
  })
}

/** 1,000 subscribers at FIXED_INSERTS/s for FIXED_MS: deliveries per second of server CPU. */
async function fixedLoad(ctx, policy, rate = FIXED_INSERTS) {
  await ctx.server.call('strategy', { perSubscriber: false })
  return withClients(ctx, SUBSCRIBERS, USERS, 'fixed', false, POLICIES[policy].table, async (c) => {
    const r = await measure(c, rate, policy, 'fixed', SUBSCRIBERS, FIXED_MS)
    ctx.writer.set(0, policy, 'fixed')
    await drain(c.clients)
    r.deliveriesPerServerCpuSecond = r.serverCpu > 0 ? Math.round(r.deliveries / (r.serverCpu / 100)) : null
    return r
  })
}

/** The ladder of `policy` with every rate measured twice, tracing off and on (order alternating), on the same subscribers. */
async function ladderPairs(ctx, policy, rep) {
  await ctx.server.call('strategy', { perSubscriber: false })
  return withClients(ctx, SUBSCRIBERS, USERS, 'ladder', false, POLICIES[policy].table, async (c) => {
    const { start, factor, steps } = LADDER['per-context']
    const pairs = []
    let rate = start
    for (let i = 0; i < steps; i++) {
      const pair = { rate }
      for (const on of (rep + i) % 2 === 0 ? [false, true] : [true, false]) {
        await setTracing(ctx.port, on)
        pair[on ? 'on' : 'off'] = await measure(c, rate, policy, 'ladder', SUBSCRIBERS, DURATION_MS)
        // What an overloaded half left queued must not spill into the other half.
        ctx.writer.set(0, policy, 'ladder')
        await drain(c.clients)
      }
      pairs.push(pair)
      for (const side of ['off', 'on']) {
        const r = pair[side]
        console.log(`  ${`${policy}, tracing ${side}`.padEnd(22)} ${String(rate.toFixed(1)).padStart(6)} inserts/s → ${String(Math.round(r.deliveries)).padStart(7)} deliveries/s, ${describe(r)} ${r.pass ? '' : '✗'}`)
      }
      if (!pair.off.pass && !pair.on.pass) break
      rate = Math.round(rate * factor * 10) / 10
    }
    return pairs
  })
}

/** `--tracing`: per repetition and policy, light load, the fixed load and the ladder, each as off/on pairs. */
async function tracingRun(ctx) {
  const reps = []
  for (let rep = 0; rep < REPS; rep++) {
    console.log(`rep ${rep + 1}/${REPS}`)
    const byPolicy = {}
    for (const policy of POLICY_NAMES) {
      const order = rep % 2 === 0 ? [false, true] : [true, false]
      const light = {}
      const fixed = {}
      for (const on of order) {
        await setTracing(ctx.port, on)
        light[on ? 'on' : 'off'] = await lightLoad(ctx, policy)
        console.log(`  light load, ${policy}, tracing ${on ? 'on' : 'off'}: ${describe(light[on ? 'on' : 'off'])}`)
      }
      for (const on of [...order].reverse()) {
        await setTracing(ctx.port, on)
        const r = (fixed[on ? 'on' : 'off'] = await fixedLoad(ctx, policy))
        console.log(`  fixed ${FIXED_INSERTS}/s × ${SUBSCRIBERS}, ${policy}, tracing ${on ? 'on' : 'off'}: ${Math.round(r.deliveries)} deliveries/s, ${r.deliveriesPerServerCpuSecond} per server CPU-second; ${describe(r)}`)
      }
      byPolicy[policy] = { light, fixed, ladder: await ladderPairs(ctx, policy, rep) }
    }
    reps.push(byPolicy)
  }
  await setTracing(ctx.port, false)
  const perCpu = (r) => (r.serverCpu > 0 ? r.deliveries / (r.serverCpu / 100) : null)
  const summary = {}
  console.log(`\nsummary: tracing on / off, ${REPS} reps`)
  for (const policy of POLICY_NAMES) {
    const runs = reps.map((r) => r[policy])
    const pairs = runs.flatMap((r) => r.ladder)
    const bothPass = pairs.filter((p) => p.off.pass && p.on.pass)
    const maxPassing = (r, side) => Math.max(0, ...r.ladder.filter((p) => p[side].pass).map((p) => p[side].deliveries))
    const s = {
      fixedPerServerCpuSecond: {
        off: median(runs.map((r) => r.fixed.off.deliveriesPerServerCpuSecond)),
        on: median(runs.map((r) => r.fixed.on.deliveriesPerServerCpuSecond)),
        ratio: median(runs.map((r) => ratio(r.fixed.on.deliveriesPerServerCpuSecond, r.fixed.off.deliveriesPerServerCpuSecond))),
        perRep: runs.map((r) => ratio(r.fixed.on.deliveriesPerServerCpuSecond, r.fixed.off.deliveriesPerServerCpuSecond)),
      },
      ladderPerServerCpuSecondRatio: median(bothPass.map((p) => ratio(perCpu(p.on), perCpu(p.off)))),
      ladderPairsBothPassing: bothPass.length,
      ladderMaxPassing: { off: median(runs.map((r) => maxPassing(r, 'off'))), on: median(runs.map((r) => maxPassing(r, 'on'))), perRep: runs.map((r) => ratio(maxPassing(r, 'on'), maxPassing(r, 'off'))) },
      lightP50Ms: { off: medianLatency(runs.map((r) => r.light.off.p50)), on: medianLatency(runs.map((r) => r.light.on.p50)) },
      lightP99Ms: { off: medianLatency(runs.map((r) => r.light.off.p99)), on: medianLatency(runs.map((r) => r.light.on.p99)) },
    }
    s.ladderMaxPassing.ratio = ratio(s.ladderMaxPassing.on, s.ladderMaxPassing.off)
    summary[policy] = s
    console.log(`  ${policy}: deliveries per server CPU-second at ${FIXED_INSERTS * SUBSCRIBERS}/s: off ${s.fixedPerServerCpuSecond.off}, on ${s.fixedPerServerCpuSecond.on}; paired ratio ${s.fixedPerServerCpuSecond.ratio}× (per rep ${s.fixedPerServerCpuSecond.perRep.join(', ')})`)
    console.log(`  ${policy}: ladder, deliveries per server CPU-second, ${bothPass.length} pairs passing in both: paired ratio ${s.ladderPerServerCpuSecondRatio}×`)
    console.log(`  ${policy}: ladder max with p99 < ${P99_LIMIT_MS} ms: off ${s.ladderMaxPassing.off}, on ${s.ladderMaxPassing.on} → ${s.ladderMaxPassing.ratio}× (per rep ${s.ladderMaxPassing.perRep.join(', ')}; steps are ×${LADDER['per-context'].factor} apart)`)
    console.log(`  ${policy}: light load p50 off ${s.lightP50Ms.off} ms, on ${s.lightP50Ms.on} ms; p99 off ${s.lightP99Ms.off} ms, on ${s.lightP99Ms.on} ms`)
    console.log(`  Target: cost ≤ 5 % → ${s.fixedPerServerCpuSecond.ratio >= 0.95 ? 'met' : 'NOT met'} (per CPU-second at the fixed load), ${s.ladderPerServerCpuSecondRatio >= 0.95 ? 'met' : 'NOT met'} (per CPU-second over the ladder)`)
  }
  return { summary, reps }
}

/**
 * `--compare`: per repetition, each build (this one first, then the others; order alternating)
 * in its own server process serves each fixed rate; deliveries per server CPU-second, and the
 * ratio of each build to this one within the repetition.
 */
async function compareRun(ctx) {
  const builds = [{ name: 'this', dist: null }, ...COMPARE]
  const reps = []
  for (let rep = 0; rep < REPS; rep++) {
    console.log(`rep ${rep + 1}/${REPS}`)
    const byBuild = {}
    for (const build of rep % 2 === 0 ? builds : [...builds].reverse()) {
      const server = spawnChild('server-proc.js', '0', {
        env: { ...ctx.serverEnv, ...(build.dist ? { BENCH_SERVER_DIST: build.dist } : {}) },
        // --profile: one profile per build and repetition, named after both.
        execArgv: [...SERVER_NODE_ARGS, ...(PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR, '--cpu-prof-name', `${build.name}-rep${rep + 1}.cpuprofile`] : [])],
      })
      try {
        const { port } = await server.ready
        byBuild[build.name] = {}
        for (const policy of POLICY_NAMES) {
          for (const rate of FIXED_RATES) {
            const r = await fixedLoad({ ...ctx, server, port }, policy, rate)
            byBuild[build.name][`${policy}@${rate}`] = r
            console.log(`  ${build.name.padEnd(8)} ${policy} ${rate}/s × ${SUBSCRIBERS}: ${Math.round(r.deliveries)} deliveries/s, ${r.deliveriesPerServerCpuSecond} per server CPU-second; ${describe(r)}`)
          }
        }
      } finally {
        await server.stop('stop')
      }
    }
    reps.push(byBuild)
  }
  const summary = {}
  console.log('\nsummary (medians of', REPS, 'reps): deliveries per server CPU-second')
  for (const key of Object.keys(reps[0].this)) {
    const line = {}
    for (const { name } of builds) {
      line[name] = median(reps.map((r) => r[name][key].deliveriesPerServerCpuSecond))
      if (name !== 'this') line[`this/${name}`] = median(reps.map((r) => ratio(r.this[key].deliveriesPerServerCpuSecond, r[name][key].deliveriesPerServerCpuSecond)))
    }
    summary[key] = line
    console.log(`  ${key}: ${Object.entries(line).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  }
  return { summary, reps }
}

async function ladder(ctx, { strategy, policy }) {
  const perSubscriber = strategy === 'per-subscriber'
  await ctx.server.call('strategy', { perSubscriber })
  return withClients(ctx, SUBSCRIBERS, USERS, 'ladder', perSubscriber, POLICIES[policy].table, async (c) => {
    const { start, factor, steps } = LADDER[strategy]
    const results = []
    let rate = start
    for (let i = 0; i < steps; i++) {
      const r = await measure(c, rate, policy, 'ladder', SUBSCRIBERS, DURATION_MS)
      results.push(r)
      console.log(`  ${ladderName({ strategy, policy }).padEnd(25)} ${String(rate.toFixed(1)).padStart(6)} inserts/s → ${String(Math.round(r.deliveries)).padStart(7)} deliveries/s ` +
        `(expected ${Math.round(r.expectedDeliveries)}), ${describe(r)} ${r.pass ? '' : '✗'}`)
      if (!r.pass) break
      rate = Math.round(rate * factor * 10) / 10
    }
    ctx.writer.set(0, policy, 'ladder')
    await drain(c.clients)
    const passing = results.filter((r) => r.pass)
    return { strategy, policy, steps: results, maxDeliveries: passing.length ? Math.max(...passing.map((r) => r.deliveries)) : 0, capacity: Math.max(...results.map((r) => r.deliveries)) }
  })
}

// ─── main ───────────────────────────────────────────────────────────────────────────────

/** Writes a run's result to bench/results/<kind>-<date>.json, with the machine's facts; returns the path. */
function writeResults(kind, options, result) {
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `${kind}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, JSON.stringify({
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, pinned: canPin, loadAverage: loadavg() },
    options,
    ...result,
  }, null, 2))
  return file
}

/** Ends a run that is a mode of its own (--compare, --tracing): reports, stops Postgres, exits. */
async function endRun(file) {
  console.log(`  took ${Math.round((Date.now() - started) / 1000)} s; wrote ${file}`)
  await sql.end({ timeout: 2 })
  await pg.stop()
  process.exit(0)
}

const started = Date.now()
const pg = await startPostgres({ tmpPrefix: 'switchboard-bench-cdc-', extraFlags: ['-c', 'max_connections=200'] })
// --others-core: Postgres (postmaster, backends, walsender) and this process (the writer) on
// that core, beside the clients, so the server has core 0 to itself as in the broadcast bench
// ('float': they float between the cores as before 2026-12-02 11:30).
const OTHERS_CORE = option('others-core', '1')
const othersPinned = canPin && OTHERS_CORE !== 'float' && pg.pin(OTHERS_CORE) && pinRunning(process.pid, OTHERS_CORE)
const PROFILE_DIR = option('profile', null) // a directory: the server runs under `node --cpu-prof`
const SERVER_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean) // e.g. '--trace-gc': the server's node flags
const serverEnv = { BENCH_DATABASE_URL: pg.url, BENCH_JWT_SECRET: SECRET, ...(TRACING ? { BENCH_ADMIN_KEY } : {}) }
const server = spawnChild('server-proc.js', '0', {
  env: serverEnv,
  execArgv: PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : [],
})
const sql = postgres(pg.url, { max: 8, onnotice: () => {} })
try {
  const { port } = await server.ready
  for (const { table, columns, using } of Object.values(POLICIES)) {
    await sql.unsafe(`
      create table ${table} (id bigint generated always as identity primary key, ${columns}, sent_at float8 not null, body text);
      alter table ${table} enable row level security;
      create policy "bench" on ${table} for select to authenticated using (${using});
      grant select on ${table} to authenticated;
      alter publication supabase_realtime add table ${table};
    `).simple()
  }
  const writer = startWriter(sql)
  const ctx = { port, server, writer, pgCpuUs: pg.cpuUs, serverEnv }
  console.log(`Postgres Changes bench: ${SUBSCRIBERS} subscribers over ${USERS} users, ${REPS} reps, ${cpus().length} cores${canPin ? ` (server core 0, clients core 1, Postgres and writer ${othersPinned ? `core ${OTHERS_CORE}` : 'floating'})` : ''}`)
  if (COMPARE) {
    // Its own run: one server at a time (they would share the replication slot).
    await server.stop('stop')
    const result = await compareRun(ctx)
    await writer.stop()
    await endRun(writeResults('cdc-compare', { REPS, WARMUP_MS, SUBSCRIBERS, USERS, FIXED_RATES, FIXED_MS, POLICY_NAMES, COMPARE }, result))
  }
  if (TRACING) {
    // --tracing is its own run (tracingRun); the standard run below does not start.
    const result = await tracingRun(ctx)
    await writer.stop()
    await server.call('stop').catch(() => server.kill())
    if (PROFILE_DIR) {
      // The server writes its profile as it exits: the share of its running time in the inspector's code.
      let newest = null
      for (let waited = 0; waited < 10_000 && !newest; waited += 200) {
        await sleep(200)
        newest = readdirSync(PROFILE_DIR).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(PROFILE_DIR, f))
          .filter((f) => statSync(f).mtimeMs > started).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0] ?? null
      }
      if (newest) {
        const shares = profileShares(newest, { inspector: /\/inspect\// })
        result.profile = { file: newest, inspectorShare: shares.inspector, gcShare: shares.gc }
        console.log(`  profile: the inspector's code is ${(shares.inspector * 100).toFixed(2)} % of the server's running time over the run, tracing on half of it; GC ${(shares.gc * 100).toFixed(1)} %`)
      }
    }
    await endRun(writeResults('cdc-tracing', { REPS, WARMUP_MS, DURATION_MS, GRACE_MS, SUBSCRIBERS, USERS, LIGHT, P99_LIMIT_MS, FIXED_INSERTS, FIXED_MS, POLICY_NAMES }, result))
  }
  const reps = []
  for (let rep = 0; rep < REPS; rep++) {
    console.log(`rep ${rep + 1}/${REPS}`)
    const light = {}
    if (STRATEGIES.includes('per-context')) {
      for (const policy of POLICY_NAMES) {
        light[policy] = await lightLoad(ctx, policy)
        console.log(`  light load, ${policy.padEnd(8)}: ${light[policy].inserts} inserts/s × ${LIGHT.subscribers} subscribers → ${light[policy].deliveries} deliveries/s, ${describe(light[policy])}`)
      }
    }
    const order = rep % 2 === 0 ? LADDERS : [...LADDERS].reverse()
    const ladders = {}
    for (const l of order) ladders[ladderName(l)] = await ladder(ctx, l)
    reps.push({ light, ladders })
  }
  await writer.stop()

  const summary = {}
  if (STRATEGIES.includes('per-context')) {
    for (const policy of POLICY_NAMES) {
      // A null quantile is "later than the grace period" (undelivered): it ranks above every number.
      summary[`light ${policy} p50Ms`] = medianLatency(reps.map((r) => r.light[policy].p50))
      summary[`light ${policy} p99Ms`] = medianLatency(reps.map((r) => r.light[policy].p99))
    }
  }
  for (const l of LADDERS) {
    const name = ladderName(l)
    summary[`${name} maxDeliveriesPerSecond`] = median(reps.map((r) => r.ladders[name].maxDeliveries))
    summary[`${name} capacity`] = median(reps.map((r) => r.ladders[name].capacity))
  }
  console.log('\nsummary (medians of', REPS, 'reps)')
  if (STRATEGIES.includes('per-context')) {
    for (const policy of POLICY_NAMES) {
      console.log(`  light load (${LIGHT.insertsPerSecond} changes/s, ${LIGHT.subscribers} subscribers), ${policy}: p50 ${summary[`light ${policy} p50Ms`]} ms, p99 ${summary[`light ${policy} p99Ms`] ?? `> ${GRACE_MS}`} ms ` +
        `(per rep p50: ${reps.map((r) => r.light[policy].p50).join(', ')})`)
    }
  }
  for (const l of LADDERS) {
    const name = ladderName(l)
    console.log(`  ${name}: ${summary[`${name} maxDeliveriesPerSecond`]} RLS-checked deliveries/s with p99 < ${P99_LIMIT_MS} ms ` +
      `(per rep: ${reps.map((r) => r.ladders[name].maxDeliveries).join(', ')}); highest delivered in any step ${summary[`${name} capacity`]}`)
  }
  const baseline = LADDERS.find((l) => l.strategy === 'per-subscriber')
  if (baseline) {
    const base = summary[`${ladderName(baseline)} maxDeliveriesPerSecond`]
    const baseCapacity = summary[`${ladderName(baseline)} capacity`]
    for (const l of LADDERS.filter((x) => x.strategy === 'per-context')) {
      const name = ladderName(l)
      const ratio = base > 0 ? summary[`${name} maxDeliveriesPerSecond`] / base : null
      summary[`${name} ratio`] = ratio
      summary[`${name} ratio at capacity`] = summary[`${name} capacity`] / baseCapacity
      console.log(`  ratio ${name} / ${ladderName(baseline)} at p99 < ${P99_LIMIT_MS} ms: ${ratio === null ? 'n/a (baseline never met the bar)' : `${ratio.toFixed(1)}×`}; ` +
        `at capacity: ${summary[`${name} ratio at capacity`].toFixed(1)}×`)
    }
  }
  console.log(`  took ${Math.round((Date.now() - started) / 1000)} s`)
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `cdc-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, JSON.stringify({
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, pinned: canPin },
    options: { REPS, WARMUP_MS, DURATION_MS, GRACE_MS, SUBSCRIBERS, USERS, LIGHT, P99_LIMIT_MS, POLICIES },
    summary,
    reps,
  }, null, 2))
  console.log(`  wrote ${file}`)
} finally {
  await server.call('stop').catch(() => server.kill())
  await sql.end({ timeout: 2 })
  await pg.stop()
}
