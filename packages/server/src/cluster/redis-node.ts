/**
 * This node's session with the cluster's Redis, shared by every tenant it serves: one
 * connection for commands and scripts, one for sharded pub/sub, and the node's heartbeat.
 *
 *   connecting ──ready──▶ connected ──connection lost──▶ down ──ready again──▶ connected
 *
 * Liveness: every node refreshes `sb:node:<id>` (expiring after `nodeTtlMs`) every
 * `heartbeatMs` and lists itself in `sb:nodes`; on the same tick it checks the others, and a
 * node whose key expired is gone: its presences leave everywhere (`onNodeGone`). A SIGKILLed
 * node is therefore noticed within nodeTtlMs + heartbeatMs (4 s by default). The same beat
 * publishes this node's figures per tenant (node-report.ts), expiring alike.
 *
 * Sharded pub/sub (SSUBSCRIBE) routes a topic's messages only to the nodes that subscribed to
 * it; `barrier()` is a PING on the subscriber connection, whose reply comes after every message
 * published before it: the way a node knows it has received everything up to a position.
 */
import { setMaxListeners } from 'node:events'
import { createClient } from '@redis/client'
import type { Clock } from '../clock.js'
import type { Logger } from '../logger.js'
import { parseFigures, type NodeTenantFigures, type PeerFigures } from './node-report.js'

export type RedisNodeState = 'connecting' | 'connected' | 'down'

export interface RedisNodeOptions {
  url: string
  nodeId: string
  logger: Logger
  clock: Clock
  /** How often the node proves it is alive and checks the others. Default 1 s. */
  heartbeatMs?: number
  /** A node silent this long is gone. Default 3 s. */
  nodeTtlMs?: number
}

/** Connection defaults, in one place. */
export const REDIS_CONNECTION_DEFAULTS = {
  /** Longest a command waits, unsent, for Redis to come back before it fails. */
  offlineQueueMs: 2_000,
  /** Commands queued or awaiting replies on one connection; past it a command fails at once. */
  maxQueuedCommands: 100_000,
  /** Reconnect after `min(50 ms × attempt, this)`. */
  maxReconnectDelayMs: 1_000,
  connectTimeoutMs: 5_000,
} as const

/**
 * One node-redis connection. RESP2 (the default): on the subscriber connection a PING is
 * answered in line with the pushed messages, so its reply comes after every message Redis
 * sent before it (commands-queue.js handles the RESP2 `pong` array in subscribed mode).
 *
 * ──────────────────────────────────────────────────────────────────────────────────────────
 * Why these options (node-redis behaves differently from ioredis here):
 * - A command sent while the connection is down waits in the offline queue, at most
 *   `offlineQueueMs` (the `timeout` command option only runs while a command is unsent), then
 *   fails; a command already sent fails at once when the connection is lost. Nothing hangs.
 * - The first connection must succeed (start() fails otherwise, as before); once it has been
 *   ready, the connection is retried for ever and re-subscribes by itself before 'ready'.
 * - 'error' events only log: node-redis emits one per failed attempt, and an unhandled
 *   'error' would crash the process.
 * ──────────────────────────────────────────────────────────────────────────────────────────
 */
function connect(url: string, name: string) {
  let wasReady = false
  const client = createClient({
    url,
    name,
    commandsQueueMaxLength: REDIS_CONNECTION_DEFAULTS.maxQueuedCommands,
    commandOptions: { timeout: REDIS_CONNECTION_DEFAULTS.offlineQueueMs },
    socket: {
      connectTimeout: REDIS_CONNECTION_DEFAULTS.connectTimeoutMs,
      reconnectStrategy: (retries: number, cause: Error) =>
        wasReady ? Math.min(50 * (retries + 1), REDIS_CONNECTION_DEFAULTS.maxReconnectDelayMs) : cause,
    },
  })
  client.on('ready', () => (wasReady = true))
  return client
}

export type RedisConnection = ReturnType<typeof connect>

/**
 * The controller whose signal every hot-path command carries (`hotPathOptions`). node-redis
 * adds an abort listener per command in flight, so the default limit of 10 listeners printed
 * a MaxListenersExceededWarning under any load; the bound is the command queue's.
 */
function offlineController(): AbortController {
  const controller = new AbortController()
  setMaxListeners(REDIS_CONNECTION_DEFAULTS.maxQueuedCommands, controller.signal)
  return controller
}

const NODES_KEY = 'sb:nodes'
const MAX_GONE = 1_000
const nodeKey = (id: string) => `sb:node:${id}`
/** A node's figures for one tenant (node-report.ts), expiring with the node's liveness key. */
const tenantFiguresKey = (node: string, tenantId: string) => `sb:node:${node}:tenant:${tenantId}`
/** Keys per MGET when many tenants' figures are read at once (the inspector's overview of every tenant). */
const FIGURE_KEYS_PER_READ = 1_000

export class RedisNode {
  readonly id: string
  readonly command: RedisConnection
  readonly subscriber: RedisConnection
  readonly #logger: Logger
  readonly #clock: Clock
  readonly #heartbeatMs: number
  readonly #nodeTtlMs: number
  readonly #handlers = new Map<string, (message: Buffer) => void>()
  readonly #goneListeners = new Set<(node: string) => void>()
  readonly #readyListeners = new Set<() => void>()
  readonly #downListeners = new Set<() => void>()
  #live = new Set<string>()
  /** Nodes seen gone (the newest MAX_GONE): their presences left in Redis are ignored until reaped. */
  readonly #gone = new Set<string>()
  #state: RedisNodeState = 'connecting'
  /**
   * Aborted once the node has been down `offlineQueueMs`: fails the commands still waiting to
   * be sent (see `hotPathOptions`). A new one when the connections are back.
   */
  #offline = offlineController()
  #offlineTimer: ReturnType<Clock['setTimeout']> | null = null
  #timer: ReturnType<Clock['setTimeout']> | null = null
  #stopped = false
  #report: (() => ReadonlyMap<string, NodeTenantFigures>) | null = null
  /** Commands sent to Redis (the `/metrics` round-trip counter). */
  roundTrips = 0
  /** `peerFigures` calls waiting for this turn's MGET. */
  #figureReads: { tenantId: string; resolve: (figures: PeerFigures[]) => void; reject: (error: unknown) => void }[] = []

  constructor(options: RedisNodeOptions) {
    this.id = options.nodeId
    this.#logger = options.logger
    this.#clock = options.clock
    this.#heartbeatMs = options.heartbeatMs ?? 1_000
    this.#nodeTtlMs = options.nodeTtlMs ?? 3_000
    // The names let an operator (and a test) find a node's connections in CLIENT LIST.
    this.command = connect(options.url, `switchboard:${this.id}`)
    this.subscriber = connect(options.url, `switchboard:${this.id}:sub`)
    for (const connection of [this.command, this.subscriber]) {
      connection.on('error', (error: unknown) => {
        this.#logger.debug({ err: error }, 'redis: connection error')
        if (!connection.isReady) this.#setState('down')
      })
      connection.on('ready', () => {
        if (this.command.isReady && this.subscriber.isReady) this.#setState('connected')
      })
    }
  }

  get state(): RedisNodeState {
    return this.#state
  }

  /** Nodes alive at the last check (this one included). */
  get liveNodes(): ReadonlySet<string> {
    return this.#live
  }

  /** What this node publishes about each tenant with every heartbeat (the inspector's per-node overview). */
  reportWith(report: () => ReadonlyMap<string, NodeTenantFigures>): void {
    this.#report = report
  }

  /** The other live nodes' last published figures for `tenantId` (nodes that do not serve it are absent). */
  peerFigures(tenantId: string): Promise<PeerFigures[]> {
    return new Promise((resolve, reject) => {
      // Asked in the same turn (the inspector's overview of every tenant): one MGET for all.
      if (this.#figureReads.length === 0) queueMicrotask(() => void this.#readPeerFigures())
      this.#figureReads.push({ tenantId, resolve, reject })
    })
  }

  /** The `peerFigures` reads of this turn, in MGETs of at most FIGURE_KEYS_PER_READ keys. */
  async #readPeerFigures(): Promise<void> {
    const reads = this.#figureReads
    this.#figureReads = []
    const others = [...this.#live].filter((node) => node !== this.id).sort()
    if (others.length === 0) {
      for (const read of reads) read.resolve([])
      return
    }
    const perRead = Math.max(1, Math.floor(FIGURE_KEYS_PER_READ / others.length))
    for (let at = 0; at < reads.length; at += perRead) {
      const group = reads.slice(at, at + perRead)
      try {
        this.roundTrips += 1
        const texts = await this.command.mGet(group.flatMap((read) => others.map((node) => tenantFiguresKey(node, read.tenantId))))
        group.forEach((read, r) => read.resolve(others.flatMap((node, i) => parseFigures(node, texts[r * others.length + i] ?? null) ?? [])))
      } catch (error) {
        for (const read of group) read.reject(error)
      }
    }
  }

  /**
   * Whether `node` is known to be gone. A node that started after the last check is not known
   * yet, and is taken as alive: its presences must not wait for the next heartbeat.
   */
  isGone(node: string): boolean {
    return this.#gone.has(node)
  }

  async start(): Promise<void> {
    await Promise.all([this.command.connect(), this.subscriber.connect()])
    this.#setState('connected')
    await this.#beat()
  }

  /**
   * Receives the sharded channel's messages (as Buffers: bodies are binary); resolves once
   * Redis confirmed the subscription. Fails when Redis stays away `offlineQueueMs` (pub/sub
   * commands have no queue timeout of their own in node-redis).
   */
  async subscribe(channel: string, handler: (message: Buffer) => void): Promise<void> {
    this.#handlers.set(channel, handler)
    this.roundTrips++
    await this.#bounded(this.subscriber.sSubscribe(channel, this.#dispatch, true), 'SSUBSCRIBE')
  }

  unsubscribe(channel: string): void {
    if (!this.#handlers.delete(channel)) return
    this.roundTrips++
    this.subscriber.sUnsubscribe(channel, this.#dispatch, true).catch((error: unknown) => this.#logger.debug({ err: error, channel }, 'redis: unsubscribe failed'))
  }

  /**
   * Options for the commands sent on every message (the append). The connection default bounds
   * an unsent command with a timer per command (`AbortSignal.timeout`): about 2.5 % of a busy
   * node's CPU in a profile of bench/cluster/fanout.js. While connected a command is written in
   * the same turn, so one shared signal, aborted when the node has been down `offlineQueueMs`,
   * bounds the rare command caught unsent by a loss; while down the per-command timeout applies.
   */
  get hotPathOptions(): { timeout?: number; abortSignal?: AbortSignal } | undefined {
    return this.#state === 'connected' ? { timeout: 0, abortSignal: this.#offline.signal } : undefined
  }

  /** Resolves once every message published before the call has been received. */
  async barrier(): Promise<void> {
    this.roundTrips++
    await this.subscriber.ping()
  }

  /** One listener for every channel: the handler is looked up, so a channel never has two. */
  readonly #dispatch = (message: Buffer, channel: Buffer): void => {
    this.#handlers.get(channel.toString())?.(message)
  }

  #bounded<T>(pending: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => reject(new Error(`redis: ${what} not answered within ${REDIS_CONNECTION_DEFAULTS.offlineQueueMs} ms`)), REDIS_CONNECTION_DEFAULTS.offlineQueueMs)
      pending.then(
        (value) => { this.#clock.clearTimeout(timer); resolve(value) },
        (error: unknown) => { this.#clock.clearTimeout(timer); reject(error) },
      )
    })
  }

  onNodeGone(listener: (node: string) => void): () => void {
    this.#goneListeners.add(listener)
    return () => this.#goneListeners.delete(listener)
  }

  /**
   * Called each time a connection is lost. Synchronously, before either connection can
   * re-subscribe: messages that arrive from then on may follow a hole (what was published while
   * the subscriber was away), so a listener holds them until `onReconnected` has read it back.
   */
  onDisconnected(listener: () => void): () => void {
    this.#downListeners.add(listener)
    return () => this.#downListeners.delete(listener)
  }

  /** Called each time both connections are ready again after a loss. */
  onReconnected(listener: () => void): () => void {
    this.#readyListeners.add(listener)
    return () => this.#readyListeners.delete(listener)
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer) this.#clock.clearTimeout(this.#timer)
    if (this.#offlineTimer) this.#clock.clearTimeout(this.#offlineTimer)
    try {
      if (this.command.isReady) await this.command.multi().del(nodeKey(this.id)).sRem(NODES_KEY, this.id).exec()
    } catch {
      // Redis is away: the key expires by itself.
    }
    // destroy() throws on a client that never opened or already gave up (a failed start).
    for (const connection of [this.subscriber, this.command]) if (connection.isOpen) connection.destroy()
  }

  #setState(state: RedisNodeState): void {
    if (this.#stopped || state === this.#state) return
    const was = this.#state
    this.#state = state
    this.#logger.info({ node: this.id, state }, `redis: ${state}`)
    if (state === 'connected') {
      if (this.#offlineTimer) this.#clock.clearTimeout(this.#offlineTimer)
      this.#offlineTimer = null
      if (this.#offline.signal.aborted) this.#offline = offlineController()
    }
    if (state === 'down') {
      this.#offlineTimer ??= this.#clock.setTimeout(() => {
        this.#offlineTimer = null
        if (this.#state !== 'connected') this.#offline.abort(new Error(`redis: not back within ${REDIS_CONNECTION_DEFAULTS.offlineQueueMs} ms`))
      }, REDIS_CONNECTION_DEFAULTS.offlineQueueMs)
    }
    if (state === 'connected' && was === 'down') {
      for (const listener of this.#readyListeners) listener()
    }
    if (state === 'down' && was === 'connected') {
      for (const listener of this.#downListeners) listener()
    }
  }

  async #beat(): Promise<void> {
    if (this.#stopped) return
    try {
      this.roundTrips += 2
      const beat = this.command.multi().set(nodeKey(this.id), '1', { PX: this.#nodeTtlMs }).sAdd(NODES_KEY, this.id).sMembers(NODES_KEY)
      for (const [tenantId, figures] of this.#report?.() ?? []) beat.set(tenantFiguresKey(this.id, tenantId), JSON.stringify(figures), { PX: this.#nodeTtlMs })
      const replies = await beat.exec()
      const nodes = (replies[2] as unknown as string[] | undefined) ?? []
      const others = nodes.filter((node) => node !== this.id)
      const alive = others.length === 0 ? [] : await this.command.mGet(others.map(nodeKey))
      const live = new Set([this.id])
      const gone: string[] = []
      others.forEach((node, i) => (alive[i] === null ? gone.push(node) : live.add(node)))
      // A node seen gone that beats again (its Redis connection came back) is alive again.
      for (const node of live) this.#gone.delete(node)
      if (gone.length > 0) await this.command.sRem(NODES_KEY, gone)
      const previous = this.#live
      this.#live = live
      for (const node of gone) this.#announceGone(node)
      // A node we saw alive that vanished from the list (another node removed it first).
      for (const node of previous) if (!live.has(node) && !gone.includes(node)) this.#announceGone(node)
    } catch (error) {
      this.#logger.debug({ err: error }, 'redis: heartbeat failed')
    }
    this.#timer = this.#clock.setTimeout(() => void this.#beat(), this.#heartbeatMs)
  }

  #announceGone(node: string): void {
    this.#gone.add(node)
    if (this.#gone.size > MAX_GONE) this.#gone.delete(this.#gone.values().next().value!)
    this.#logger.info({ node }, 'redis: node gone')
    for (const listener of this.#goneListeners) listener(node)
  }
}
