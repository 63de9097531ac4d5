/**
 * The chaos scenario of issue 6, shared by `chaos.test.ts` (asserts) and `bench/resume` (numbers):
 * several SDK clients, each behind its own TCP proxy that drops its connections at random (every
 * 1–4 s, offline 0–2 s), while a writer inserts rows and a sender broadcasts, paced over
 * `durationMs`. Optionally the server is closed and restarted once mid-run (same port, database).
 */
import postgres from 'postgres'
import type { BroadcastMessage, ChannelManager, GapEvent } from '@switchboard/client'
import { startTcpProxy, type TcpProxy } from '../../../test-support/tcp-proxy.js'
import { sleep, waitFor, type Harness } from './helpers.js'

export interface ChaosOptions {
  clients: number
  /** Total messages: half inserts, half broadcasts. */
  messages: number
  durationMs: number
  restartAt?: number | undefined
  /** Random source (seeded by the caller for reproducible schedules). */
  random: () => number
  entity: string
}

export interface ClientResult {
  inserts: number[]
  broadcasts: number[]
  gaps: GapEvent[]
  recoveries: GapEvent[]
  /** ms from the socket reopening to `Resumed` (replay complete), one per recovery. */
  replayMs: number[]
  drops: number
}

export interface ChaosResult {
  clients: ClientResult[]
  /** Broadcasts whose send resolved, with the wall time it started. */
  sentBroadcasts: Array<{ n: number; at: number }>
  insertedAt: Array<{ id: number; at: number }>
  restart: { downAt: number; upAt: number } | undefined
}

export function seeded(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export async function runChaos(h: Harness, o: ChaosOptions): Promise<ChaosResult> {
  const table = `chaos_${o.entity}`
  const sql = postgres(h.db.url, { max: 1, onnotice: () => {} })
  await sql.unsafe(`create table ${table} (id bigint primary key)`)
  await sql.unsafe(`alter publication supabase_realtime add table ${table}`)
  const policy = { baseDelayMs: 100, maxDelayMs: 500, maxAttempts: 100_000 }
  const proxies: TcpProxy[] = []
  const managers: ChannelManager[] = []
  const results: ClientResult[] = []
  for (let i = 0; i < o.clients; i++) {
    const proxy = await startTcpProxy({ targetPort: h.server.port })
    // The socket keeps its default schedule (first retry within 50 ms) and never gives up.
    const m = h.manager({ url: proxy.url, accessToken: async () => h.server.serviceRoleKey, reconnect: policy, connectionRetry: { maxAttempts: 100_000 }, broadcastRateLimit: { perSecond: 100_000 } })
    const r: ClientResult = { inserts: [], broadcasts: [], gaps: [], recoveries: [], replayMs: [], drops: 0 }
    let socketUpAt = 0
    m.connectionStore.subscribe(() => {
      const s = m.connectionStore.getSnapshot()
      if (s.status === 'connected') socketUpAt = s.since
    })
    const sub = await m.subscribeToEntity({
      entityType: 'chaos',
      entityId: o.entity,
      table,
      filter: null,
      event: 'INSERT',
      maxReconnectAttempts: 100_000,
      reconnectDelay: 100,
      onInsert: (p) => r.inserts.push(Number((p.new as { id: number }).id)),
      onGap: (g) => r.gaps.push(g),
      onRecover: (g) => {
        r.recoveries.push(g)
        r.replayMs.push(g.restoredAt - socketUpAt)
      },
    })
    sub.on('broadcast', { event: 'tick' }, (msg: BroadcastMessage<{ n: number }>) => r.broadcasts.push(msg.payload.n))
    proxies.push(proxy)
    managers.push(m)
    results.push(r)
  }
  await sleep(500) // Postgres Changes subscribed on every channel

  const sender = h.manager({ url: `http://127.0.0.1:${h.server.port}`, reconnect: policy, broadcastRateLimit: { perSecond: 100_000 }, sendTimeoutMs: 5000 })
  await sender.broadcast({ entityType: 'chaos', entityId: `${o.entity}-warmup`, event: 'x', payload: {} })

  let running = true
  const chaos = proxies.map(async (proxy, i) => {
    while (running) {
      await sleep(1000 + o.random() * 3000)
      if (!running) break
      proxy.refuse()
      proxy.dropAll()
      results[i]!.drops++
      await sleep(o.random() * 2000)
      proxy.resume()
    }
  })

  const perKind = Math.floor(o.messages / 2)
  const ticks = Math.max(1, Math.round(o.durationMs / 50))
  const perTick = Math.ceil(perKind / ticks)
  const sentBroadcasts: ChaosResult['sentBroadcasts'] = []
  const insertedAt: ChaosResult['insertedAt'] = []
  let restart: ChaosResult['restart']
  let restarting: Promise<void> | undefined
  const t0 = Date.now()
  let nextInsert = 0
  let nextBroadcast = 0
  for (let tick = 0; nextInsert < perKind || nextBroadcast < perKind; tick++) {
    const due = t0 + tick * 50
    if (due > Date.now()) await sleep(due - Date.now())
    if (o.restartAt !== undefined && !restart && Date.now() - t0 >= o.restartAt) {
      restart = { downAt: Date.now(), upAt: 0 }
      const r = restart
      restarting = h.restart({ downMs: 500 }).then(() => {
        r.upAt = Date.now()
      })
    }
    const from = nextInsert
    const to = Math.min(perKind, from + perTick)
    if (to > from) {
      const at = Date.now()
      await sql.unsafe(`insert into ${table} select generate_series(${from}, ${to - 1})`)
      for (let id = from; id < to; id++) insertedAt.push({ id, at })
      nextInsert = to
    }
    const end = Math.min(perKind, nextBroadcast + perTick)
    for (; nextBroadcast < end; nextBroadcast++) {
      const at = Date.now()
      try {
        await sender.broadcast({ entityType: 'chaos', entityId: o.entity, event: 'tick', payload: { n: nextBroadcast } })
        sentBroadcasts.push({ n: nextBroadcast, at })
      } catch {
        // Not sent (the server is down): nobody is entitled to it.
      }
    }
  }
  await restarting
  running = false
  await Promise.all(chaos)
  for (const p of proxies) p.resume()
  // Every client back and quiet.
  await waitFor(() => managers.every((m) => m.getActiveChannels().every((c) => c.status === 'connected')), 20_000, 'clients back')
  const expectBroadcasts = sentBroadcasts.length
  await waitFor(
    () => results.every((r) => r.inserts.length >= perKind && r.broadcasts.length >= expectBroadcasts),
    o.restartAt === undefined ? 20_000 : 3000,
    'deliveries',
  ).catch(() => undefined)
  await sleep(500)
  await Promise.all(managers.map((m) => m.destroy()))
  await sender.destroy()
  await Promise.all(proxies.map((p) => p.close()))
  await sql.end()
  return { clients: results, sentBroadcasts, insertedAt, restart }
}
