/**
 * A cluster for conformance tests: one real redis-server on a free port, one test database,
 * and N Switchboard nodes in this process (port 0 each) that share both, with official
 * supabase-js clients pointed at any node. Process-level cases (SIGKILL) live in the client
 * package's cluster tests, which run nodes as child processes.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import postgres from 'postgres'
import WebSocket from 'ws'
import { startSwitchboard, type RunningSwitchboard, type SwitchboardOptions } from '@switchboard/server'
import { createTestDatabase, type TestDatabase } from '../../test-support/database.js'
import { RedisProcess } from '../../packages/server/test/support/redis-process.js'

export const CLUSTER_SECRET = 'cluster-secret-at-least-32-characters-long!'

export interface ClusterHarness {
  redis: RedisProcess
  database: TestDatabase
  nodes: RunningSwitchboard[]
  sql: postgres.Sql
  /** An official client connected to node `index`. */
  client(index: number, options?: { vsn?: '1.0.0' | '2.0.0' }): SupabaseClient
  close(): Promise<void>
}

export async function startCluster(count: number, options: SwitchboardOptions = {}): Promise<ClusterHarness> {
  const redis = await RedisProcess.start()
  const database = await createTestDatabase('cluster')
  const nodes: RunningSwitchboard[] = []
  // One after the other: the first node creates the schema, the others find it.
  for (let i = 0; i < count; i++) {
    nodes.push(await startSwitchboard({ port: 0, databaseUrl: database.url, jwtSecret: CLUSTER_SECRET, redisUrl: redis.url, nodeId: `node-${String.fromCharCode(97 + i)}`, ...options }))
  }
  const sql = postgres(database.url, { max: 2, onnotice: () => {} })
  const clients: SupabaseClient[] = []
  return {
    redis,
    database,
    nodes,
    sql,
    client(index, { vsn } = {}) {
      const node = nodes[index]!
      const client = createClient(node.url, node.anonKey, {
        realtime: { transport: WebSocket as never, ...(vsn ? { vsn } : {}), heartbeatIntervalMs: 25_000 },
        auth: { persistSession: false, autoRefreshToken: false },
      })
      clients.push(client)
      return client
    },
    async close() {
      for (const client of clients) await client.realtime.disconnect().catch(() => {})
      await sql.end()
      for (const node of nodes) await node.close().catch(() => {})
      await redis.stop()
      await database.drop()
    },
  }
}
