/**
 * The server under test, in its own process (spawned by run.js, pinned to its own core).
 * `node server-proc.js switchboard` starts Switchboard from the build (packages/server/dist)
 * against BENCH_DATABASE_URL; `node server-proc.js baseline` starts baseline-server.js.
 *
 * BENCH_ADMIN_KEY gives Switchboard an admin key, so run.js --tracing can switch the inspector's
 * delivery trace through its API.
 *
 * Cluster (bench/cluster/): BENCH_REDIS_URL makes Switchboard a cluster node on that Redis
 * (BENCH_NODE_ID names it). `node server-proc.js workers` (BENCH_WORKERS=N, BENCH_REDIS_URL
 * required) is `switchboard start --workers N`: this process runs the CLI's own primary
 * (dist/workers-cli.js `runPrimary`: node:cluster, one shared port, connections handed to the
 * workers round robin), and each worker it forks runs this file again and starts one node with
 * the bench's limits (the CLI has no flag for them). The primary answers `cpu` with its own
 * CPU time plus its workers' (read from /proc), itemised per process.
 *
 * IPC: reports `{ ready, port, apiKey, pids }`, answers `{ id, cmd: 'cpu' }` with its CPU time
 * (`cpuUs`, and `processes: [{ role, pid, cpuUs }]`) and `{ id, cmd: 'stop' }` by closing and exiting.
 */
import cluster from 'node:cluster'
import { serve } from '../lib/child-ipc.js'
import { processCpuUs } from '../lib/cpu.js'
import { startBaseline } from './baseline-server.js'

const mode = process.argv[2]
const JWT_SECRET = 'switchboard-bench-secret-0123456789abcdef'

/** Publishers send far more than a browser would; the bench raises only the limits it needs. */
export const BENCH_LIMITS = {
  // Each publisher pushes up to tens of thousands of broadcasts/s on one socket.
  maxEventsPerSecond: 10_000_000,
  // The presence bench (bench/cluster/presence.js) tracks and untracks hundreds of times per channel.
  maxPresenceCallsPerWindow: 1_000_000,
}

/** Switchboard from the build, a cluster node when BENCH_REDIS_URL is set. */
async function startNode(port) {
  // BENCH_SERVER_DIST: another build of packages/server (e.g. before a change), for A/B runs.
  const dist = process.env.BENCH_SERVER_DIST ? new URL(`file://${process.env.BENCH_SERVER_DIST}/index.js`).href : '../../packages/server/dist/index.js'
  const { startSwitchboard } = await import(dist)
  const server = await startSwitchboard({
    port,
    host: '127.0.0.1',
    databaseUrl: process.env.BENCH_DATABASE_URL,
    jwtSecret: JWT_SECRET,
    limits: BENCH_LIMITS,
    ...(process.env.BENCH_ADMIN_KEY ? { adminKey: process.env.BENCH_ADMIN_KEY } : {}),
    ...(process.env.BENCH_REDIS_URL ? { redisUrl: process.env.BENCH_REDIS_URL } : {}),
    ...(process.env.BENCH_NODE_ID ? { nodeId: process.env.BENCH_NODE_ID } : {}),
  })
  return server
}

/** This process's CPU time so far, µs. */
const ownCpuUs = () => {
  const { user, system } = process.cpuUsage()
  return user + system
}

async function start() {
  if (mode === 'baseline') {
    const server = await startBaseline({ port: 0 })
    return { port: server.port, apiKey: 'baseline', close: server.close, processes: () => [] }
  }
  if (mode === 'switchboard') {
    const server = await startNode(0)
    return { port: server.port, apiKey: server.anonKey, close: () => server.close(), processes: () => [] }
  }
  if (mode === 'workers') return startPrimary()
  throw new Error(`unknown server mode ${mode}`)
}

// ─── --workers N ────────────────────────────────────────────────────────────────────────

/** A worker of `workers` mode: one node on the primary's port; tells the primary its anon key. */
async function runWorker() {
  const server = await startNode(Number(process.env.BENCH_PORT))
  process.send({ benchAnonKey: server.anonKey })
  const stop = () => server.close().finally(() => process.exit(0))
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

/** The CLI's primary (runPrimary) over this file's workers; resolves once they all listen. */
async function startPrimary() {
  const workers = Number(process.env.BENCH_WORKERS ?? 2)
  if (!process.env.BENCH_REDIS_URL) throw new Error('workers mode needs BENCH_REDIS_URL')
  const [{ runPrimary }, { createLogger }, { freePort }] = await Promise.all([
    import('../../packages/server/dist/workers-cli.js'),
    import('../../packages/server/dist/logger.js'),
    import('../../packages/server/dist/db/free-port.js'),
  ])
  const port = await freePort()
  process.env.BENCH_PORT = String(port) // the workers inherit the primary's environment
  let apiKey = null
  cluster.on('message', (_worker, message) => {
    if (message?.benchAnonKey) apiKey = message.benchAnonKey
  })
  let onReady
  const ready = new Promise((resolve, reject) => {
    onReady = resolve
    setTimeout(() => reject(new Error('workers did not start within 30 s')), 30_000).unref()
  })
  const done = runPrimary({
    workers,
    host: '127.0.0.1',
    databaseUrl: process.env.BENCH_DATABASE_URL,
    dataDir: '.switchboard-bench',
    redisUrl: process.env.BENCH_REDIS_URL,
    logger: createLogger({ level: 'warn' }),
    out: () => onReady(),
    err: (line) => console.error(line),
  })
  await ready
  while (apiKey === null) await new Promise((resolve) => setTimeout(resolve, 10))
  const pids = () => Object.values(cluster.workers).map((w) => w.process.pid)
  return {
    port,
    apiKey,
    pids: pids(),
    processes: () => pids().map((pid, i) => ({ role: `worker ${i + 1}`, pid, cpuUs: processCpuUs(pid) })),
    async close() {
      process.emit('SIGTERM', 'SIGTERM') // runPrimary's own handler: forwards to the workers, waits for them
      await done
    },
  }
}

// ─── main ───────────────────────────────────────────────────────────────────────────────

if (mode === 'workers' && cluster.isWorker) {
  await runWorker()
} else {
  const server = await start()
  serve({
    cpu() {
      const processes = [{ role: mode === 'workers' ? 'primary' : 'server', pid: process.pid, cpuUs: ownCpuUs() }, ...server.processes()]
      return { cpuUs: processes.reduce((sum, p) => sum + p.cpuUs, 0), rss: process.memoryUsage().rss, processes }
    },
    async stop() {
      await Promise.race([server.close(), new Promise((resolve) => setTimeout(resolve, 5_000))])
    },
  }, { ready: { port: server.port, apiKey: server.apiKey, pids: server.pids ?? [process.pid] }, exitAfter: ['stop'] })
}
