/**
 * Resuming in a cluster, at the protocol level (raw sockets): a channel that broke on one node
 * resumes on another, which reads what it missed from the shared log in Redis (the node had
 * never hosted the topic), in order and none twice; Postgres changes likewise; a log trimmed
 * past the resume point and a Redis that lost the log are explicit gaps, then service goes on.
 */
import { createClient } from 'redis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { RunningSwitchboard } from '@switchboard/server'
import { startCluster, type ClusterHarness } from './support/cluster.js'
import { waitFor } from './support/harness.js'
import { joinPayload, RawSocket, userBroadcastPush, type Frame } from './support/raw-socket.js'

let cluster: ClusterHarness
beforeAll(async () => {
  cluster = await startCluster(3, { replay: { maxMessages: 200 } })
  await cluster.sql`create table cluster_resume_items (id bigint primary key, label text)`
  await cluster.sql`alter publication supabase_realtime add table cluster_resume_items`
})
afterAll(async () => {
  await cluster?.close()
})

const isSystem = (code: string) => (f: Frame) => f.event === 'system' && (f.payload as { code?: string }).code === code
const positionOf = (f: Frame): number => {
  const p = f.payload as { meta?: { switchboard?: { position: number } }; switchboard?: { position: number } }
  return (p.meta?.switchboard ?? p.switchboard)!.position
}
const tickOf = (f: Frame) => (f.payload as { payload: { n: number } }).payload.n

async function joinWithPositions(node: RunningSwitchboard, topic: string, resume: { epoch: string; position: number } | null, config: Record<string, unknown> = {}) {
  const socket = await RawSocket.connect(node.url, node.serviceRoleKey)
  const payload = { ...joinPayload(config), switchboard: { session: `session-${topic}`, resume } }
  const { joinRef, reply } = await socket.join(`realtime:${topic}`, payload)
  expect((reply.payload as { status: string }).status).toBe('ok')
  return { socket, joinRef }
}

async function sendBroadcasts(node: RunningSwitchboard, topic: string, count: number, from = 0): Promise<void> {
  const sender = await RawSocket.connect(node.url, node.serviceRoleKey)
  const { joinRef } = await sender.join(`realtime:${topic}`)
  for (let i = from; i < from + count; i++) sender.sendBinary(userBroadcastPush(joinRef, sender.makeRef(), `realtime:${topic}`, 'tick', { n: i }))
  await sender.heartbeat()
  sender.close()
}

describe('resume on another node', () => {
  test('broadcasts missed on node A are replayed on node C, which never hosted the topic, then live ones follow', async () => {
    const [a, b, c] = cluster.nodes as [RunningSwitchboard, RunningSwitchboard, RunningSwitchboard]
    const topic = 'moving'
    const first = await joinWithPositions(a, topic, null)
    const fresh = (await first.socket.next(isSystem('Fresh'))).payload as { epoch: string; position: number }
    await sendBroadcasts(b, topic, 3)
    const seen = [0, 1, 2].map(() => first.socket.next((f) => f.event === 'broadcast'))
    const last = positionOf(await seen[2]!)
    first.socket.close() // the break: A's process keeps the topic a while, C never had it

    await sendBroadcasts(b, topic, 20, 3)
    await new Promise((resolve) => setTimeout(resolve, 100))
    const again = await joinWithPositions(c, topic, { epoch: fresh.epoch, position: last })
    const resumed = await again.socket.next(isSystem('Resumed'))
    const replayed = again.socket.all((f) => f.event === 'broadcast')
    expect(replayed.map(tickOf)).toEqual([...Array(20).keys()].map((i) => i + 3))
    expect((resumed.payload as { replayed: number }).replayed).toBe(20)
    const positions = replayed.map(positionOf)
    expect(positions).toEqual([...positions].sort((x, y) => x - y))

    await sendBroadcasts(a, topic, 1, 23)
    const live = await again.socket.next((f) => f.event === 'broadcast' && tickOf(f) === 23)
    expect(positionOf(live)).toBeGreaterThan((resumed.payload as { position: number }).position)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(again.socket.all((f) => f.event === 'broadcast').map(tickOf)).toEqual([...Array(21).keys()].map((i) => i + 3)) // none twice
    again.socket.close()
  })

  test('Postgres changes missed on one node are replayed on another through the channel bindings', async () => {
    const [a, , c] = cluster.nodes as [RunningSwitchboard, RunningSwitchboard, RunningSwitchboard]
    const bindings = { postgres_changes: [{ event: 'INSERT', schema: 'public', table: 'cluster_resume_items', filter: 'label=eq.keep' }] }
    const first = await joinWithPositions(a, 'moving-pg', null, bindings)
    const fresh = (await first.socket.next(isSystem('Fresh'), 10_000)).payload as { epoch: string; position: number }
    first.socket.close()
    await cluster.sql`insert into cluster_resume_items values (1, 'keep'), (2, 'drop')`
    await cluster.sql`insert into cluster_resume_items values (3, 'keep')`
    // The changes are in the shared log once a probe on any node sees the last one.
    const probe = await joinWithPositions(c, 'probe', null, { postgres_changes: [{ event: 'INSERT', schema: 'public', table: 'cluster_resume_items' }] })
    await probe.socket.next(isSystem('Fresh'), 10_000)
    await cluster.sql`insert into cluster_resume_items values (4, 'marker')`
    await probe.socket.next((f) => f.event === 'postgres_changes', 20_000)
    probe.socket.close()

    const again = await joinWithPositions(c, 'moving-pg', { epoch: fresh.epoch, position: fresh.position }, bindings)
    await again.socket.next(isSystem('Resumed'), 10_000)
    const ids = again.socket.all((f) => f.event === 'postgres_changes').map((f) => (f.payload as { data: { record: { id: number } } }).data.record.id)
    expect(ids).toEqual([1, 3])
    again.socket.close()
  })

  test('a resume from before what the shared log keeps is an explicit gap (evicted)', async () => {
    const [a, b, c] = cluster.nodes as [RunningSwitchboard, RunningSwitchboard, RunningSwitchboard]
    const first = await joinWithPositions(a, 'trimmed', null)
    const fresh = (await first.socket.next(isSystem('Fresh'))).payload as { epoch: string; position: number }
    first.socket.close()
    await sendBroadcasts(b, 'trimmed', 600) // the stream keeps about 200 (MAXLEN ~)
    await new Promise((resolve) => setTimeout(resolve, 200))
    const again = await joinWithPositions(c, 'trimmed', { epoch: fresh.epoch, position: fresh.position })
    const gap = await again.socket.next(isSystem('Gap'))
    expect(gap.payload).toMatchObject({ status: 'error', reason: 'evicted' })
    again.socket.close()
  })
})

describe('Redis loses the log', () => {
  test('channels are told to rejoin, a resume from the lost epoch is an explicit gap, then service goes on', async () => {
    const [a, b] = cluster.nodes as [RunningSwitchboard, RunningSwitchboard]
    const first = await joinWithPositions(a, 'through-restart', null)
    const fresh = (await first.socket.next(isSystem('Fresh'))).payload as { epoch: string; position: number }
    await cluster.redis.restart() // empty: no persistence
    // The node finds the epoch gone when it reconnects and restarts its channels.
    await first.socket.next((f) => f.event === 'phx_close' || (f.event === 'system' && (f.payload as { status?: string }).status === 'error'), 15_000)
    first.socket.close()
    let again: Awaited<ReturnType<typeof joinWithPositions>> | null = null
    await waitFor(() => a.tenant.hub.log.epoch !== fresh.epoch, 15_000, 'a new epoch on node A')
    again = await joinWithPositions(a, 'through-restart', { epoch: fresh.epoch, position: fresh.position })
    const gap = await again.socket.next(isSystem('Gap'), 10_000)
    expect(gap.payload).toMatchObject({ status: 'error', reason: 'epoch' })
    await waitFor(() => b.tenant.hub.log.epoch === a.tenant.hub.log.epoch, 15_000, 'node B on the new epoch')
    await sendBroadcasts(b, 'through-restart', 3)
    const ticks = [0, 1, 2].map(() => again!.socket.next((f) => f.event === 'broadcast', 10_000))
    expect((await Promise.all(ticks)).map(tickOf)).toEqual([0, 1, 2])
    again.socket.close()
  })
})

describe('Redis away', () => {
  const restBroadcast = (node: RunningSwitchboard) => fetch(`${node.url}/realtime/v1/api/broadcast`, {
    method: 'POST',
    headers: { apikey: node.serviceRoleKey, authorization: `Bearer ${node.serviceRoleKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ topic: 'while-away', event: 'tick', payload: {} }] }),
    signal: AbortSignal.timeout(10_000),
  })

  test('a REST broadcast is refused (503) within the offline bound, never left hanging; accepted again once Redis is back', async () => {
    const [a] = cluster.nodes as [RunningSwitchboard]
    expect((await restBroadcast(a)).status).toBe(202)
    await cluster.redis.kill()
    // Sent while the node may not have noticed yet (the hot path has no per-command timer) and
    // after: both are bounded by the offline queue's 2 s.
    for (const pause of [0, 300]) {
      await new Promise((resolve) => setTimeout(resolve, pause))
      const started = Date.now()
      expect((await restBroadcast(a)).status).toBe(503)
      expect(Date.now() - started).toBeLessThan(4_000)
    }
    await cluster.redis.restart()
    const deadline = Date.now() + 15_000
    let status = 0
    while ((status = (await restBroadcast(a)).status) !== 202 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    expect(status).toBe(202)
  })
})

describe('a node that loses its Redis connection', () => {
  // Which of node A's connections the Redis server closes mid-stream. The subscriber alone is the
  // sharpest case: it re-subscribes by itself while the node still counts as down, and anything
  // it hands over before the read-back would move the node's position past the hole.
  const cuts = ['every connection', 'only the subscriber', 'only the command connection'] as const
  test.each(cuts)('%s, three times: reads back what was published meanwhile; its channels miss nothing, in order, none twice', async (cut) => {
    const [a, b] = cluster.nodes as [RunningSwitchboard, RunningSwitchboard]
    const topic = `blip-${cut.replaceAll(' ', '-')}`
    const listener = await RawSocket.connect(a.url, a.serviceRoleKey)
    await listener.join(`realtime:${topic}`)
    await sendBroadcasts(b, topic, 1, 0) // node A hosts the topic and has received from it
    await listener.next((f) => f.event === 'broadcast')
    const admin = createClient({ url: cluster.redis.url })
    admin.on('error', () => {}) // the test's own connection; torn down with Redis after the file
    await admin.connect()
    const sender = await RawSocket.connect(b.url, b.serviceRoleKey)
    try {
      const { joinRef } = await sender.join(`realtime:${topic}`)
      for (let i = 1; i <= 300; i++) {
        sender.sendBinary(userBroadcastPush(joinRef, sender.makeRef(), `realtime:${topic}`, 'tick', { n: i }))
        if (i % 100 === 50) {
          const clients = await admin.sendCommand<string>(['CLIENT', 'LIST'])
          for (const line of clients.split('\n')) {
            const name = /name=(\S*)/.exec(line)?.[1] ?? ''
            const wanted = cut === 'every connection' ? name.startsWith(`switchboard:${a.nodeId}`)
              : cut === 'only the subscriber' ? name === `switchboard:${a.nodeId}:sub` : name === `switchboard:${a.nodeId}`
            if (wanted) await admin.sendCommand(['CLIENT', 'KILL', 'ID', /id=(\d+)/.exec(line)![1]!])
          }
        }
        if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 10))
      }
      await waitFor(() => listener.all((f) => f.event === 'broadcast').length >= 301, 15_000, 'every message on node A').catch((error: unknown) => {
        // Say why: a channel the node restarted ("rejoin to resume") is not a slow machine.
        const others = listener.all((f) => f.event !== 'broadcast').map((f) => `${f.event} ${JSON.stringify(f.payload)}`)
        throw new Error(`${(error as Error).message}: ${listener.all((f) => f.event === 'broadcast').length} of 301 arrived; other frames: ${others.join('; ')}`)
      })
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(listener.all((f) => f.event === 'broadcast').map(tickOf)).toEqual([...Array(301).keys()])
    } finally {
      await admin.close()
      sender.close()
      listener.close()
    }
  })
})
