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
import { DEFAULT_BACKOFF, DEFAULT_CONNECTION_RETRY, type BackoffPolicy } from './backoff.js'
import { systemClock, Timer, type Clock } from './clock.js'
import { Connection, type AccessTokenFn, type ConnectionPort, type ConnectionSnapshot } from './connection.js'
import { createError } from './errors.js'
import { EntityChannel, PresenceLease, type Lease } from './leases.js'
import { silentLogger, type Logger } from './logger.js'
import { ManagedChannel, type ChannelConfig, type ChannelContext } from './managed-channel.js'
import { channelName, postgresSpecFor, postgresSpecKey, type ChannelKind, type EntityRef, type PostgresEvent } from './naming.js'
import { checkBroadcastPayload, DEFAULT_MAX_PAYLOAD_BYTES } from './payload.js'
import type { PresenceMetadata, PresenceUser, PresenceUserInput } from './presence.js'
import { DEFAULT_BROADCAST_RATE, type RateLimit } from './rate-limiter.js'
import type { Status } from './status.js'
import { Emitter, sameJson, Store, type ReadableStore } from './store.js'
import type { ChangeHandlers, ChannelInfo, GapEvent, LeaseOptions, LifecycleHandlers, PresenceHandlers, ReconnectOptions } from './types.js'

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
  /**
   * Defaults of the channel retry policy after a refused or timed-out join (the options
   * `reconnectDelay` and `maxReconnectAttempts` of one subscription override them): base 3000 ms,
   * max 30 000 ms, 5 attempts.
   */
  reconnect?: Partial<BackoffPolicy>
  /**
   * The socket's reconnect schedule after a drop: base 50 ms (the first attempt comes within it),
   * doubling per failed attempt, at most 250 ms for the first 5 s after the drop (`quickRetry`),
   * then up to 5000 ms; `error` after 60 failed attempts in a row.
   */
  connectionRetry?: Partial<BackoffPolicy>
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
  /**
   * Structured logger (default: silent). The core logs handlers that threw, failed presence
   * updates and realtime-js's lines (`debug`); the lifecycle lines come with `debugLogging()`.
   */
  logger?: Logger
  /** Clock for every timer (default: the global timers). */
  clock?: Clock
  /** Random source of the backoff jitter (default `Math.random`). */
  random?: () => number
  /**
   * Opt-in features, each from its own entry point so apps that do not use them do not ship them:
   * `browserLifecycle()` of `@switchboard/client/lifecycle` (online/offline, visibility, probes),
   * `debugLogging()` of `@switchboard/client/logging` (connection and channel lifecycle lines).
   */
  plugins?: RealtimePlugin[]
  /**
   * Switchboard positions and resume (default true): every channel sends a namespaced
   * `switchboard: { session, resume }` join key (ignored by hosted Supabase), tracks the position of
   * every message, resumes from it on every rejoin and drops duplicates. See the README.
   */
  positions?: boolean
  /** @internal The resume `session` of every channel (tab sharing keeps one per browser across leader changes). */
  session?: string
}

/** What a plug-in is given: the manager, its realtime-js client, clock and logger, the connection's port and the channels. */
export interface PluginHost {
  manager: ChannelManager
  client: RealtimeClient
  clock: Clock
  logger: Logger
  connection: ConnectionPort
  /** The manager's channels now. */
  channels(): Iterable<{ readonly name: string; readonly status: ReadableStore<Status>; readonly lastError: Error | undefined }>
}

/**
 * An opt-in feature of a manager (see `RealtimeConfig.plugins`): called once when the manager is
 * created; returns its teardown, called by `destroy()`.
 */
export type RealtimePlugin = (host: PluginHost) => (() => void) | undefined

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
  /** The channel to hold (default `subscription`); `presence` with `changes: false` holds an entity's presence channel without tracking. */
  kind?: ChannelKind
}

/** Options of `joinPresence`. */
export interface JoinPresenceOptions<M extends PresenceMetadata = PresenceMetadata> extends EntityRef, PresenceHandlers<M>, ReconnectOptions, LifecycleHandlers {
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

/** `http(s)://host[/…]` → `ws(s)://host/…/realtime/v1` */
export function realtimeEndpoint(url: string): string {
  const u = new URL(url)
  u.protocol = u.protocol.replace('http', 'ws')
  u.pathname = u.pathname.replace(/\/+$/, '').replace(/\/websocket$/, '').replace(/(\/realtime\/v1)?$/, '/realtime/v1')
  u.search = ''
  return u.toString()
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

  readonly #connection: Connection
  readonly #channels = new Map<string, ManagedChannel>()
  readonly #userStores = new Map<string, Store<PresenceUser[]>>()
  readonly #stats = new Store<ChannelStats>(channelStats([]), sameJson)
  readonly #gaps = new Emitter<GapEvent>()
  readonly #idle: Timer
  readonly #ctx: ChannelContext
  readonly #idleMs: number
  /** Teardowns of the plug-ins. */
  readonly #plugins: Array<(() => void) | undefined>
  #destroyed = false

  constructor(config: RealtimeConfig) {
    const logger = config.logger ?? silentLogger
    const clock = config.clock ?? systemClock
    const random = config.random ?? Math.random
    const { accessToken } = config
    if (!config.client && !(config.url && config.apiKey)) throw createError('INVALID_ARGUMENT', 'configureRealtime needs { url, apiKey } or { client }')
    this.realtime =
      config.client ??
      new RealtimeClient(realtimeEndpoint(config.url as string), {
        ...config.realtimeOptions,
        params: { ...config.realtimeOptions?.params, apikey: config.apiKey },
        ...(config.transport && { transport: config.transport as WebSocketLikeConstructor }),
        ...(config.heartbeatIntervalMs && { heartbeatIntervalMs: config.heartbeatIntervalMs }),
        ...(accessToken && { accessToken: async () => (await accessToken()) ?? null }),
        // A logger keeps realtime-js off the console (it warns there when it has none).
        logger: (kind: string, msg: string, data?: unknown) => logger.debug(`realtime-js ${kind}: ${msg}`, { data }),
        // We own reconnects and idle disconnects; park realtime-js's own.
        reconnectAfterMs: () => PARKED_MS,
        disconnectOnEmptyChannelsAfterMs: PARKED_MS,
      })
    this.#connection = new Connection({
      client: this.realtime,
      accessToken,
      clock,
      random,
      policy: { ...DEFAULT_CONNECTION_RETRY, ...config.connectionRetry },
      connectTimeoutMs: config.connectTimeoutMs ?? 10_000,
      notify: (event, error) => {
        for (const channel of [...this.#channels.values()]) channel.onConnection(event, error)
      },
    })
    this.connectionStore = this.#connection.store
    this.statsStore = this.#stats
    this.#idle = new Timer(clock)
    this.#idleMs = config.idleDisconnectMs ?? 5000
    const counters = { messagesIn: 0, messagesOut: 0, gaps: 0, recoveries: 0 }
    this.#ctx = {
      client: this.realtime,
      connection: this.#connection,
      clock,
      random,
      logger,
      defaults: { ...DEFAULT_BACKOFF, ...config.reconnect },
      graceMs: config.leaseGraceMs ?? 150,
      joinTimeoutMs: config.joinTimeoutMs ?? 10_000,
      sendTimeoutMs: config.sendTimeoutMs ?? 10_000,
      maxPayloadBytes: config.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
      broadcastRate: config.broadcastRateLimit ?? DEFAULT_BROADCAST_RATE,
      positions: config.positions ?? true,
      session: config.session,
      counters,
      usersStore: (name) => this.#usersStore(name),
      changed: () => this.#changed(),
      idle: (channel) => {
        if (channel.leases.size === 0 && this.#channels.get(channel.name) === channel) void this.#close(channel)
      },
      gap: (event) => {
        counters[event.resumed ? 'recoveries' : 'gaps']++
        this.#gaps.emit(event)
      },
    }
    const host: PluginHost = { manager: this, client: this.realtime, clock, logger, connection: this.#connection, channels: () => this.#channels.values() }
    this.#plugins = (config.plugins ?? []).map((plugin) => plugin(host))
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
    const spec = options.changes === false ? undefined : postgresSpecFor(options)
    const channel = this.#channel(options.kind ?? 'subscription', options, { private: !!options.private, self: options.broadcastSelf, presenceKey: undefined })
    const lease = new EntityChannel(channel, options as LeaseOptions, spec && postgresSpecKey(spec))
    this.#add(channel, lease, spec)
    return lease
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
  subscribeToEntity<Row extends Record<string, unknown> = Record<string, unknown>>(options: SubscribeToEntityOptions<Row>): Promise<EntityChannel> {
    return joined(this.acquireEntity(options), options.waitForJoin)
  }

  /** Takes a presence lease synchronously; tracking starts once joined. */
  acquirePresence<M extends PresenceMetadata = PresenceMetadata>(options: JoinPresenceOptions<M>): PresenceLease<M> {
    const { user } = options
    if (typeof user?.id !== 'string' || !user.id || typeof user.name !== 'string') throw createError('INVALID_ARGUMENT', 'joinPresence needs user: { id, name }')
    checkBroadcastPayload(options.metadata ?? {}, this.#ctx.maxPayloadBytes)
    const channel = this.#channel('presence', options, { private: !!options.private, self: undefined, presenceKey: user.id })
    const lease = new PresenceLease<M>(channel, options as LeaseOptions, undefined, { user: { ...user }, metadata: { ...options.metadata } })
    this.#add(channel, lease)
    void channel.retrack()
    return lease
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
  joinPresence<M extends PresenceMetadata = PresenceMetadata>(options: JoinPresenceOptions<M>): Promise<PresenceLease<M>> {
    return joined(this.acquirePresence(options), options.waitForJoin)
  }

  /**
   * Releases every presence lease of this manager on the entity (prefer `lease.leave()` for one
   * caller's lease) and resolves once the channel has left.
   *
   * @example
   * ```ts
   * await manager.leavePresence('contact', '123')
   * await manager.leavePresence({ entityType: 'contact', entityId: '123', tenantId: 'acme' })
   * ```
   */
  leavePresence(entityType: string, entityId: string, tenantId?: string): Promise<void>
  leavePresence(ref: EntityRef): Promise<void>
  leavePresence(typeOrRef: string | EntityRef, entityId?: string, tenantId?: string): Promise<void> {
    const ref = typeof typeOrRef === 'string' ? { entityType: typeOrRef, entityId: entityId as string, tenantId } : typeOrRef
    return this.unsubscribe('presence', ref.entityType, ref.entityId, ref.tenantId)
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
    const existing = this.#channels.get(channelName(kind, options))
    if (existing) return existing.send(options.event, options.payload)
    checkBroadcastPayload(options.payload, this.#ctx.maxPayloadBytes)
    // Nobody holds the channel: a short internal lease joins it for the send.
    const channel = this.#channel(kind, options, { private: !!options.private, self: undefined, presenceKey: undefined })
    const lease = new EntityChannel(channel, {})
    this.#add(channel, lease)
    try {
      await channel.send(options.event, options.payload)
    } finally {
      lease.release()
    }
  }

  /** Whether a channel with leases exists for the entity. */
  hasChannel(kind: ChannelKind, entityType: string, entityId: string, tenantId?: string): boolean {
    return !!this.#channels.get(channelName(kind, { entityType, entityId, tenantId }))?.leases.size
  }

  /** Users on an entity's presence channel (`[]` when not joined). */
  getPresenceState<M extends PresenceMetadata = PresenceMetadata>(entityType: string, entityId: string, tenantId?: string): PresenceUser<M>[] {
    return this.presenceStore<M>(entityType, entityId, tenantId).getSnapshot()
  }

  /** The presence users of an entity as a store (usable before the channel exists). */
  presenceStore<M extends PresenceMetadata = PresenceMetadata>(entityType: string, entityId: string, tenantId?: string): ReadableStore<PresenceUser<M>[]> {
    return this.#usersStore(channelName('presence', { entityType, entityId, tenantId })) as unknown as ReadableStore<PresenceUser<M>[]>
  }

  /** Merges `metadata` into every presence lease of this manager on the entity and re-tracks. */
  updatePresenceMetadata(entityType: string, entityId: string, metadata: PresenceMetadata, tenantId?: string): Promise<void> {
    const name = channelName('presence', { entityType, entityId, tenantId })
    const channel = this.#channels.get(name)
    const leases = [...(channel?.leases ?? [])].filter((lease) => lease.presence)
    if (!channel || leases.length === 0) return Promise.reject(createError('INVALID_ARGUMENT', `no presence joined on ${name}`))
    return channel.updateMetadata(leases, metadata)
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
    const connection = this.#connection.store.getSnapshot()
    let { lastError } = connection
    let leases = 0
    for (const c of this.#channels.values()) {
      lastError = c.lastError ?? lastError
      leases += c.leases.size
    }
    return { ...this.getChannelStats(), ...this.#ctx.counters, connection: connection.status, leases, reconnects: this.#connection.reconnects, lastError }
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
    const channel = this.#channels.get(channelName(kind, { entityType, entityId, tenantId }))
    if (!channel) return Promise.resolve()
    for (const lease of [...channel.leases]) lease.release()
    return this.#close(channel)
  }

  /** Opens the socket now if nothing holds it open (idempotent); channels open it by themselves. */
  connect(): void {
    this.#connection.ensureConnected()
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

  /** Alias of {@link ChannelManager.cleanupAll} (the seed's name). */
  cleanupAllChannels(): Promise<void> {
    return this.cleanupAll()
  }

  /** Releases every lease, leaves every channel and closes the socket (logout). */
  async cleanupAll(): Promise<void> {
    const channels = [...this.#channels.values()]
    for (const channel of channels) for (const lease of [...channel.leases]) lease.release()
    await Promise.all(channels.map((channel) => this.#close(channel)))
    this.#idle.cancel()
    this.#connection.disconnect()
  }

  /** Cleans up and detaches from the client (for tests and hot reload). */
  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    await this.cleanupAll()
    for (const teardown of this.#plugins) teardown?.()
    this.#connection.destroy()
    this.#gaps.listeners.clear()
    for (const store of this.#userStores.values()) store.listeners.clear()
    this.#userStores.clear()
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────────

  /** The channel of that name, created if needed; refuses settings it cannot merge. */
  #channel(kind: ChannelKind, ref: EntityRef, config: ChannelConfig): ManagedChannel {
    if (this.#destroyed) throw createError('LEASE_RELEASED', 'the channel manager was destroyed')
    const name = channelName(kind, ref)
    const channel = this.#channels.get(name)
    if (!channel) {
      const created = new ManagedChannel(this.#ctx, kind, name, config)
      this.#channels.set(name, created)
      return created
    }
    const held = channel.config
    const conflict =
      held.private !== config.private ? 'private' :
      config.self !== undefined && !!held.self !== config.self ? 'broadcastSelf' :
      held.presenceKey && config.presenceKey && held.presenceKey !== config.presenceKey ? 'presence user' : ''
    if (conflict) throw createError('CHANNEL_CONFIG_CONFLICT', `channel ${name} is already held with a different ${conflict}; use the same settings or another entity`)
    held.presenceKey ??= config.presenceKey
    held.self ??= config.self
    return channel
  }

  #add(channel: ManagedChannel, lease: Lease, spec?: Parameters<ManagedChannel['add']>[1]): void {
    this.#idle.cancel()
    channel.add(lease, spec)
    this.#changed()
  }

  #close(channel: ManagedChannel): Promise<void> {
    this.#channels.delete(channel.name)
    const store = this.#userStores.get(channel.name)
    if (store?.listeners.size === 0) this.#userStores.delete(channel.name)
    const done = channel.close()
    this.#changed()
    if (this.#channels.size === 0) {
      this.#idle.start(() => this.#channels.size === 0 && this.#connection.disconnect(), this.#idleMs)
    }
    return done
  }

  #usersStore(name: string): Store<PresenceUser[]> {
    let store = this.#userStores.get(name)
    if (!store) this.#userStores.set(name, (store = new Store<PresenceUser[]>([], sameJson)))
    return store
  }

  #changed(): void {
    this.#stats.set(channelStats(this.#channels.values()))
  }
}

/** Resolves with the lease once its channel joined (unless `wait` is false); releases it on failure. */
async function joined<L extends Lease>(lease: L, wait: boolean | undefined): Promise<L> {
  try {
    if (wait !== false) await lease.channel.whenConnected()
    return lease
  } catch (err) {
    lease.release()
    throw err
  }
}

function channelStats(channels: Iterable<ManagedChannel>): ChannelStats {
  const stats: ChannelStats = {
    total: 0,
    byType: { subscription: 0, presence: 0 },
    byStatus: { connecting: 0, connected: 0, reconnecting: 0, disconnected: 0, error: 0 },
  }
  for (const channel of channels) {
    stats.total++
    stats.byType[channel.kind]++
    stats.byStatus[channel.status.getSnapshot()]++
  }
  return stats
}
