/**
 * Three nodes on one Redis and one Postgres serve one set of channels, seen through the
 * official supabase-js: broadcasts (both vsn, self and ack unchanged, REST) and presence cross
 * nodes; topics are routed with sharded pub/sub, so a node receives only topics it hosts.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { RealtimeChannel } from '@supabase/supabase-js'
import { createClient } from '@supabase/supabase-js'
import WebSocket from 'ws'
import { startSwitchboard } from '@switchboard/server'
import { CLUSTER_SECRET, startCluster, type ClusterHarness } from './support/cluster.js'
import { subscribe, waitFor } from './support/harness.js'
import { listen } from './support/pg-changes.js'

let cluster: ClusterHarness

beforeAll(async () => {
  cluster = await startCluster(3)
})

afterAll(async () => {
  await cluster?.close()
})

/** Presence on: realtime-js enables it for channels with a presence listener. */
function withPresence(channel: RealtimeChannel): RealtimeChannel {
  return channel.on('presence', { event: 'sync' }, () => {})
}

function collect(channel: RealtimeChannel, event = 'msg'): unknown[] {
  const received: unknown[] = []
  channel.on('broadcast', { event }, (message) => received.push(message.payload))
  return received
}

describe('broadcast across nodes', () => {
  test.each(['1.0.0', '2.0.0'] as const)('a message sent on node A reaches subscribers on B and C, in order (vsn %s)', async (vsn) => {
    const topic = `room-${vsn}`
    const sender = cluster.client(0, { vsn }).channel(topic, { config: { broadcast: { ack: true } } })
    const onB = cluster.client(1, { vsn }).channel(topic)
    const onC = cluster.client(2, { vsn }).channel(topic)
    const receivedB = collect(onB)
    const receivedC = collect(onC)
    const ownEcho = collect(sender)
    for (const channel of [sender, onB, onC]) expect((await subscribe(channel)).status).toBe('SUBSCRIBED')
    for (let i = 0; i < 50; i++) expect(await sender.send({ type: 'broadcast', event: 'msg', payload: { i } })).toBe('ok')
    await waitFor(() => receivedB.length === 50 && receivedC.length === 50, 5_000, 'fifty messages on B and C')
    expect(receivedB.map((p) => (p as { i: number }).i)).toEqual([...Array(50).keys()])
    expect(receivedC).toEqual(receivedB)
    expect(ownEcho).toEqual([]) // self: false by default
  })

  test('self: true echoes once to the sender only', async () => {
    const sender = cluster.client(0).channel('self-room', { config: { broadcast: { self: true } } })
    const other = cluster.client(1).channel('self-room')
    const echo = collect(sender)
    const seen = collect(other)
    for (const channel of [sender, other]) expect((await subscribe(channel)).status).toBe('SUBSCRIBED')
    await sender.send({ type: 'broadcast', event: 'msg', payload: { n: 1 } })
    await waitFor(() => echo.length === 1 && seen.length === 1, 5_000, 'echo and delivery')
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(echo).toEqual([{ n: 1 }])
    expect(seen).toEqual([{ n: 1 }])
  })

  test('a REST broadcast on node A reaches node C', async () => {
    const onC = cluster.client(2).channel('rest-room')
    const received = collect(onC, 'from-rest')
    expect((await subscribe(onC)).status).toBe('SUBSCRIBED')
    const nodeA = cluster.nodes[0]!
    const response = await fetch(`${nodeA.url}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: { apikey: nodeA.serviceRoleKey, authorization: `Bearer ${nodeA.serviceRoleKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ topic: 'rest-room', event: 'from-rest', payload: { via: 'A' } }] }),
    })
    expect(response.status).toBe(202)
    await waitFor(() => received.length === 1, 5_000, 'REST broadcast on C')
    expect(received).toEqual([{ via: 'A' }])
  })

  test('a node that hosts no channel of a topic does not receive it', async () => {
    const onA = cluster.client(0).channel('only-a')
    const onB = cluster.client(1).channel('only-a')
    for (const channel of [onA, onB]) expect((await subscribe(channel)).status).toBe('SUBSCRIBED')
    const before = cluster.nodes[2]!.tenant.hub.log.size
    for (let i = 0; i < 20; i++) await onA.send({ type: 'broadcast', event: 'msg', payload: { i } })
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(cluster.nodes[1]!.tenant.hub.log.size).toBeGreaterThanOrEqual(20)
    expect(cluster.nodes[2]!.tenant.hub.log.size).toBe(before)
  })
})

describe('presence across nodes', () => {
  test('a presence tracked on A appears on B and C, and leaves everywhere on untrack', async () => {
    const topic = 'presence-room'
    const onA = withPresence(cluster.client(0).channel(topic, { config: { presence: { key: 'alice' } } }))
    const onB = withPresence(cluster.client(1).channel(topic, { config: { presence: { key: 'bob' } } }))
    expect((await subscribe(onB)).status).toBe('SUBSCRIBED')
    await onB.track({ name: 'bob' })
    expect((await subscribe(onA)).status).toBe('SUBSCRIBED')
    // A joined after B tracked: its presence_state comes from the other node.
    await waitFor(() => Object.keys(onA.presenceState()).includes('bob'), 5_000, 'bob on A')
    const startedAt = Date.now()
    await onA.track({ name: 'alice' })
    await waitFor(() => Object.keys(onB.presenceState()).includes('alice'), 5_000, 'alice on B')
    expect(Date.now() - startedAt).toBeLessThan(500)
    const onC = withPresence(cluster.client(2).channel(topic))
    expect((await subscribe(onC)).status).toBe('SUBSCRIBED')
    await waitFor(() => ['alice', 'bob'].every((key) => Object.keys(onC.presenceState()).includes(key)), 5_000, 'both on C')
    await onA.untrack()
    await waitFor(() => !Object.keys(onB.presenceState()).includes('alice') && !Object.keys(onC.presenceState()).includes('alice'), 5_000, 'alice left B and C')
  })

  test('a node that shuts down takes its presences with it', async () => {
    const extra = await startSwitchboard({ port: 0, databaseUrl: cluster.database.url, jwtSecret: CLUSTER_SECRET, redisUrl: cluster.redis.url, nodeId: 'node-extra' })
    const client = createClient(extra.url, extra.anonKey, { realtime: { transport: WebSocket as never }, auth: { persistSession: false } })
    const onExtra = withPresence(client.channel('leaving-room', { config: { presence: { key: 'carol' } } }))
    const onA = withPresence(cluster.client(0).channel('leaving-room'))
    for (const channel of [onExtra, onA]) expect((await subscribe(channel)).status).toBe('SUBSCRIBED')
    await onExtra.track({ name: 'carol' })
    await waitFor(() => Object.keys(onA.presenceState()).includes('carol'), 5_000, 'carol on A')
    await extra.close()
    await waitFor(() => !Object.keys(onA.presenceState()).includes('carol'), 5_000, 'carol gone from A')
    await client.realtime.disconnect()
  })
})

describe('Postgres Changes across nodes', () => {
  test('one node reads the slot; subscribers on every node get each change once, in order', async () => {
    await cluster.sql`create table if not exists cluster_items (id int primary key, label text)`
    await cluster.sql`alter publication supabase_realtime add table cluster_items`.catch(() => {})
    const listeners = await Promise.all([0, 1, 2].map((i) => listen(cluster.client(i), [{ event: 'INSERT', table: 'cluster_items' }])))
    for (let id = 1; id <= 100; id++) await cluster.sql`insert into cluster_items (id, label) values (${id}, ${`row ${id}`})`
    // The first reader of a fresh Redis is elected one lease later (leader-lease.ts): allow for it.
    await waitFor(() => listeners.every((l) => l.changes.length >= 100), 20_000, '100 changes on every node')
    await new Promise((resolve) => setTimeout(resolve, 200))
    for (const listener of listeners) expect(listener.changes.map((c) => c.new.id)).toEqual([...Array(100).keys()].map((i) => i + 1))
    const readers = cluster.nodes.filter((node) => node.tenant.postgresChanges?.readsSlot)
    expect(readers).toHaveLength(1)
  })

  test('a transaction bigger than one run (3,000 rows of 1 KB) arrives whole and in order on every node', async () => {
    await cluster.sql`create table if not exists cluster_wide (id int primary key, body text)`
    await cluster.sql`alter publication supabase_realtime add table cluster_wide`.catch(() => {})
    const listeners = await Promise.all([0, 1, 2].map((i) => listen(cluster.client(i), [{ event: 'INSERT', table: 'cluster_wide' }])))
    await cluster.sql`insert into cluster_wide select i, repeat('x', 1000) from generate_series(1, 3000) as i`
    await waitFor(() => listeners.every((l) => l.changes.length >= 3_000), 30_000, '3,000 rows on every node')
    for (const listener of listeners) expect(listener.changes.map((c) => c.new.id)).toEqual([...Array(3_000).keys()].map((i) => i + 1))
  })
})

describe('the inspector across nodes', () => {
  test('any node\'s overview lists every node with its own connections and rates, and the one that reads the slot as CDC leader', async () => {
    // Two sockets on node B, one on C, none of this test's on A; B's sender keeps broadcasting.
    const onB = [cluster.client(1).channel('inspect-b1'), cluster.client(1).channel('inspect-b2')]
    const onC = cluster.client(2).channel('inspect-c')
    for (const channel of [...onB, onC]) expect((await subscribe(channel)).status).toBe('SUBSCRIBED')
    const sending = setInterval(() => void onB[0]!.send({ type: 'broadcast', event: 'tick', payload: {} }), 20)
    type Overview = { node: string; cdc: { leader: string | null } | null; nodes: { id: string; connections: number; channels: number; messagesIn: number; cdcLeader: boolean }[] }
    const overviewOn = async (index: number): Promise<Overview> => {
      const node = cluster.nodes[index]!
      const response = await fetch(`${node.url}/api/inspect/tenants/default/overview`, { headers: { authorization: `Bearer ${node.serviceRoleKey}` } })
      expect(response.status).toBe(200)
      return (await response.json()) as Overview
    }
    const memberOf = (overview: Overview, prefix: string) => overview.nodes.find((n) => n.id.startsWith(`${prefix}.`))
    // Figures travel with the nodes' heartbeats (1 s): poll until A has seen B's and C's latest.
    let seen: Overview | null = null
    const deadline = Date.now() + 10_000
    try {
      while (Date.now() < deadline) {
        seen = await overviewOn(0)
        const b = memberOf(seen, 'node-b')
        if (seen.nodes.length === 3 && (b?.connections ?? 0) >= 2 && (b?.messagesIn ?? 0) > 0 && (memberOf(seen, 'node-c')?.connections ?? 0) >= 1 && seen.cdc?.leader) break
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    } finally {
      clearInterval(sending) // also when a request fails: no sender left running into the next tests
    }
    expect(seen!.node.startsWith('node-a.')).toBe(true)
    expect(seen!.nodes.map((n) => n.id.split('.')[0])).toEqual(['node-a', 'node-b', 'node-c'])
    expect(memberOf(seen!, 'node-b')!.connections).toBeGreaterThanOrEqual(2)
    expect(memberOf(seen!, 'node-b')!.channels).toBeGreaterThanOrEqual(2)
    expect(memberOf(seen!, 'node-b')!.messagesIn).toBeGreaterThan(0) // B's sender, counted on B
    expect(memberOf(seen!, 'node-c')!.connections).toBeGreaterThanOrEqual(1)
    const leaders = seen!.nodes.filter((n) => n.cdcLeader)
    expect(leaders).toHaveLength(1)
    expect(seen!.cdc!.leader).toBe(leaders[0]!.id)
    const reader = cluster.nodes.findIndex((node) => node.tenant.postgresChanges?.readsSlot)
    expect(leaders[0]!.id.startsWith(`node-${String.fromCharCode(97 + reader)}.`)).toBe(true)
    // Node C, asked the same, names the same leader.
    expect((await overviewOn(2)).cdc!.leader).toBe(seen!.cdc!.leader)
  })
})
