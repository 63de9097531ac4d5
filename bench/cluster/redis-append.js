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
 * Usage: npm run build && node bench/cluster/redis-append.js [--hosts 1,2,3] [--reps 3]
 *        [--window 256] [--warmup 1] [--duration 3]
 * Writes bench/results/cluster-redis-append-<date>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fmtRate, round, sleep, waitForQuiet } from '../broadcast/fleet.js'
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

async function measure(hosts, rep) {
  const quiet = await waitForQuiet({ waitMs: Number(option('quiet-wait', 30)) * 1000, log })
  const load = loadavg()[0]
  const redis = await startRedis({ core: '0' })
  const loaders = []
  try {
    const topics = Array.from({ length: hosts }, (_, i) => `room${i}`)
    for (let i = 0; i < hosts; i++) {
      const loader = spawnNode(join(here, 'redis-loader.js'), { core: '1', slowWarningMs: 15_000 })
      loaders.push(loader)
      await loader.ready
    }
    await Promise.all(loaders.map((l, i) => l.call('start', { url: redis.url, topics, own: topics[i], window: WINDOW })))
    await Promise.all(loaders.map((l) => l.call('rate', { on: true })))
    await sleep(WARMUP_MS)
    const stats0 = await redis.commandStats()
    const redisCpu0 = redis.cpuUs()
    const t0 = performance.now()
    await Promise.all(loaders.map((l) => l.call('mark')))
    await sleep(DURATION_MS)
    const results = await Promise.all(loaders.map((l) => l.call('collect')))
    const seconds = (performance.now() - t0) / 1000
    const redisCpu = (redis.cpuUs() - redisCpu0) / 1e6 / seconds
    const commands = commandDelta(stats0, await redis.commandStats())
    await Promise.all(loaders.map((l) => l.call('rate', { on: false })))
    const appends = results.reduce((n, r) => n + (r.appends / r.elapsedMs) * 1000, 0)
    const received = results.reduce((n, r) => n + (r.received / r.elapsedMs) * 1000, 0)
    const evals = (commands.byCommand.eval ?? 0) + (commands.byCommand.evalsha ?? 0)
    const result = {
      hosts, rep, quiet, loadAvg1: round(load, 2),
      appendsPerSec: Math.round(appends),
      receivedPerSec: Math.round(received),
      redisCpu: round(redisCpu, 2),
      appendsPerRedisCpuSec: Math.round(appends / Math.max(0.01, redisCpu)),
      loaderCpu: results.map((r) => round(r.cpu, 2)),
      commandsPerAppend: round(commands.total / Math.max(1, evals), 2),
      byCommand: commands.byCommand,
      failedAppends: results.reduce((n, r) => n + r.failed, 0),
    }
    log(`  ${hosts} host(s): ${fmtRate(result.appendsPerSec)} appends/s, each received ×${round(received / Math.max(1, appends), 2)}; Redis CPU ${result.redisCpu} → ${fmtRate(result.appendsPerRedisCpuSec)} appends per Redis CPU-second; loaders CPU ${result.loaderCpu.join(', ')}; ${result.commandsPerAppend} commands per append (${Object.entries(commands.byCommand).map(([k, v]) => `${k} ${v}`).join(', ')})`)
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
    for (const hosts of HOSTS) runs.push(await measure(hosts, rep))
  }
  const summary = {}
  log('')
  log(`Redis append script, medians of ${REPS}: Redis alone on core 0, the loaders on core 1`)
  log('| nodes hosting the topic | appends/s | Redis CPU | appends per Redis CPU-second | Redis commands per append | loaders CPU |')
  log('|---:|---:|---:|---:|---:|---|')
  for (const hosts of HOSTS) {
    const mine = runs.filter((r) => r.hosts === hosts)
    summary[hosts] = {
      appendsPerSec: median(mine.map((r) => r.appendsPerSec)),
      redisCpu: median(mine.map((r) => r.redisCpu)),
      appendsPerRedisCpuSec: median(mine.map((r) => r.appendsPerRedisCpuSec)),
      perRep: mine.map((r) => r.appendsPerRedisCpuSec),
      commandsPerAppend: median(mine.map((r) => r.commandsPerAppend)),
      loaderCpu: median(mine.map((r) => r.loaderCpu.reduce((a, b) => a + b, 0))),
    }
    const s = summary[hosts]
    log(`| ${hosts} | ${fmtRate(s.appendsPerSec)} | ${s.redisCpu} | ${fmtRate(s.appendsPerRedisCpuSec)} (${s.perRep.map(fmtRate).join(', ')}) | ${s.commandsPerAppend} | ${s.loaderCpu} |`)
  }
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `cluster-redis-append-${started.toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, JSON.stringify({ date: started.toISOString(), machine, config: { hosts: HOSTS, reps: REPS, window: WINDOW, warmupMs: WARMUP_MS, durationMs: DURATION_MS }, summary, runs }, null, 2))
  log(`wrote ${file} (${Math.round((Date.now() - started.getTime()) / 1000)} s)`)
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
