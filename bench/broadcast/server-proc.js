/**
 * The server under test, in its own process (spawned by run.js, pinned to its own core).
 * `node server-proc.js switchboard` starts Switchboard from the build (packages/server/dist)
 * against BENCH_DATABASE_URL; `node server-proc.js baseline` starts baseline-server.js.
 *
 * BENCH_ADMIN_KEY gives Switchboard an admin key, so run.js --tracing can switch the inspector's
 * delivery trace through its API.
 *
 * IPC: reports `{ ready, port, apiKey }`, answers `{ id, cmd: 'cpu' }` with its CPU time and
 * `{ id, cmd: 'stop' }` by closing and exiting.
 */
import { serve } from '../lib/child-ipc.js'
import { startBaseline } from './baseline-server.js'

const mode = process.argv[2]

/** Publishers send far more than a browser would; the bench raises only the limits it needs. */
export const BENCH_LIMITS = {
  // Each publisher pushes up to tens of thousands of broadcasts/s on one socket.
  maxEventsPerSecond: 10_000_000,
}

async function start() {
  if (mode === 'baseline') {
    const server = await startBaseline({ port: 0 })
    return { port: server.port, apiKey: 'baseline', close: server.close }
  }
  if (mode === 'switchboard') {
    // BENCH_SERVER_DIST: another build of packages/server (e.g. before a change), for A/B runs.
    const dist = process.env.BENCH_SERVER_DIST ? new URL(`file://${process.env.BENCH_SERVER_DIST}/index.js`).href : '../../packages/server/dist/index.js'
    const { startSwitchboard } = await import(dist)
    const server = await startSwitchboard({
      port: 0,
      host: '127.0.0.1',
      databaseUrl: process.env.BENCH_DATABASE_URL,
      jwtSecret: 'switchboard-bench-secret-0123456789abcdef',
      limits: BENCH_LIMITS,
      ...(process.env.BENCH_ADMIN_KEY ? { adminKey: process.env.BENCH_ADMIN_KEY } : {}),
    })
    return { port: server.port, apiKey: server.anonKey, close: () => server.close() }
  }
  throw new Error(`unknown server mode ${mode}`)
}

const server = await start()
serve({
  cpu() {
    const { user, system } = process.cpuUsage()
    return { cpuUs: user + system, rss: process.memoryUsage().rss }
  },
  async stop() {
    await Promise.race([server.close(), new Promise((resolve) => setTimeout(resolve, 3_000))])
  },
}, { ready: { port: server.port, apiKey: server.apiKey }, exitAfter: ['stop'] })
