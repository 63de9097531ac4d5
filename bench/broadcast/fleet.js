/**
 * The fan-out load generator's moving parts, shared by run.js and the cluster benches
 * (bench/cluster/): the server and client children, one measured step, the drain check, the
 * wait for a quiet machine, and the step's one-line report.
 *
 *   servers (server-proc.js, one or more)   ◀── publishers (clients.js publishers): 1 socket per room
 *                                           ◀── receivers  (clients.js receivers):  rooms × perRoom sockets
 *
 * Publishers and receivers may talk to different servers (`publishTo`, `receiveFrom`): the
 * cluster bench sends on node A and receives on node B.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnNode } from '../lib/child.js'

const here = dirname(fileURLToPath(import.meta.url))
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
export const round = (value, digits) => (value === null ? null : Number(value.toFixed(digits)))

/** `script` (in bench/broadcast/) with `args`, pinned to `core`; a call unanswered for 15 s is logged. */
export const spawnChild = (script, args, core, options = {}) => spawnNode(join(here, script), { args, core, slowWarningMs: 15_000, ...options })

/** A server-proc.js child (`mode`: switchboard | baseline | workers); resolves once it listens. */
export async function startServer(mode, core, { env = {}, execArgv = [] } = {}) {
  const server = spawnChild('server-proc.js', [mode], core, { env, execArgv })
  const { port, apiKey, pids } = await server.ready
  return Object.assign(server, { port, apiKey, pids })
}

/**
 * The receivers (rooms × perRoom sockets, on `receiveFrom`) and publishers (one per room, on
 * `publishTo`), both on `core`, all joined.
 */
export async function startClients({ publishTo, receiveFrom = publishTo, rooms, perRoom, core }) {
  const receivers = spawnChild('clients.js', ['receivers'], core)
  const publishers = spawnChild('clients.js', ['publishers'], core)
  const stop = () => Promise.all([receivers.stop('exit'), publishers.stop('exit')])
  try {
    await Promise.all([receivers.ready, publishers.ready])
    const joinStart = performance.now()
    const at = (server) => ({ host: '127.0.0.1', port: server.port, apiKey: server.apiKey, rooms, perRoom })
    await receivers.call('start', at(receiveFrom))
    const { frameBytes, payloadBytes } = await publishers.call('start', at(publishTo))
    return { receivers, publishers, frameBytes, payloadBytes, joinMs: Math.round(performance.now() - joinStart), stop }
  } catch (error) {
    await stop()
    throw error
  }
}

/** Busy and total jiffies per core, from /proc/stat (null where it does not exist). */
export function coreTimes() {
  try {
    const lines = readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d/.test(l))
    return lines.map((line) => {
      const [, user, nice, system, idle, iowait, irq, softirq, steal] = line.split(/\s+/).map(Number)
      return { busy: user + nice + system + irq + softirq + steal, total: user + nice + system + idle + iowait + irq + softirq + steal }
    })
  } catch {
    return null
  }
}

/** How busy each core was between two coreTimes() samples (0–1). */
export const coreBusy = (a, b) => (a && b ? a.map((x, i) => round((b[i].busy - x.busy) / Math.max(1, b[i].total - x.total), 2)) : null)

/**
 * The box is shared: wait (up to `waitMs`) until both cores were less than `busy` busy for a
 * second. Returns the last sample, stored with the run.
 */
export async function waitForQuiet({ waitMs, busy: limit = 0.25, log = console.log }) {
  const started = performance.now()
  for (;;) {
    const before = coreTimes()
    await sleep(1_000)
    const busy = coreBusy(before, coreTimes())
    if (!busy || busy.every((b) => b < limit)) return { busyBefore: busy, waitedMs: Math.round(performance.now() - started) }
    if (performance.now() - started > waitMs) {
      log(`  (machine still busy ${busy.join('/')} after ${waitMs / 1000} s: running anyway)`)
      return { busyBefore: busy, waitedMs: Math.round(performance.now() - started) }
    }
  }
}

/** CPU readings of every server child (summed into one `cpuUs`) plus `others` ({ name: () => µs }). */
async function cpuSample(servers, others) {
  const answers = await Promise.all(servers.map((s) => s.call('cpu')))
  const processes = answers.flatMap((a, i) => (a.processes ?? [{ role: 'server', cpuUs: a.cpuUs }]).map((p) => ({ ...p, role: servers.length > 1 ? `${servers[i].name ?? i}:${p.role}` : p.role })))
  for (const [name, read] of Object.entries(others)) processes.push({ role: name, cpuUs: read() })
  return { cpuUs: answers.reduce((n, a) => n + a.cpuUs, 0), rss: answers.reduce((n, a) => n + a.rss, 0), processes }
}

/**
 * One measured step at `broadcastsPerSecond` (× perRoom deliveries each): warm-up, then a
 * window over which deliveries, latency and CPU are read. `ctx`: `{ servers, receivers,
 * publishers }`, optional `otherCpu` ({ name: () => µs }: e.g. Redis) and `onWindow`
 * (`{ start(), end() }`, e.g. Redis command counts; its result is the step's `window`).
 */
export async function step(ctx, broadcastsPerSecond, { warmupMs, durationMs, perRoom }) {
  const others = ctx.otherCpu ?? {}
  await ctx.publishers.call('rate', { perSecond: broadcastsPerSecond })
  await sleep(warmupMs)
  const [cpu0] = await Promise.all([cpuSample(ctx.servers, others), ctx.receivers.call('mark'), ctx.publishers.call('mark'), ctx.onWindow?.start()])
  const t0 = performance.now()
  const cores0 = coreTimes()
  await sleep(durationMs)
  const cores1 = coreTimes()
  const [cpu1, rx, tx, window] = await Promise.all([cpuSample(ctx.servers, others), ctx.receivers.call('collect'), ctx.publishers.call('collect'), ctx.onWindow?.end()])
  const elapsedMs = performance.now() - t0
  const serverCpu = (cpu1.cpuUs - cpu0.cpuUs) / 1000 / elapsedMs
  const deliveredPerSec = (rx.delivered / rx.elapsedMs) * 1000
  const result = {
    offeredDeliveriesPerSec: broadcastsPerSecond * perRoom,
    sentBroadcastsPerSec: Math.round((tx.sent / tx.elapsedMs) * 1000),
    skippedBroadcastsPerSec: Math.round((tx.skipped / tx.elapsedMs) * 1000),
    deliveredPerSec: Math.round(deliveredPerSec),
    p50Ms: rx.p50Ms,
    p99Ms: rx.p99Ms,
    maxMs: rx.maxMs,
    serverCpu: round(serverCpu, 2),
    // Deliveries per second of server CPU time: less sensitive to other work on a shared box.
    deliveredPerServerCpuSec: Math.round(deliveredPerSec / Math.max(0.01, serverCpu)),
    serverRssMb: Math.round(cpu1.rss / 1e6),
    receiverCpu: round(rx.cpu, 2),
    publisherCpu: round(tx.cpu, 2),
    closedSockets: rx.closed + tx.closed,
    // Whole-machine view: each core's busy share, whoever used it (other work on a shared box shows here).
    coreBusy: coreBusy(cores0, cores1),
  }
  if (cpu1.processes.length > 1) {
    result.cpuByProcess = Object.fromEntries(cpu1.processes.map((p, i) => [p.role, round((p.cpuUs - cpu0.processes[i].cpuUs) / 1000 / elapsedMs, 2)]))
  }
  if (window !== undefined) result.window = window
  if (rx.malformed > 0) result.malformedFrames = rx.malformed
  return result
}

/** Stops the publishers and waits (up to 10 s) for every broadcast sent to reach its perRoom receivers. */
export async function drainCheck(ctx, perRoom) {
  await ctx.publishers.call('rate', { perSecond: 0 })
  const sent = (await ctx.publishers.call('totals')).sent
  let totals
  for (let waited = 0; waited < 10_000; waited += 100) {
    totals = await ctx.receivers.call('totals')
    if (totals.delivered >= sent * perRoom) break
    await sleep(100)
  }
  return { broadcastsSent: sent, expectedDeliveries: sent * perRoom, delivered: totals.delivered, closedSockets: totals.closed, closeReasons: totals.closeReasons }
}

// ─── report ─────────────────────────────────────────────────────────────────────────────

export const fmtRate = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${Math.round(n / 1e3)}k`)
export const fmtMs = (ms) => (ms === null || ms === undefined ? '—' : ms < 10 ? ms.toFixed(2) : ms.toFixed(0))
export const fmtStep = (s) =>
  `offered ${fmtRate(s.offeredDeliveriesPerSec).padStart(6)}/s  delivered ${fmtRate(s.deliveredPerSec).padStart(6)}/s  ` +
  `p50 ${fmtMs(s.p50Ms).padStart(5)} ms  p99 ${fmtMs(s.p99Ms).padStart(5)} ms  cpu server ${s.serverCpu} rx ${s.receiverCpu} tx ${s.publisherCpu}` +
  (s.cpuByProcess ? ` (${Object.entries(s.cpuByProcess).map(([k, v]) => `${k} ${v}`).join(', ')})` : '') +
  (s.coreBusy ? `  cores busy ${s.coreBusy.join('/')}` : '') +
  (s.closedSockets ? `  CLOSED ${s.closedSockets}` : '')

/**
 * The saturation ladder: from `startRate` broadcasts/s, ×`factor` per step, up to `maxSteps`,
 * until delivered/s grows by less than 3 % over the best step (`best`: a step before it) twice (or a socket closed).
 * A step behind its offered load while the servers had less than `starvedCpu` cores was
 * starved by other work on the box, not saturated: it is repeated once, at most `maxRetries`
 * times in all. Returns the steps (each logged with `label`).
 */
export async function climbLadder(ctx, { startRate, best: bestBefore = 0, factor, maxSteps, maxRetries, starvedCpu, stepOptions, label, log = console.log }) {
  const steps = []
  let best = bestBefore
  let flat = 0
  let rate = startRate
  let retried = false
  let retries = 0
  for (let i = 0; i < maxSteps && flat < 2; i++) {
    const result = await step(ctx, rate, stepOptions)
    steps.push(result)
    if (result.closedSockets > 0) break
    const starved = result.deliveredPerSec < result.offeredDeliveriesPerSec * 0.97 && result.serverCpu < starvedCpu
    log(`  ${label.padEnd(11)} step  ${fmtStep(result)}${starved ? '  (server starved of CPU)' : ''}`)
    if (starved && !retried && retries < maxRetries) {
      retried = true
      retries += 1
      continue
    }
    retried = false
    rate = Math.round(rate * factor)
    // Delivered/s stopped growing: less than 3% above the best step so far.
    if (result.deliveredPerSec < best * 1.03) flat += 1
    else flat = 0
    best = Math.max(best, result.deliveredPerSec)
  }
  return steps
}
