/**
 * The channel manager: leases, shared channels, one connection, stores and stats.
 *
 * Identity of a channel: its name (kind + tenant + entity). Leases that ask for the same name share
 * one channel. Their postgres_changes specs are **merged** into the channel (one binding per
 * distinct spec, each lease only sees events of its own spec); adding a new spec to a joined
 * channel replaces the instance (reported as a `gap`). Settings that change which server room is
 * joined or what every lease receives (`private`, `broadcastSelf`, the presence user) cannot be
 * merged: a lease that disagrees fails loudly with `CHANNEL_CONFIG_CONFLICT` instead of being
 * silently ignored like realtime-js's `channel()` does.
 */
import { RealtimeClient, type RealtimeClientOptions, type WebSocketLikeConstructor } from '@supabase/realtime-js'
import { DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js'
import { systemClock, Timer, type Clock } from './clock.js'
import { Connection, type AccessTokenFn, type ConnectionSnapshot } from './connection.js'
import { createError } from './errors.js'
import { EntityChannel, PresenceLease, type LeaseHost } from './leases.js'
import { silentLogger, type Logger } from './logger.js'
import { ManagedChannel, type ChangeHandlers, type ChannelConfig, type ChannelHost, type ChannelInfo, type ChannelPolicy, type GapEvent, type LeaseRecord, type PresenceHandlers } from './managed-channel.js'
import { LeaseTable } from './lease-table.js'
import { channelName, postgresSpecFor, postgresSpecKey, type ChannelKind, type EntityRef, type PostgresEvent } from './naming.js'
import { checkBroadcastPayload, DEFAULT_MAX_PAYLOAD_BYTES } from './payload.js'
import { sameUsers, type PresenceMetadata, type PresenceUser, type PresenceUserInput } from './presence.js'
import { DEFAULT_BROADCAST_RATE, type RateLimit } from './rate-limiter.js'
import { browserSignals, type SignalSource } from './signals.js'
import { Status } from './status.js'
import { Emitter, Store, type ReadableStore } from './store.js'
import type { RealtimePostgresChangesPayload } from '@supabase/realtime-js'

/** Longest `setTimeout` delay; used to park realtime-js's own reconnect and idle timers. */
const PARKED_MS = 2 ** 31 - 1

/** Options of {@link configureRealtime} / `new ChannelManager()`. */
export interface RealtimeConfig {
  /** Project URL (`http://127.0.0.1:4000`, `https://x.supabase.co`); `/realtime/v1` is appended. */
  url?: string
  /** The anon / publishable key (sent as the `apikey` socket parameter). */
  apiKey?: string
  /** Use an existing client (e.g. `supabase.realtime`) instead of creating one. */
  client?: RealtimeClient
  /** Returns the user's JWT; called before every (re)join and by realtime-js on each heartbeat. */
  accessToken?: AccessTokenFn
  /**
   * WebSocket constructor; required on Node 20 (pass `WebSocket` from `ws`). Typed loosely because
   * `ws`'s overloaded constructor does not match realtime-js's `WebSocketLikeConstructor`.
   */
  transport?: WebSocketLikeConstructor | (new (...args: never[]) => object)
  /** realtime-js heartbeat interval (default 25 000 ms); a missed heartbeat is a lost connection. */
  heartbeatIntervalMs?: number
  /** Extra options for the created RealtimeClient (ignored with `client`). */
  realtimeOptions?: Partial<RealtimeClientOptions>
  /** Defaults of the retry policy (per-subscription options override them). */
  reconnect?: Partial<BackoffPolicy>
  /** How long one connect attempt may take (default 10 000 ms). */
  connectTimeoutMs?: number
  /** Join reply timeout (default 10 000 ms). */
  joinTimeoutMs?: number
  /** How long `broadcast` waits for the channel to join (default 10 000 ms). */
  sendTimeoutMs?: number
  /** Delay between the last release and the leave (default 150 ms; StrictMode remounts reuse the channel). */
  leaseGraceMs?: number
  /** Delay between the last channel leaving and the socket closing (default 5 000 ms). */
  idleDisconnectMs?: number
  /** Largest broadcast payload in UTF-8 JSON bytes (default 256 KiB). */
  maxPayloadBytes?: number
  /** Client-side broadcast rate limit per channel (default 20/s). */
  broadcastRateLimit?: RateLimit
  /** Structured logger (default: silent). */
  logger?: Logger
  /** Clock for every timer (default: the global timers). */
  clock?: Clock
  /** Random source of the backoff jitter (default `Math.random`). */
  random?: () => number
  /** Lifecycle signals; default: the browser's when present, none in Node. `false` disables them. */
  signals?: SignalSource | false
  /**
   * Resume seam: extra **top-level** `phx_join` keys for a channel, evaluated before every (re)join
   * and sent through `updateJoinPayload` (keys inside `config` would be stripped by realtime-js).
   * Reserved keys (`config`, `access_token`, `version`, `user_token`) are ignored. Default: none.
   */
  /**
   * Switchboard positions and resume (default true): every channel sends a namespaced
   * `switchboard: { session, resume }` join key (ignored by hosted Supabase), tracks the position of
   * every message, resumes from it on every rejoin and drops duplicates. See the README.
   */
  positions?: boolean
  resumeToken?: (channel: { name: string; topic: string; kind: ChannelKind }) => Record<string, unknown> | undefined
}

/** Retry options shared by `subscribeToEntity` and `joinPresence`. */
export interface ReconnectOptions {
  /** Rejoin after a break (default true). With `false` the status becomes `disconnected`. */
  autoReconnect?: boolean
  /** Window of the first retry in ms (default 3000); doubles per attempt, full jitter. */
  reconnectDelay?: number
  /** Attempts before `error` (default 5). */
  maxReconnectAttempts?: number
}

/** Lifecycle callbacks shared by `subscribeToEntity` and `joinPresence`. */
export interface LifecycleHandlers {
  onStatusChange?: (status: Status, error?: Error) => void
  /** Called when the status becomes `error`, with a `SwitchboardError`. */
  onError?: (error: Error) => void
  /** Called when the channel returns after a break and events may be lost (refetch what it shows). */
  onGap?: (event: GapEvent) => void
  /** Called when the channel returns after a break and the server replayed everything missed. */
  onRecover?: (event: GapEvent) => void
}

/** Options of `subscribeToEntity`. */
export interface SubscribeToEntityOptions<Row extends Record<string, unknown> = Record<string, unknown>>
  extends EntityRef,
    ChangeHandlers<Row>,
    ReconnectOptions,
    LifecycleHandlers {
  /** Default `entityType + 's'`. */
  table?: string
  /** Default `public`. */
  schema?: string
  /** Default `*`. */
  event?: PostgresEvent
  /** Column matched against `entityId` (default `id`). */
  idColumn?: string
  /** Replaces `id=eq.<entityId>`; `null` listens to the whole table. */
  filter?: string | null
  /**
   * `false`: a broadcast-only lease on the entity's channel, with no postgres_changes binding
   * (for typing indicators, cursors, progress). Default true.
   */
  changes?: boolean
  /** Join as a private channel (RLS on `realtime.messages`). Default false. */
  private?: boolean
  /** Receive own broadcasts. Default false. */
  broadcastSelf?: boolean
  /** Resolve as soon as the lease exists instead of after the first join (default false). */
  waitForJoin?: boolean
}

/** Options of `joinPresence`. */
export interface JoinPresenceOptions<M extends PresenceMetadata = PresenceMetadata> extends EntityRef, PresenceHandlers, ReconnectOptions, LifecycleHandlers {
  user: PresenceUserInput
  metadata?: M
  private?: boolean
  waitForJoin?: boolean
}

/** Options of `broadcast`. */
export interface BroadcastOptions<P = unknown> extends EntityRef {
  event: string
  payload: P
  /** The channel to send on (default `subscription`, the channel `subscribeToEntity` listens on). */
  kind?: ChannelKind
  /** Send on the private channel of that name (RLS on `realtime.messages`). Default false. */
  private?: boolean
}

/** `getChannelStats()` */
export interface ChannelStats {
  total: number
  byType: Record<ChannelKind, number>
  byStatus: Record<Status, number>
}

/** `getStats()`: channel stats plus counters. */
export interface ManagerStats extends ChannelStats {
  connection: Status
  leases: number
  messagesIn: number
  messagesOut: number
  reconnects: number
  gaps: number
  /** Returns after a break where the server replayed everything missed. */
  recoveries: number
  lastError: Error | undefined
}

function emptyStats(): ChannelStats {
  return {
    total: 0,
    byType: { subscription: 0, presence: 0 },
    byStatus: { connecting: 0, connected: 0, reconnecting: 0, disconnected: 0, error: 0 },
  }
}

function sameStats(a: ChannelStats, b: ChannelStats): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

/** `http(s)://host[/…]` → `ws(s)://host/…/realtime/v1` */
export function realtimeEndpoint(url: string): string {
  const u = new URL(url)
  if (u.protocol === 'http:') u.protocol = 'ws:'
  else if (u.protocol === 'https:') u.protocol = 'wss:'
  let path = u.pathname.replace(/\/+$/, '')
  if (path.endsWith('/websocket')) path = path.slice(0, -'/websocket'.length)
  if (!path.endsWith('/realtime/v1')) path += '/realtime/v1'
  u.pathname = path
  u.search = ''
  return u.toString().replace(/\/$/, '')
}

/**
 * Owns one realtime-js client and every channel on it.
 *
 * @example
 * ```ts
 * import WebSocket from 'ws'
 * const manager = new ChannelManager({ url, apiKey: ANON_KEY, transport: WebSocket, accessToken: async () => token })
 * const channel = await manager.subscribeToEntity({ entityType: 'contact', entityId: '123', onChange })
 * manager.getChannelStats() // { total: 1, byType: { subscription: 1, presence: 0 }, byStatus: { connected: 1, … } }
 * ```
 */
export class ChannelManager {
  /** The realtime-js client underneath (owned or adopted). */
  readonly realtime: RealtimeClient
  /** Connection snapshot store (`status`, `attempt`, `lastError`). */
  readonly connectionStore: ReadableStore<ConnectionSnapshot>
  /** `getChannelStats()` as a store. */
  readonly statsStore: ReadableStore<ChannelStats>

  readonly #owned: boolean
  readonly #connection: Connection
  readonly #channels = new Map<string, ManagedChannel>()
  readonly #table = new LeaseTable<LeaseRecord>()
  readonly #userStores = new Map<string, Store<PresenceUser[]>>()
  readonly #stats = new Store<ChannelStats>(emptyStats(), sameStats)
  readonly #gaps = new Emitter<GapEvent>()
  readonly #idle: Timer
  readonly #host: ChannelHost
  readonly #leaseHost: LeaseHost
  readonly #defaults: BackoffPolicy
  readonly #graceMs: number
  readonly #idleMs: number
  readonly #logger: Logger
  #messagesIn = 0
  #messagesOut = 0
  #gapCount = 0
  #recoveries = 0
  #destroyed = false

  constructor(config: RealtimeConfig) {
    const logger = config.logger ?? silentLogger
    const clock = config.clock ?? systemClock
    this.#logger = logger
    this.#defaults = { ...DEFAULT_BACKOFF, ...config.reconnect }
    this.#graceMs = config.leaseGraceMs ?? 150
    this.#idleMs = config.idleDisconnectMs ?? 5000
    this.#idle = new Timer(clock)
    if (config.client) {
      this.realtime = config.client
      this.#owned = false
    } else {
      if (!config.url || !config.apiKey) throw createError('INVALID_ARGUMENT', 'configureRealtime needs { url, apiKey } or { client }')
      const accessToken = config.accessToken
      this.realtime = new RealtimeClient(realtimeEndpoint(config.url), {
        ...config.realtimeOptions,
        params: { ...config.realtimeOptions?.params, apikey: config.apiKey },
        ...(config.transport ? { transport: config.transport as WebSocketLikeConstructor } : {}),
        ...(config.heartbeatIntervalMs ? { heartbeatIntervalMs: config.heartbeatIntervalMs } : {}),
        ...(accessToken ? { accessToken: async () => (await accessToken()) ?? null } : {}),
        // A logger keeps realtime-js off the console (it warns there when it has none).
        logger: (kind: string, msg: string, data?: unknown) => logger.debug(`realtime-js ${kind}: ${msg}`, data === undefined ? undefined : { data }),
        // We own reconnects and idle disconnects; park realtime-js's own.
        reconnectAfterMs: () => PARKED_MS,
        disconnectOnEmptyChannelsAfterMs: PARKED_MS,
      })
      this.#owned = true
    }
    const signals = config.signals === false ? undefined : (config.signals ?? browserSignals())
    this.#connection = new Connection({
      client: this.realtime,
      accessToken: config.accessToken,
      clock,
      random: config.random ?? Math.random,
      logger,
      policy: () => this.#connectionPolicy(),
      connectTimeoutMs: config.connectTimeoutMs ?? 10_000,
      signals,
    })
    this.connectionStore = this.#connection.store
    this.statsStore = this.#stats
    this.#connection.events.on((event) => {
      for (const channel of [...this.#channels.values()]) {
        if (event.type === 'ready') channel.onConnectionReady()
        else if (event.type === 'down') channel.onConnectionDown(event.reason)
        else if (event.type === 'attempt-failed') channel.onConnectionFailed(event.attempt, event.error)
        else channel.onConnectionExhausted(event.error)
      }
    })
    this.#host = {
      client: this.realtime,
      connection: this.#connection,
      clock,
      random: config.random ?? Math.random,
      logger,
      joinTimeoutMs: config.joinTimeoutMs ?? 10_000,
      sendTimeoutMs: config.sendTimeoutMs ?? 10_000,
      maxPayloadBytes: config.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
      broadcastRate: config.broadcastRateLimit ?? DEFAULT_BROADCAST_RATE,
      positions: config.positions ?? true,
      resumeToken: config.resumeToken,
      leases: (name) => this.#table.values(name),
      usersStore: (name) => this.#usersStore(name),
      changed: () => this.#changed(),
      idle: (channel) => this.#onIdle(channel),
      countIn: () => void this.#messagesIn++,
      countOut: () => void this.#messagesOut++,
      gap: (event) => {
        if (event.resumed) this.#recoveries++
        else this.#gapCount++
        this.#gaps.emit(event, () => undefined)
      },
    }
    this.#leaseHost = {
      release: (record) => this.#release(record),
      updatePresence: (record, metadata) => this.#updatePresence(record, metadata),
    }
  }

  /** Connection status right now. */
  get status(): Status {
    return this.#connection.status
  }

  // ── leases ──────────────────────────────────────────────────────────────────────────────────

  /**
   * Takes a lease on an entity's channel synchronously (for effects); the channel joins in the
   * background. Prefer {@link ChannelManager.subscribeToEntity} outside UI code.
   */
  acquireEntity<Row extends Record<string, unknown> = Record<string, unknown>>(options: SubscribeToEntityOptions<Row>): EntityChannel {
    if (options.changes === false) {
      const record = this.#record(options, undefined, undefined)
      const channel = this.#acquire('subscription', options, { private: options.private ?? false, self: options.broadcastSelf ?? false, presenceKey: undefined }, record)
      return new EntityChannel(this.#leaseHost, channel, record)
    }
    const spec = postgresSpecFor(options)
    const record = this.#record(options, {
      key: postgresSpecKey(spec),
      spec,
      handlers: {
        onInsert: options.onInsert as ((p: RealtimePostgresChangesPayload<Record<string, unknown>>) => void) | undefined,
        onUpdate: options.onUpdate as ((p: RealtimePostgresChangesPayload<Record<string, unknown>>) => void) | undefined,
        onDelete: options.onDelete as ((p: RealtimePostgresChangesPayload<Record<string, unknown>>) => void) | undefined,
        onChange: options.onChange as ((p: RealtimePostgresChangesPayload<Record<string, unknown>>) => void) | undefined,
      },
    }, undefined)
    const channel = this.#acquire('subscription', options, { private: options.private ?? false, self: options.broadcastSelf ?? false, presenceKey: undefined }, record)
    return new EntityChannel(this.#leaseHost, channel, record)
  }

  /**
   * Subscribes to one entity's row changes (and its broadcast channel).
   * Resolves after the first join; rejects (and releases) if the channel ends in `error` first.
   *
   * @example
   * ```ts
   * const channel = await manager.subscribeToEntity({ entityType: 'contact', entityId: '123',
   *   onUpdate: ({ new: row }) => setContact(row), onStatusChange: setStatus })
   * ```
   */
  async subscribeToEntity<Row extends Record<string, unknown> = Record<string, unknown>>(options: SubscribeToEntityOptions<Row>): Promise<EntityChannel> {
    const lease = this.acquireEntity(options)
    if (options.waitForJoin === false) return lease
    await this.#awaitJoin(lease)
    return lease
  }

  /** Takes a presence lease synchronously; tracking starts once joined. */
  acquirePresence<M extends PresenceMetadata = PresenceMetadata>(options: JoinPresenceOptions<M>): PresenceLease<M> {
    if (!options.user || typeof options.user.id !== 'string' || !options.user.id || typeof options.user.name !== 'string') {
      throw createError('INVALID_ARGUMENT', 'joinPresence needs user: { id, name }')
    }
    checkBroadcastPayload(options.metadata ?? {}, this.#host.maxPayloadBytes)
    const record = this.#record(options, undefined, {
      user: { ...options.user },
      metadata: { ...options.metadata },
      handlers: { onSync: options.onSync, onJoin: options.onJoin, onLeave: options.onLeave },
    })
    const channel = this.#acquire('presence', options, { private: options.private ?? false, self: false, presenceKey: options.user.id }, record)
    void channel.updatePresence()
    return new PresenceLease<M>(this.#leaseHost, channel, record)
  }

  /**
   * Joins an entity's presence channel and tracks `user` (+ `metadata`).
   *
   * @example
   * ```ts
   * const presence = await manager.joinPresence({ entityType: 'project', entityId: 'p-456',
   *   user: { id: 'u1', name: 'Ada' }, metadata: { role: 'editor' }, onSync: (users) => render(users) })
   * ```
   */
  async joinPresence<M extends PresenceMetadata = PresenceMetadata>(options: JoinPresenceOptions<M>): Promise<PresenceLease<M>> {
    const lease = this.acquirePresence(options)
    if (options.waitForJoin === false) return lease
    await this.#awaitJoin(lease)
    return lease
  }

  /** Releases every presence lease of this manager on the entity (prefer `lease.leave()`). */
  leavePresence(ref: EntityRef): void {
    this.unsubscribe('presence', ref.entityType, ref.entityId, ref.tenantId)
  }

  /**
   * Broadcasts on an entity's channel, joining it for the send if nobody holds it.
   * The payload is checked (plain JSON, size, no prototype keys) and rate-limited per channel.
   *
   * @example
   * ```ts
   * await manager.broadcast({ entityType: 'document', entityId: 'doc-789', event: 'cursor-move', payload: { x, y } })
   * ```
   */
  async broadcast<P = unknown>(options: BroadcastOptions<P>): Promise<void> {
    const kind = options.kind ?? 'subscription'
    const name = channelName(kind, options)
    const existing = this.#channels.get(name)
    if (existing && !existing.closed) {
      await existing.send(options.event, options.payload)
      return
    }
    checkBroadcastPayload(options.payload, this.#host.maxPayloadBytes)
    // Nobody holds the channel: a short internal lease joins it for the send.
    const record = this.#record({}, undefined, undefined)
    const channel = this.#acquire(kind, options, { private: options.private ?? false, self: false, presenceKey: undefined }, record)
    try {
      await channel.send(options.event, options.payload)
    } finally {
      this.#release(record)
    }
  }

  /** Whether a channel with leases exists for the entity. */
  hasChannel(kind: ChannelKind, entityType: string, entityId: string, tenantId?: string): boolean {
    const name = channelName(kind, { entityType, entityId, tenantId })
    return this.#table.count(name) > 0
  }

  /** Users on an entity's presence channel (`[]` when not joined). */
  getPresenceState<M extends PresenceMetadata = PresenceMetadata>(entityType: string, entityId: string, tenantId?: string): PresenceUser<M>[] {
    const name = channelName('presence', { entityType, entityId, tenantId })
    return (this.#userStores.get(name)?.getSnapshot() ?? []) as PresenceUser<M>[]
  }

  /** The presence users of an entity as a store (usable before the channel exists). */
  presenceStore<M extends PresenceMetadata = PresenceMetadata>(entityType: string, entityId: string, tenantId?: string): ReadableStore<PresenceUser<M>[]> {
    return this.#usersStore(channelName('presence', { entityType, entityId, tenantId })) as unknown as ReadableStore<PresenceUser<M>[]>
  }

  /** Merges `metadata` into every presence lease of this manager on the entity and re-tracks. */
  async updatePresenceMetadata(entityType: string, entityId: string, metadata: PresenceMetadata, tenantId?: string): Promise<void> {
    const name = channelName('presence', { entityType, entityId, tenantId })
    const records = this.#table.values(name).filter((r) => r.presence)
    if (records.length === 0) throw createError('INVALID_ARGUMENT', `no presence joined on ${name}`)
    checkBroadcastPayload(metadata, this.#host.maxPayloadBytes)
    for (const r of records) if (r.presence) r.presence.metadata = { ...r.presence.metadata, ...metadata }
    await this.#channels.get(name)?.updatePresence()
  }

  /** Every channel with its status, lease count and activity. */
  getActiveChannels(): ChannelInfo[] {
    return [...this.#channels.values()].map((c) => c.info())
  }

  /** `{ total, byType: { subscription, presence }, byStatus: { … } }` */
  getChannelStats(): ChannelStats {
    return this.#stats.getSnapshot()
  }

  /** Channel stats plus counters (messages in/out, reconnects, gaps, last error). */
  getStats(): ManagerStats {
    const conn = this.#connection.store.getSnapshot()
    let lastError = conn.lastError
    for (const c of this.#channels.values()) if (c.lastError) lastError = c.lastError
    return {
      ...this.getChannelStats(),
      connection: conn.status,
      leases: this.#table.size,
      messagesIn: this.#messagesIn,
      messagesOut: this.#messagesOut,
      reconnects: this.#connection.reconnects,
      gaps: this.#gapCount,
      recoveries: this.#recoveries,
      lastError,
    }
  }

  /** Listens to `gap` events (`resumed: false`) of every channel. @returns the function that stops listening. */
  onGap(listener: (event: GapEvent) => void): () => void {
    return this.#gaps.on((e) => e.resumed || listener(e))
  }

  /** Listens to recoveries (`resumed: true`: everything missed was replayed). @returns the remover. */
  onRecover(listener: (event: GapEvent) => void): () => void {
    return this.#gaps.on((e) => e.resumed && listener(e))
  }

  /**
   * Force-releases every lease on the channel (all callers, not only yours: prefer `lease.release()`).
   * The channel leaves immediately.
   */
  unsubscribe(kind: ChannelKind, entityType: string, entityId: string, tenantId?: string): Promise<void> {
    const name = channelName(kind, { entityType, entityId, tenantId })
    for (const record of this.#table.values(name)) this.#release(record)
    const channel = this.#channels.get(name)
    if (!channel) return Promise.resolve()
    this.#channels.delete(name)
    const done = channel.close()
    this.#changed()
    this.#maybeIdle()
    return done
  }

  /** Retries now: the connection (fresh attempt budget) and every channel in `error`. */
  reconnect(): void {
    this.#connection.ensureConnected()
    this.#connection.reconnectNow('manual')
    for (const channel of this.#channels.values()) channel.retry()
  }

  /** Refreshes the token now (calls `accessToken` and `setAuth`). */
  refreshAuth(): Promise<void> {
    return this.#connection.refreshAuth()
  }

  /** Releases every lease, leaves every channel and closes the socket (logout). */
  async cleanupAll(): Promise<void> {
    for (const name of this.#table.keys()) for (const record of this.#table.values(name)) this.#release(record)
    const channels = [...this.#channels.values()]
    this.#channels.clear()
    this.#idle.cancel()
    await Promise.all(channels.map((c) => c.close()))
    this.#connection.disconnect()
    this.#changed()
  }

  /** Cleans up and detaches from the client (for tests and hot reload). */
  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    await this.cleanupAll()
    this.#connection.destroy()
    this.#gaps.clear()
    for (const s of this.#userStores.values()) s.clear()
    this.#userStores.clear()
    if (!this.#owned) this.#logger.debug('detached from an adopted client (left connected state to its owner)')
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────────

  #record(options: ReconnectOptions & LifecycleHandlers, pg: LeaseRecord['pg'], presence: LeaseRecord['presence']): LeaseRecord {
    const policy: ChannelPolicy = {
      autoReconnect: options.autoReconnect ?? true,
      baseDelayMs: options.reconnectDelay ?? this.#defaults.baseDelayMs,
      maxDelayMs: this.#defaults.maxDelayMs,
      maxAttempts: options.maxReconnectAttempts ?? this.#defaults.maxAttempts,
    }
    const record: LeaseRecord = {
      id: 0,
      name: '',
      pg,
      presence,
      policy,
      broadcast: new Map(),
      status: new Emitter(),
      gaps: new Emitter(),
      onStatusChange: options.onStatusChange,
      onError: options.onError,
      released: false,
    }
    const { onGap, onRecover } = options
    if (onGap) record.gaps.on((e) => e.resumed || onGap(e))
    if (onRecover) record.gaps.on((e) => e.resumed && onRecover(e))
    return record
  }

  #acquire(kind: ChannelKind, ref: EntityRef, config: ChannelConfig, record: LeaseRecord): ManagedChannel {
    if (this.#destroyed) throw createError('LEASE_RELEASED', 'the channel manager was destroyed')
    const name = channelName(kind, ref)
    let channel = this.#channels.get(name)
    if (channel) {
      const c = channel.config
      const conflict =
        c.private !== config.private ? 'private' :
        c.self !== config.self && record.pg ? 'broadcastSelf' :
        c.presenceKey !== undefined && config.presenceKey !== undefined && c.presenceKey !== config.presenceKey ? 'presence user' :
        undefined
      if (conflict) {
        throw createError('CHANNEL_CONFIG_CONFLICT', `channel ${name} is already held with a different ${conflict}; use the same settings or another entity`)
      }
      if (c.presenceKey === undefined && config.presenceKey !== undefined) c.presenceKey = config.presenceKey
    } else {
      channel = new ManagedChannel(this.#host, kind, name, { ...config })
      this.#channels.set(name, channel)
    }
    record.id = this.#table.acquire(name, record).id
    record.name = name
    const rebind = record.pg ? channel.addSpec(record.pg.spec) : false
    this.#idle.cancel()
    channel.start()
    if (rebind) channel.rebind()
    this.#changed()
    return channel
  }

  #release(record: LeaseRecord): void {
    if (record.released) return
    const name = this.#nameOf(record)
    const result = this.#table.release(record.id)
    record.released = true
    record.broadcast.clear()
    record.status.clear()
    record.gaps.clear()
    if (!result.released || name === undefined) return
    const channel = this.#channels.get(name)
    if (channel) {
      if (result.remaining === 0) channel.scheduleIdle(this.#graceMs)
      else if (record.presence) void channel.updatePresence()
    }
    this.#changed()
  }

  #nameOf(record: LeaseRecord): string | undefined {
    return record.name || undefined
  }

  async #updatePresence(record: LeaseRecord, metadata: PresenceMetadata): Promise<void> {
    if (record.released || !record.presence) throw createError('LEASE_RELEASED', 'this presence lease was released')
    checkBroadcastPayload(metadata, this.#host.maxPayloadBytes)
    record.presence.metadata = { ...record.presence.metadata, ...metadata }
    const name = this.#nameOf(record)
    if (name) await this.#channels.get(name)?.updatePresence()
  }

  async #awaitJoin(lease: EntityChannel | PresenceLease<PresenceMetadata>): Promise<void> {
    try {
      await new Promise<void>((resolve, reject) => {
        if (lease.status === Status.connected) return resolve()
        const off = lease.onStatus((status, error) => {
          if (status === Status.connected) {
            off()
            resolve()
          } else if (status === Status.error || status === Status.disconnected) {
            off()
            reject(error ?? lease.lastError ?? createError('CHANNEL_JOIN_FAILED', `channel ${lease.name} did not join`))
          }
        })
      })
    } catch (err) {
      lease.release()
      throw err
    }
  }

  #onIdle(channel: ManagedChannel): void {
    if (this.#table.count(channel.name) > 0 || this.#channels.get(channel.name) !== channel) return
    this.#channels.delete(channel.name)
    void channel.close()
    const store = this.#userStores.get(channel.name)
    if (store && store.listenerCount === 0) this.#userStores.delete(channel.name)
    this.#changed()
    this.#maybeIdle()
  }

  #maybeIdle(): void {
    if (this.#channels.size > 0) return
    this.#idle.start(() => {
      if (this.#channels.size === 0) this.#connection.disconnect()
    }, this.#idleMs)
  }

  #usersStore(name: string): Store<PresenceUser[]> {
    let store = this.#userStores.get(name)
    if (!store) {
      store = new Store<PresenceUser[]>([], sameUsers)
      this.#userStores.set(name, store)
    }
    return store
  }

  #connectionPolicy(): BackoffPolicy {
    const policies = [...this.#channels.values()].filter((c) => this.#table.count(c.name) > 0).map((c) => c.policy())
    if (policies.length === 0) return this.#defaults
    return {
      baseDelayMs: Math.min(...policies.map((p) => p.baseDelayMs)),
      maxDelayMs: Math.min(...policies.map((p) => p.maxDelayMs)),
      maxAttempts: Math.max(...policies.map((p) => p.maxAttempts)),
    }
  }

  #changed(): void {
    const stats = emptyStats()
    for (const channel of this.#channels.values()) {
      stats.total++
      stats.byType[channel.kind]++
      stats.byStatus[channel.status.getSnapshot()]++
    }
    this.#stats.set(stats)
  }
}
