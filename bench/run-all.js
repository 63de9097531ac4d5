#!/usr/bin/env node
/**
 * `npm run bench`: every benchmark in turn (each also runs alone; see bench/README.md).
 * Expects a fresh build (`npm run build`, which `npm run bench` does first).
 */
import { spawnSync } from 'node:child_process'

const steps = [
  ['Broadcast fan-out', ['node', 'bench/broadcast/run.js']],
  ['Postgres Changes', ['node', 'bench/cdc/run.js']],
  ['Resume under chaos', ['npx', 'vitest', 'run', '--config', 'bench/resume/vitest.config.ts']],
  ['Replay buffer memory', ['node', '--expose-gc', 'bench/resume/replay-memory.mjs']],
  ['Many tenants', ['node', 'bench/tenants/run.js']],
  // Cluster (need /usr/bin/redis-server or REDIS_SERVER; each starts its own Redis on a free port).
  ['Cluster: --workers 2 vs one process', ['node', 'bench/cluster/fanout.js']],
  ['Cluster: cross-node latency', ['node', 'bench/cluster/latency.js']],
  ['Cluster: presence convergence', ['node', 'bench/cluster/presence.js']],
  ['Cluster: Redis append capacity', ['node', 'bench/cluster/redis-append.js']],
  ['Cluster: memory per connection', ['node', 'bench/cluster/connections.js']],
]

let failed = 0
for (const [name, [command, ...args]] of steps) {
  console.log(`\n=== ${name}: ${[command, ...args].join(' ')}`)
  const result = spawnSync(command, args, { stdio: 'inherit' })
  if (result.status !== 0) {
    failed += 1
    console.error(`${name} failed (exit ${result.status})`)
  }
}
process.exitCode = failed > 0 ? 1 : 0
