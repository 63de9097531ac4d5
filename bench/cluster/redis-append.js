#!/usr/bin/env node
/**
 * Redis's capacity for the shared log's append script: what one Redis core does per second,
 * and what each append costs it, with the server's own cluster code driving it.
 *
 *   redis-append.js ──┬── redis-server                         alone on core 0
 *                     └── redis-loader.js × L ("nodes")         core 1
 *
 * Each loader is a node without WebSockets (the build's RedisNode + RedisTenantLog, tenant
 * "default"): it appends 150-byte broadcasts to its own topic with up to --window of its own on
 * their way, and hosts every loader's topic, so each append is published to L subscriber
 * connections: L is the number of nodes a topic lives on. For L = 1, 2, 3 (--hosts): appends/s,
 * Redis's CPU, appends per Redis CPU-second (the capacity of a Redis core, extrapolated
 * linearly when Redis was not saturated) and Redis commands per append (INFO commandstats).
 * Repetitions run every L in turn; the report gives medians.
 *
 * The node loaders spend more CPU per append than Redis does, so on this box they cannot load
 * Redis to saturation from one core. The `redis-benchmark` rows do: the append script is
 * captured as the server sends it (MONITOR while a loader appends once), and redis-benchmark
 * (C, pipelined: -c 8 -P 32) sends it to the same Redis while L loaders only host the topic
 * (they receive every publish). Two forms: `EVAL <script text>`, as RedisTenantLog sends it
 * today, and `EVALSHA <sha1>` (SCRIPT LOAD first), as docs/cluster.md describes it. The
 * message body is a printable string of the real body's length (argv cannot carry its NULs).
 *
 * Usage: npm run build && node bench/cluster/redis-append.js [--hosts 1,2,3] [--reps 3]
 *        [--window 256] [--warmup 1] [--duration 3] [--requests 150000] [--drivers nodes,eval,evalsha]
 *        [--quiet-wait 3]
 * Writes bench/results/cluster-redis-append-<date>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawn } from 'node:child_process'
import { createConnection } from 'node:net'
import { fmtRate, round, sleep, waitForQuiet } from '../broadcast/fleet.js'
import { canPin } from '../lib/child.js'
import { spawnNode } from '../lib/child.js'
import { helpFromHeader, option } from '../lib/cli.js'
import { commandDelta, startRedis } from '../lib/redis.js'
import { median } from '../lib/stats.js'

await helpFromHeader(import.meta.url)

const here = dirname(fileURLToPath(import.meta.url))
const resultsDir = join(here, '..', 'results')
const log = (line) => console.log(line)
const HOSTS = option('hosts', '1,2,3').split(',').map(Number)
const REPS = Number(option('reps', 3))
const WINDOW = Number(option('window', 256))
const WARMUP_MS = Number(option('warmup', 1)) * 1000
const DURATION_MS = Number(option('duration', 3)) * 1000
const REQUESTS = Number(option('requests', 150_000))
const DRIVERS = option('drivers', 'nodes,eval,evalsha').split(',')

// ─── the append script, as the server sends it ─────────────────────────────────────────

/** Reads one `"…"` argument of a MONITOR line (sdscatrepr escapes) from `i`; returns [value, next]. */
function unquote(line, i) {
  let out = ''
  for (i += 1; line[i] !== '"'; i++) {
    if (line[i] !== '\\') {
      out += line[i]
      continue
    }
    const c = line[++i]
    if (c === 'x') {
      out += String.fromCharCode(parseInt(line.slice(i + 1, i + 3), 16))
      i += 2
    } else out += { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' }[c] ?? c
  }
  return [out, i + 1]
}

/** MONITOR on `redis` until the first EVAL of the append script; returns its arguments after EVAL. */
function captureAppend(redis, trigger) {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port: redis.port, host: '127.0.0.1' })
    let text = ''
    const timer = setTimeout(() => (socket.destroy(), reject(new Error('no append seen by MONITOR'))), 10_000)
    socket.once('connect', () => socket.write('MONITOR\r\n'))
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1')
      if (text.startsWith('+OK\r\n')) {
        text = text.slice(5)
        trigger()
      }
      for (const line of text.split('\r\n')) {
        if (!/"eval" "[^"]*XADD/i.test(line)) continue
        const args = []
        for (let i = line.indexOf('"eval"') + 7; i < line.length; i++) {
          if (line[i] !== '"') continue
          const [value, next] = unquote(line, i)
          args.push(value)
          i = next
        }
        clearTimeout(timer)
        socket.destroy()
        return resolve(args)
      }
    })
  })
}

/** redis-benchmark sending `args` (pipelined), pinned to core 1; resolves with requests/s. */
function redisBenchmark(redis, args) {
  const command = ['redis-benchmark', '-h', '127.0.0.1', '-p', String(redis.port), '-c', '8', '-P', '32', '-n', String(REQUESTS), '--csv', ...args]
  return new Promise((resolve, reject) => {
    const child = spawn(canPin ? 'taskset' : command[0], canPin ? ['-c', '1', ...command] : command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.once('exit', (code) => {
      const row = out.trim().split('\n').at(-1).split('","')
      const rps = Number(row[1]?.replace(/"/g, ''))
      if (code !== 0 || !Number.isFinite(rps)) reject(new Error(`redis-benchmark failed (${code}): ${out}`))
      else resolve(rps)
    })
  })
}

async function measure(driver, hosts, rep) {
  const quiet = await waitForQuiet({ waitMs: Number(option('quiet-wait', 3)) * 1000, log })
  const load = loadavg()[0]
  const redis = await startRedis({ core: '0' })
  const loaders = []
  try {
    // nodes: every loader appends to its own topic and hosts all; benchmark: loaders host room0 only.
    const topics = driver === 'nodes' ? Array.from({ length: hosts }, (_, i) => `room${i}`) : ['room0']
    for (let i = 0; i < hosts; i++) {
      const loader = spawnNode(join(here, 'redis-loader.js'), { core: '1', slowWarningMs: 15_000 })
      loaders.push(loader)
      await loader.ready
    }
    const window = driver === 'nodes' ? WINDOW : 1
    await Promise.all(loaders.map((l, i) => l.call('start', { url: redis.url, topics, own: topics[i % topics.length], window })))
    let benchmarkArgs = null
    if (driver !== 'nodes') {
      // One append by the server's code, seen by MONITOR: the script and its arguments.
      const [script, ...rest] = await captureAppend(redis, () => void loaders[0].call('rate', { on: true }))
      await loaders[0].call('rate', { on: false })
      const body = rest[8]
      rest[8] = 'x'.repeat(body.length)
      benchmarkArgs = driver === 'eval' ? ['EVAL', script, ...rest] : ['EVALSHA', await redis.command(['SCRIPT', 'LOAD', script]), ...rest]
    } else {
      await Promise.all(loaders.map((l) => l.call('rate', { on: true })))
      await sleep(WARMUP_MS)
    }
    const stats0 = await redis.commandStats()
    const redisCpu0 = redis.cpuUs()
    const t0 = performance.now()
    await Promise.all(loaders.map((l) => l.call('mark')))
    let benchmarkRps = null
    if (benchmarkArgs) benchmarkRps = await redisBenchmark(redis, benchmarkArgs)
    else await sleep(DURATION_MS)
    const results = await Promise.all(loaders.map((l) => l.call('collect')))
    const seconds = (performance.now() - t0) / 1000
    const redisCpu = (redis.cpuUs() - redisCpu0) / 1e6 / seconds
    const commands = commandDelta(stats0, await redis.commandStats())
    await Promise.all(loaders.map((l) => l.call('rate', { on: false })))
    const evals = (commands.byCommand.eval ?? 0) + (commands.byCommand.evalsha ?? 0)
    const appends = benchmarkRps ?? results.reduce((n, r) => n + (r.appends / r.elapsedMs) * 1000, 0)
    const received = results.reduce((n, r) => n + (r.received / r.elapsedMs) * 1000, 0)
    const result = {
      driver, hosts, rep, quiet, loadAvg1: round(load, 2),
      appendsPerSec: Math.round(appends),
      receivedPerSec: Math.round(received),
      redisCpu: round(redisCpu, 2),
      appendsPerRedisCpuSec: Math.round(evals / seconds / Math.max(0.01, redisCpu)),
      loaderCpu: results.map((r) => round(r.cpu, 2)),
      commandsPerAppend: round(commands.total / Math.max(1, evals), 2),
      byCommand: commands.byCommand,
      failedAppends: results.reduce((n, r) => n + r.failed, 0),
    }
    log(`  ${driver.padEnd(7)} ${hosts} host(s): ${fmtRate(result.appendsPerSec)} appends/s, received ${fmtRate(received)}/s; Redis CPU ${result.redisCpu} → ${fmtRate(result.appendsPerRedisCpuSec)} appends per Redis CPU-second; loaders CPU ${result.loaderCpu.join(', ')}; ${result.commandsPerAppend} commands per append`)
    return result
  } finally {
    for (const loader of loaders) await loader.stop('exit')
    await redis.stop()
  }
}

async function main() {
  const started = new Date()
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version }
  log(`redis append capacity bench · ${started.toISOString()} · ${machine.cpus}× ${machine.cpuModel} · node ${machine.node} · load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  const runs = []
  for (let rep = 1; rep <= REPS; rep++) {
    log(`repetition ${rep}/${REPS}`)
    for (const driver of DRIVERS) for (const hosts of HOSTS) runs.push(await measure(driver, hosts, rep))
  }
  const summary = {}
  log('')
  log(`Redis append script, medians of ${REPS}: Redis alone on core 0; loaders and redis-benchmark on core 1`)
  log('| driver | nodes hosting the topic | appends/s | Redis CPU | appends per Redis CPU-second | Redis commands per append | loaders CPU |')
  log('|---|---:|---:|---:|---:|---:|---:|')
  for (const driver of DRIVERS) {
    for (const hosts of HOSTS) {
      const mine = runs.filter((r) => r.driver === driver && r.hosts === hosts)
      const s = {
        appendsPerSec: median(mine.map((r) => r.appendsPerSec)),
        perRep: mine.map((r) => r.appendsPerSec),
        redisCpu: median(mine.map((r) => r.redisCpu)),
        appendsPerRedisCpuSec: median(mine.map((r) => r.appendsPerRedisCpuSec)),
        commandsPerAppend: median(mine.map((r) => r.commandsPerAppend)),
        loaderCpu: median(mine.map((r) => round(r.loaderCpu.reduce((a, b) => a + b, 0), 2))),
      }
      summary[`${driver}-${hosts}`] = s
      log(`| ${driver} | ${hosts} | ${fmtRate(s.appendsPerSec)} (${s.perRep.map(fmtRate).join(', ')}) | ${s.redisCpu} | ${fmtRate(s.appendsPerRedisCpuSec)} | ${s.commandsPerAppend} | ${s.loaderCpu} |`)
    }
  }
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `cluster-redis-append-${started.toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, JSON.stringify({ date: started.toISOString(), machine, config: { hosts: HOSTS, drivers: DRIVERS, reps: REPS, window: WINDOW, warmupMs: WARMUP_MS, durationMs: DURATION_MS, benchmarkRequests: REQUESTS, benchmark: '-c 8 -P 32' }, summary, runs }, null, 2))
  log(`wrote ${file} (${Math.round((Date.now() - started.getTime()) / 1000)} s)`)
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
