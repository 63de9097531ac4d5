/**
 * The multi-tenant server under test, in its own process (spawned by run.js with --expose-gc,
 * pinned to its own core): Switchboard from the build (packages/server/dist) with a control
 * database, an admin key and a secrets key, tenants stopped after BENCH_IDLE_MS of quiet.
 *
 * IPC: reports `{ ready, url, port }`; answers `memory` (after two full GCs: heap, external,
 * RSS), `tenants` (how many run, how many are in memory), `cpu`, and `stop`.
 */
import { serve } from '../lib/child-ipc.js'

const { startSwitchboard } = await import('../../packages/server/dist/index.js')
const server = await startSwitchboard({
  port: 0,
  host: '127.0.0.1',
  databaseUrl: process.env.BENCH_DATABASE_URL,
  jwtSecret: 'switchboard-bench-secret-0123456789abcdef',
  adminKey: process.env.BENCH_ADMIN_KEY,
  controlDatabaseUrl: process.env.BENCH_CONTROL_URL,
  secretsKey: process.env.BENCH_SECRETS_KEY,
  tenants: { idleStopMs: Number(process.env.BENCH_IDLE_MS ?? 300_000) },
})

serve(
  {
    memory() {
      for (let i = 0; i < 3; i++) globalThis.gc?.()
      const { heapUsed, external, rss, arrayBuffers } = process.memoryUsage()
      return { heapUsed, external, rss, arrayBuffers }
    },
    tenants() {
      // Stored tenants only: `default` (the flags' tenant) runs for the server's life.
      const slots = server.registry.slots.filter((slot) => slot.id !== 'default')
      return { running: slots.filter((slot) => slot.state !== 'idle').length, inMemory: slots.length }
    },
    cpu() {
      const { user, system } = process.cpuUsage()
      return { cpuUs: user + system }
    },
    async stop() {
      await Promise.race([server.close(), new Promise((resolve) => setTimeout(resolve, 5_000))])
    },
  },
  { ready: { url: server.url, port: server.port }, exitAfter: ['stop'] },
)
