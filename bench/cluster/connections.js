#!/usr/bin/env node
/**
 * What an idle connection costs a cluster node: one node on Redis (server-proc.js, core 0),
 * RSS before any client and after --connections sockets joined one channel each (10 rooms,
 * the fan-out bench's receivers: raw WebSockets, vsn 2.0.0, heartbeat every 25 s), and the
 * node's CPU while they sit idle for --idle seconds. For the cluster sizing in bench/README.md
 * (how many connections a node holds); RSS without a forced GC, so it includes garbage not yet
 * collected (an upper bound for the heap part).
 *
 * Usage: npm run build && node bench/cluster/connections.js [--connections 5000] [--idle 5] [--reps 3]
 * Writes bench/results/cluster-connections-<date>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { round, sleep, startClients, startServer } from '../broadcast/fleet.js'
import { helpFromHeader, option } from '../lib/cli.js'
import { startPostgres } from '../lib/postgres.js'
import { startRedis } from '../lib/redis.js'
import { median } from '../lib/stats.js'

await helpFromHeader(import.meta.url)

const here = dirname(fileURLToPath(import.meta.url))
const resultsDir = join(here, '..', 'results')
const log = (line) => console.log(line)
const CONNECTIONS = Number(option('connections', 5_000))
const IDLE_MS = Number(option('idle', 5)) * 1000
const REPS = Number(option('reps', 3))
const ROOMS = 10

async function measure(databaseUrl, rep) {
  const redis = await startRedis({ core: '1' })
  let server = null
  let clients = null
  try {
    server = await startServer('switchboard', '0', { env: { BENCH_DATABASE_URL: databaseUrl, BENCH_REDIS_URL: redis.url } })
    await sleep(1_000)
    const before = await server.call('cpu')
    // One publisher per room joins too (startClients always opens them): ROOMS more sockets.
    clients = await startClients({ publishTo: server, rooms: ROOMS, perRoom: CONNECTIONS / ROOMS, core: '1' })
    await sleep(1_000)
    const joined = await server.call('cpu')
    const t0 = performance.now()
    await sleep(IDLE_MS)
    const idle = await server.call('cpu')
    const sockets = CONNECTIONS + ROOMS
    const result = {
      rep,
      loadAvg1: round(loadavg()[0], 2),
      sockets,
      joinMs: clients.joinMs,
      rssBeforeMb: round(before.rss / 1e6, 1),
      rssAfterMb: round(joined.rss / 1e6, 1),
      kbPerConnection: round((joined.rss - before.rss) / 1024 / sockets, 1),
      idleCpu: round((idle.cpuUs - joined.cpuUs) / 1000 / (performance.now() - t0), 3),
    }
    log(`  rep ${rep}: ${sockets} sockets joined in ${result.joinMs} ms; RSS ${result.rssBeforeMb} → ${result.rssAfterMb} MB = ${result.kbPerConnection} KB per connection; idle CPU ${result.idleCpu} (load ${result.loadAvg1})`)
    return result
  } finally {
    await clients?.stop()
    await server?.stop('stop')
    await redis.stop()
  }
}

async function main() {
  const started = new Date()
  log(`cluster connections bench · ${started.toISOString()} · ${cpus().length}× ${cpus()[0]?.model} · node ${process.version} · load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  const pg = await startPostgres()
  const runs = []
  try {
    for (let rep = 1; rep <= REPS; rep++) runs.push(await measure(pg.url, rep))
  } finally {
    await pg.stop()
  }
  const summary = { kbPerConnection: median(runs.map((r) => r.kbPerConnection)), idleCpu: median(runs.map((r) => r.idleCpu)), sockets: runs[0].sockets }
  log(`median of ${REPS}: ${summary.kbPerConnection} KB RSS per joined idle connection, node CPU ${summary.idleCpu} with ${summary.sockets} idle sockets`)
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `cluster-connections-${started.toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, JSON.stringify({ date: started.toISOString(), config: { connections: CONNECTIONS, idleMs: IDLE_MS, reps: REPS }, summary, runs }, null, 2))
  log(`wrote ${file}`)
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
