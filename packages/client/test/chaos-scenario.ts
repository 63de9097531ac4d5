/**
 * The chaos of issue 10 ("delivery you can prove"), shared by `chaos.test.ts` (asserts) and
 * `bench/resume` (numbers): many SDK clients, each behind its own TCP proxy; every connection
 * is dropped AT ONCE every 3–5 s and stays offline 0–2 s, while a writer inserts RLS-checked
 * rows (one per transaction) and a sender broadcasts, paced over `durationMs`. Optionally the
 * server process is killed with SIGKILL mid-run and started again on the same port.
 *
 * The server is the real command in a child process (`packages/server/bin/switchboard.js`,
 * the bundle built by `npm test`), so a kill is a real SIGKILL: no drain, no close frames, no final acknowledgement.
 * With a kill, broadcasts are persisted (REST `?persist=true`): ephemeral broadcasts cannot
 * survive a process, and the resume would rightly say so.
 *
 * In a cluster (`cluster`), three node processes share a Redis: each client's proxy goes
 * through a round-robin proxy in front of the nodes (a client that reconnects lands on
 * another node), broadcasts are sent through it too, and the kill is of the node that reads
 * the replication slot (it is not restarted). Ephemeral broadcasts survive a node's death
 * there (they are in Redis), so none are persisted.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import postgres from 'postgres'
import WebSocket from 'ws'
import { ChannelManager, type BroadcastMessage, type GapEvent } from '@switchboard/client'
import { signToken } from '../../server/src/auth/dev-keys.js'
import { startTcpProxy, type TcpProxy } from '../../../test-support/tcp-proxy.js'
import { NodeProcess } from '../../server/test/support/node-process.js'
import { startRoundRobinProxy, type RoundRobinProxy } from '../../server/test/support/tcp-proxy.js'
import { freePort } from '../../../test-support/free-port.js'
import { sleep, waitFor } from './helpers.js'

const CLI = fileURLToPath(new URL('../../server/bin/switchboard.js', import.meta.url))
const SECRET = 'switchboard-chaos-secret-at-least-32-characters'

export interface ChaosOptions {
  databaseUrl: string
  clients: number
  rows: number
  broadcasts: number
  durationMs: number
  /** ms after the start at which the server is SIGKILLed and started again. */
  killAt?: number | undefined
  /** Random source (seeded by the caller for reproducible schedules). */
  random: () => number
  entity: string
  /** Run against three nodes on this Redis instead of one server; `killAt` kills the slot reader. */
  cluster?: { redisUrl: string } | undefined
}

/** What the clients and the sender talk to: one server, or a cluster behind a round-robin proxy. */
interface ChaosTarget {
  port: number
  url: string
  /** The `killAt` event: a restarted server, or a dead cluster node (its clients move on). */
  crash(): Promise<void>
  close(): Promise<void>
}

export interface ClientResult {
  rows: number[]
  broadcasts: number[]
  /** Commit-to-client ms per row (from the writer's clock before its INSERT). */
  rowLatencyMs: number[]
  gaps: GapEvent[]
  recoveries: GapEvent[]
  /**
   * ms from the network coming back to the channel caught up (Resumed). "Back" is the later of
   * the client's proxy resuming and, for a recovery after the kill, the server being reachable
   * again (a restarted process, or the balancer routing around the dead node; while that is
   * under way, the kill itself): a restart's own duration is not catch-up time.
   */
  catchUpMs: number[]
  /**
   * The same recoveries split at the client's last socket open before them: from "back" to the
   * open (the reconnect wait, mostly the backoff window) and from the open to Resumed (the
   * server's rejoin and replay). Only recoveries whose socket opened after "back".
   */
  reconnectWaitMs: number[]
  rejoinMs: number[]
  drops: number
}

export interface ChaosResult {
  clients: ClientResult[]
  /** Broadcasts the server accepted (HTTP 202), with the wall time they were sent. */
  sentBroadcasts: Array<{ n: number; at: number }>
  /**
   * Broadcasts whose request got no answer (the node died, or the request timed out): the
   * server may or may not have taken them, so a client may get them; nobody is owed them.
   */
  unansweredBroadcasts: number[]
  insertedAt: number[]
  kill: { at: number; upAt: number } | undefined
}

/** A `ws` WebSocket that writes the time of each open into `opened.at` (the catch-up split). */
function openTimeRecorder(opened: { at: number }): typeof WebSocket {
  return class OpenTimeWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args)
      this.once('open', () => (opened.at = Date.now()))
    }
  } as unknown as typeof WebSocket
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

/** The server as a child process that can be SIGKILLed and started again on its port. */
export class ServerProcess {
  #child: ChildProcess | undefined
  private constructor(readonly port: number, private readonly databaseUrl: string) {}

  static async start(databaseUrl: string): Promise<ServerProcess> {
    const server = new ServerProcess(await freePort(), databaseUrl)
    await server.#spawn()
    return server
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  async kill(): Promise<void> {
    const child = this.#child
    if (!child || child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }

  async restart(): Promise<void> {
    await this.kill()
    await this.#spawn()
  }

  #spawn(): Promise<void> {
    return new Promise((resolve, reject) => {
      const proc = spawn(process.execPath, [CLI, 'start', '--port', String(this.port), '--database-url', this.databaseUrl, '--jwt-secret', SECRET, '--log-level', 'warn'])
      let out = ''
      const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 30_000)
      const collect = (chunk: Buffer) => {
        out = (out + chunk.toString()).slice(-4_000)
        if (out.includes('listening on')) {
          clearTimeout(timer)
          resolve()
        }
      }
      proc.stdout!.on('data', collect)
      proc.stderr!.on('data', collect)
      proc.once('exit', (code) => {
        clearTimeout(timer)
        if (!out.includes('listening on')) reject(new Error(`server exited with ${code}: ${out}`))
      })
      this.#child = proc
    })
  }
}

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const server = o.cluster ? await clusterTarget(o.databaseUrl, o.cluster.redisUrl) : await serverTarget(o.databaseUrl) // applies the migrations (roles, auth.jwt())
  const sql = postgres(o.databaseUrl, { max: 1, onnotice: () => {} })
  const proxies: TcpProxy[] = []
  const managers: ChannelManager[] = []
  try {
    return await chaosRun(o, server, sql, proxies, managers)
  } finally {
    // Also when the run fails: a live server would hold the database's replication slot.
    await Promise.all(managers.map((m) => m.destroy().catch(() => undefined)))
    await Promise.all(proxies.map((p) => p.close().catch(() => undefined)))
    await server.close()
    await sql.end()
  }
}

async function serverTarget(databaseUrl: string): Promise<ChaosTarget> {
  const server = await ServerProcess.start(databaseUrl)
  return { port: server.port, url: server.url, crash: () => server.restart(), close: () => server.kill() }
}

async function clusterTarget(databaseUrl: string, redisUrl: string): Promise<ChaosTarget> {
  const nodes: NodeProcess[] = []
  nodes.push(await NodeProcess.start({ databaseUrl, redisUrl, jwtSecret: SECRET, nodeId: 'chaos-a' }))
  nodes.push(...(await Promise.all(['chaos-b', 'chaos-c'].map((nodeId) => NodeProcess.start({ databaseUrl, redisUrl, jwtSecret: SECRET, nodeId })))))
  const balancer: RoundRobinProxy = await startRoundRobinProxy({ backends: nodes.map((n) => n.port) })
  const readerOf = async (): Promise<NodeProcess | undefined> => {
    for (const node of nodes) {
      const health = (await (await fetch(`${node.url}/health`)).json()) as { cluster?: { readsSlotFor?: string[] } }
      if (health.cluster?.readsSlotFor?.includes('default')) return node
    }
    return undefined
  }
  return {
    port: balancer.port,
    url: balancer.url,
    async crash() {
      const victim = (await readerOf()) ?? nodes[1]!
      await victim.kill()
      balancer.setBackends(nodes.filter((n) => n !== victim).map((n) => n.port))
    },
    async close() {
      await balancer.close()
      await Promise.all(nodes.map((n) => n.kill()))
    },
  }
}

async function chaosRun(o: ChaosOptions, server: ChaosTarget, sql: postgres.Sql, proxies: TcpProxy[], managers: ChannelManager[]): Promise<ChaosResult> {
  const table = `chaos_${o.entity}`
  await sql.unsafe(`
    create table ${table} (id bigint primary key, team text not null, sent_at double precision not null);
    alter table ${table} enable row level security;
    grant select on ${table} to authenticated;
    create policy team_reads on ${table} for select to authenticated using (team = auth.jwt() ->> 'team');
    alter publication supabase_realtime add table ${table};
  `).simple()
  const apiKey = await signToken(SECRET, { role: 'anon' })
  const serviceKey = await signToken(SECRET, { role: 'service_role' })
  const results: ClientResult[] = []
  const resumedAt: number[] = []
  let kill: ChaosResult['kill']
  /** When the network came back for client `i`, as seen by a recovery at `restoredAt`. */
  const backAt = (i: number, restoredAt: number): number | undefined => {
    const killBack = kill && restoredAt >= kill.at ? (kill.upAt > 0 && kill.upAt <= restoredAt ? kill.upAt : kill.at) : undefined
    if (resumedAt[i] === undefined) return killBack
    return killBack === undefined ? resumedAt[i] : Math.max(resumedAt[i]!, killBack)
  }
  const socketRetry = { maxAttempts: 100_000 }
  for (let i = 0; i < o.clients; i++) {
    const proxy = await startTcpProxy({ targetPort: server.port })
    const token = await signToken(SECRET, { role: 'authenticated', sub: `chaos-user-${i}`, team: 'chaos' }, 3_600)
    const opened = { at: 0 }
    const m = new ChannelManager({
      url: proxy.url, apiKey, accessToken: async () => token, transport: openTimeRecorder(opened),
      connectionRetry: socketRetry, connectTimeoutMs: 2_000, broadcastRateLimit: { perSecond: 100_000 },
    })
    const r: ClientResult = { rows: [], broadcasts: [], rowLatencyMs: [], gaps: [], recoveries: [], catchUpMs: [], reconnectWaitMs: [], rejoinMs: [], drops: 0 }
    const lease = await m.subscribeToEntity({
      entityType: 'chaos',
      entityId: o.entity,
      table,
      filter: null,
      event: 'INSERT',
      maxReconnectAttempts: 100_000,
      reconnectDelay: 100,
      onInsert: (p) => {
        const row = p.new as { id: number; sent_at: number }
        r.rows.push(Number(row.id))
        r.rowLatencyMs.push(Date.now() - row.sent_at)
      },
      onGap: (g) => r.gaps.push(g),
      onRecover: (g) => {
        r.recoveries.push(g)
        const back = backAt(i, g.restoredAt)
        if (back === undefined) return
        r.catchUpMs.push(g.restoredAt - back)
        if (opened.at >= back && opened.at <= g.restoredAt) {
          r.reconnectWaitMs.push(opened.at - back)
          r.rejoinMs.push(g.restoredAt - opened.at)
        }
      },
    })
    lease.on('broadcast', { event: 'tick' }, (msg: BroadcastMessage<{ n: number }>) => r.broadcasts.push(msg.payload.n))
    proxies.push(proxy)
    managers.push(m)
    results.push(r)
  }

  // Every connection dropped at once, on one schedule: the worst case for a server (a load
  // balancer restart, a flaky uplink shared by all users).
  let running = true
  const chaos = (async () => {
    while (running) {
      await sleep(3_000 + o.random() * 2_000)
      if (!running) break
      for (const p of proxies) {
        p.refuse()
        p.dropAll()
      }
      for (const r of results) r.drops++
      await sleep(o.random() * 2_000)
      const now = Date.now()
      proxies.forEach((p, i) => {
        resumedAt[i] = now
        p.resume()
      })
    }
  })()

  const channelTopic = encodeURIComponent(`subscription:chaos:${o.entity}`)
  const sendBroadcast = async (n: number): Promise<'sent' | 'refused' | 'unanswered'> => {
    const persist = o.killAt !== undefined && !o.cluster ? '?persist=true' : ''
    try {
      const response = await fetch(`${server.url}/realtime/v1/api/broadcast/${channelTopic}/events/tick${persist}`, {
        method: 'POST',
        headers: { apikey: serviceKey, authorization: `Bearer ${serviceKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ n }),
        signal: AbortSignal.timeout(2_000),
      })
      return response.status === 202 ? 'sent' : 'refused'
    } catch {
      return 'unanswered' // the server died or is slow: it may have taken the message or not
    }
  }

  const tickMs = 20
  const ticks = Math.max(1, Math.round(o.durationMs / tickMs))
  const sentBroadcasts: ChaosResult['sentBroadcasts'] = []
  const unansweredBroadcasts: number[] = []
  const insertedAt: number[] = []
  let killing: Promise<void> | undefined
  const t0 = Date.now()
  let nextRow = 0
  let nextBroadcast = 0
  for (let tick = 0; nextRow < o.rows || nextBroadcast < o.broadcasts; tick++) {
    const due = t0 + tick * tickMs
    if (due > Date.now()) await sleep(due - Date.now())
    if (o.killAt !== undefined && !kill && Date.now() - t0 >= o.killAt) {
      kill = { at: Date.now(), upAt: 0 }
      const k = kill
      killing = server.crash().then(() => { k.upAt = Date.now() })
    }
    const rowsDue = Math.min(o.rows, Math.ceil(((tick + 1) * o.rows) / ticks))
    for (; nextRow < rowsDue; nextRow++) {
      const at = Date.now()
      insertedAt[nextRow] = at
      await sql.unsafe(`insert into ${table} values (${nextRow}, 'chaos', ${at})`) // one row per transaction
    }
    const broadcastsDue = Math.min(o.broadcasts, Math.ceil(((tick + 1) * o.broadcasts) / ticks))
    // One at a time: the order the server accepts them is the order every client must see.
    for (; nextBroadcast < broadcastsDue; nextBroadcast++) {
      const at = Date.now()
      const outcome = await sendBroadcast(nextBroadcast)
      if (outcome === 'sent') sentBroadcasts.push({ n: nextBroadcast, at })
      else if (outcome === 'unanswered') unansweredBroadcasts.push(nextBroadcast)
    }
  }
  await killing
  running = false
  await chaos
  for (const p of proxies) p.resume()
  await waitFor(() => managers.every((m) => m.getActiveChannels().every((c) => c.status === 'connected')), 60_000, 'clients back').catch(() => undefined)
  await waitFor(() => results.every((r) => r.rows.length >= o.rows && r.broadcasts.length >= sentBroadcasts.length), 60_000, 'deliveries').catch(() => undefined)
  await sleep(500) // a late duplicate would arrive by now
  return { clients: results, sentBroadcasts, unansweredBroadcasts, insertedAt, kill }
}
