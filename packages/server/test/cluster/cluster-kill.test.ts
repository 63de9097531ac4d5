/**
 * Nodes that die: three Switchboard processes (the built CLI) on one Redis and one Postgres,
 * official supabase-js clients, and real SIGKILLs. A killed node's presences leave every other
 * node within seconds (no ghosts); a killed slot reader is replaced and Postgres changes go on
 * from the slot's confirmed position, none lost and none twice.
 */
import { createClient, type RealtimeChannel, type SupabaseClient } from '@supabase/supabase-js'
import postgres from 'postgres'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { signToken } from '../../src/auth/dev-keys.js'
import { createTestDatabase, type TestDatabase } from '../../../../test-support/database.js'
import { NodeProcess, NODE_JWT_SECRET } from '../support/node-process.js'
import { RedisProcess } from '../support/redis-process.js'

let redis: RedisProcess
let database: TestDatabase
let sql: postgres.Sql
const nodes: NodeProcess[] = []
const clients: SupabaseClient[] = []
let anonKey: string

beforeAll(async () => {
  redis = await RedisProcess.start()
  database = await createTestDatabase('cluster_kill')
  anonKey = await signToken(NODE_JWT_SECRET, { role: 'anon' })
  // The first node migrates the database; the others start beside it.
  nodes.push(await NodeProcess.start({ databaseUrl: database.url, redisUrl: redis.url, nodeId: 'kill-a' }))
  nodes.push(...(await Promise.all(['kill-b', 'kill-c'].map((nodeId) => NodeProcess.start({ databaseUrl: database.url, redisUrl: redis.url, nodeId })))))
  sql = postgres(database.url, { max: 2, onnotice: () => {} })
}, 90_000)

afterAll(async () => {
  for (const client of clients) await client.realtime.disconnect().catch(() => {})
  await sql?.end()
  await Promise.all(nodes.map((node) => node.kill()))
  await redis?.stop()
  await database?.drop()
})

function client(node: NodeProcess): SupabaseClient {
  const c = createClient(node.url, anonKey, { realtime: { transport: WebSocket as never }, auth: { persistSession: false, autoRefreshToken: false } })
  clients.push(c)
  return c
}

function subscribed(channel: RealtimeChannel): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`subscribe of ${channel.topic} timed out`)), 20_000)
    channel.subscribe((status) => {
      if (status === 'SUBSCRIBED') {
        clearTimeout(timer)
        resolve()
      }
    })
  })
}

async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

async function health(node: NodeProcess): Promise<{ cluster?: { readsSlotFor: string[]; nodes: string[] } }> {
  const response = await fetch(`${node.url}/health`)
  return (await response.json()) as { cluster?: { readsSlotFor: string[]; nodes: string[] } }
}

describe('a node killed with SIGKILL', () => {
  test('its presences leave every other node within a few seconds', async () => {
    const [a, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess]
    const doomed = client(a).channel('ghosts', { config: { presence: { key: 'doomed-user' } } }).on('presence', { event: 'sync' }, () => {})
    const watchers = [b, c].map((node) => client(node).channel('ghosts').on('presence', { event: 'sync' }, () => {}))
    for (const channel of [doomed, ...watchers]) await subscribed(channel)
    await doomed.track({ online: true })
    await waitFor(() => watchers.every((w) => 'doomed-user' in w.presenceState()), 5_000, 'the presence on B and C')
    const killedAt = Date.now()
    await a.kill()
    await waitFor(() => watchers.every((w) => !('doomed-user' in w.presenceState())), 10_000, 'the presence gone from B and C')
    const tookMs = Date.now() - killedAt
    expect(tookMs).toBeLessThan(6_000) // heartbeat expiry (3 s) + one check (1 s), with room for a loaded machine
    await a.restart()
  }, 60_000)

  test('the slot reader: another node takes over and changes go on, none lost and none twice', async () => {
    await sql`create table kill_items (id int primary key)`
    await sql`alter publication supabase_realtime add table kill_items`
    // Wait for a reader (a fresh Redis holds the first election off one lease, 5 s).
    let reader: NodeProcess | undefined
    await waitFor(async () => {
      for (const node of nodes) if ((await health(node)).cluster?.readsSlotFor.includes('default')) reader = node
      return reader !== undefined
    }, 20_000, 'an elected slot reader')
    const others = nodes.filter((node) => node !== reader)
    const received = others.map(() => [] as number[])
    await Promise.all(others.map(async (node, i) => {
      const channel = client(node).channel(`kill-items-${i}`).on('postgres_changes' as never, { event: 'INSERT', schema: 'public', table: 'kill_items' } as never, (payload: { new: { id: number } }) => received[i]!.push(payload.new.id))
      await subscribed(channel)
    }))
    await new Promise((resolve) => setTimeout(resolve, 500)) // bindings registered on the nodes
    const rows = 1_500
    let killedAt = 0
    for (let id = 1; id <= rows; id++) {
      await sql`insert into kill_items values (${id})` // one row per transaction
      if (id === 300) {
        killedAt = Date.now()
        await reader!.kill()
      }
    }
    await waitFor(() => received.every((r) => r.length >= rows), 30_000, 'every row on the surviving nodes')
    await new Promise((resolve) => setTimeout(resolve, 500)) // a late duplicate would arrive by now
    const expected = Array.from({ length: rows }, (_, i) => i + 1)
    for (const r of received) expect(r).toEqual(expected)
    const newReader = (await Promise.all(others.map(health))).filter((h) => h.cluster?.readsSlotFor.includes('default'))
    expect(newReader).toHaveLength(1)
    expect(Date.now() - killedAt).toBeLessThan(30_000)
    await reader!.restart()
  }, 90_000)
})
