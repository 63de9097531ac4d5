/**
 * One logical channel (a name plus its merged config) and the realtime-js instances behind it.
 *
 * A RealtimeChannel instance is single-use here: whenever it breaks (socket lost, join refused or
 * timed out, closed by the server) it is removed at once, before Phoenix can rejoin it with a stale
 * token, and a new instance is created when the connection is `ready` again (token refreshed).
 * Handlers live on this object, not on the instance, so they survive every replacement; each
 * instance gets exactly one binding per postgres spec, one broadcast binding and, for presence
 * channels, three presence bindings, whatever the number of leases.
 *
 * Status follows the machine in `status.ts`. Returning to `connected` after having been
 * connected raises a `gap` to every lease.
 */
import type { RealtimeChannel, RealtimeClient, RealtimePostgresChangesPayload } from '@supabase/realtime-js'
import { fullJitterDelay, type BackoffPolicy } from './backoff.js'
import { Timer, type Clock } from './clock.js'
import type { Connection } from './connection.js'
import { createError, normalizeError } from './errors.js'
import type { Logger } from './logger.js'
import { postgresSpecKey, type ChannelKind, type PostgresSpec } from './naming.js'
import { checkBroadcastPayload, checkEventName } from './payload.js'
import { presencePayload, presenceUsers, type PresenceMetadata, type PresenceUser, type PresenceUserInput } from './presence.js'
import { TokenBucket, type RateLimit } from './rate-limiter.js'
import { onRawMessage } from './raw-messages.js'
import { isGap, isLive, isTerminal, Status, transition, type StatusEvent } from './status.js'
import type { Emitter} from './store.js';
import { Store } from './store.js'

/**
 * Raised on every lease of a channel that returned after a break. `resumed: false` (a **gap**):
 * events may be lost, refetch. `resumed: true` (a **recovery**): the server replayed exactly what
 * was missed (Switchboard positions), patching from the stream is enough.
 */
export interface GapEvent {
  /** Channel name, e.g. `subscription:contact:123`. */
  channel: string
  kind: ChannelKind
  /** Why the channel broke: the socket error, the server's close reason, or `rebind`. */
  reason: string
  /** `clock.now()` when the break was noticed. */
  brokenAt: number
  /** `clock.now()` when the channel was joined again. */
  restoredAt: number
  /** `true` when the server replayed everything missed; `false`: events may be lost, refetch. */
  resumed: boolean
  /** What the server said (only servers that speak positions): `Resumed` (with `replayed`), `Gap` (with `reason`: epoch, evicted, future, overflow, error) or `Fresh` (nothing to resume from). */
  resume?: { code: string; reason?: string | undefined; replayed?: number | undefined } | undefined
}

/** Handlers of a postgres_changes lease. */
export interface ChangeHandlers<Row extends Record<string, unknown> = Record<string, unknown>> {
  onInsert?: ((payload: RealtimePostgresChangesPayload<Row>) => void) | undefined
  onUpdate?: ((payload: RealtimePostgresChangesPayload<Row>) => void) | undefined
  onDelete?: ((payload: RealtimePostgresChangesPayload<Row>) => void) | undefined
  /** Fires for every event, besides the specific callback. */
  onChange?: ((payload: RealtimePostgresChangesPayload<Row>) => void) | undefined
}

/** The broadcast message handed to `on('broadcast')` handlers. */
export interface BroadcastMessage<P = unknown> {
  type: 'broadcast'
  event: string
  payload: P
  /** Server metadata (`replayed`, `id`); Switchboard's `switchboard` position key is removed. */
  meta?: Record<string, unknown> | undefined
}

/** Presence callbacks of a presence lease. */
export interface PresenceHandlers {
  onSync?: ((users: PresenceUser[]) => void) | undefined
  onJoin?: ((joined: PresenceUser[], users: PresenceUser[]) => void) | undefined
  onLeave?: ((left: PresenceUser[], users: PresenceUser[]) => void) | undefined
}

/** How a channel retries after breaking. */
export interface ChannelPolicy extends BackoffPolicy {
  autoReconnect: boolean
}

/** Everything one lease brought. @internal */
export interface LeaseRecord {
  id: number
  /** Channel name, set when acquired. */
  name: string
  pg: { key: string; spec: PostgresSpec; handlers: ChangeHandlers } | undefined
  presence: { user: PresenceUserInput; metadata: PresenceMetadata; handlers: PresenceHandlers } | undefined
  policy: ChannelPolicy
  broadcast: Map<string, Set<(message: BroadcastMessage) => void>>
  status: Emitter<{ status: Status; error: Error | undefined }>
  gaps: Emitter<GapEvent>
  onStatusChange: ((status: Status, error?: Error) => void) | undefined
  onError: ((error: Error) => void) | undefined
  released: boolean
}

/** Settings that decide the wire config; leases that disagree on them cannot share a channel. */
export interface ChannelConfig {
  private: boolean
  self: boolean
  presenceKey: string | undefined
}

/** Per-channel row of `getActiveChannels()`. */
export interface ChannelInfo {
  name: string
  type: ChannelKind
  status: Status
  subscribers: number
  createdAt: number
  lastEventAt: number | undefined
  messagesIn: number
  messagesOut: number
  /** Last stream position seen (servers that speak positions), `-1` before any. */
  position: number
}

/** What a channel needs from its manager. @internal */
export interface ChannelHost {
  client: RealtimeClient
  connection: Connection
  clock: Clock
  random: () => number
  logger: Logger
  joinTimeoutMs: number
  sendTimeoutMs: number
  maxPayloadBytes: number
  broadcastRate: RateLimit
  positions: boolean
  resumeToken: ((channel: { name: string; topic: string; kind: ChannelKind }) => Record<string, unknown> | undefined) | undefined
  leases(name: string): LeaseRecord[]
  usersStore(name: string): Store<PresenceUser[]>
  changed(): void
  idle(channel: ManagedChannel): void
  countIn(): void
  countOut(): void
  gap(event: GapEvent): void
}

const RESERVED_JOIN_KEYS = new Set(['config', 'access_token', 'version', 'user_token', 'switchboard'])

/** A random id of this channel's stream across reconnects (the server skips its own broadcasts on replay). */
const newSession = (): string => globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`

type RawPayload = {
  response?: { switchboard?: unknown }
  extension?: string
  code?: string
  epoch?: unknown
  position?: unknown
  reason?: unknown
  replayed?: unknown
  ids?: unknown
  switchboard?: { position?: unknown }
  meta?: { switchboard?: { position?: unknown } }
} | null | undefined

type Waiter = { resolve: () => void; reject: (err: Error) => void; timer: Timer }

export class ManagedChannel {
  readonly name: string
  readonly topic: string
  readonly kind: ChannelKind
  readonly config: ChannelConfig
  readonly createdAt: number
  readonly status: Store<Status>
  readonly users: Store<PresenceUser[]>
  lastEventAt: number | undefined
  messagesIn = 0
  messagesOut = 0
  lastError: Error | undefined

  readonly #host: ChannelHost
  readonly #specs = new Map<string, PostgresSpec>()
  readonly #retry: Timer
  readonly #grace: Timer
  readonly #bucket: TokenBucket
  readonly #waiters = new Set<Waiter>()
  #raw: RealtimeChannel | undefined
  #gen = 0
  #joining = false
  #discarding: Promise<void> | undefined
  #everConnected = false
  #brokenAt = 0
  #breakReason = ''
  #attempts = 0
  #errorCause: 'channel' | 'connection' | undefined
  #systemMessage: string | undefined
  #closed = false
  // Positions (issue 6): the stream's session, epoch and last position; see #inspect.
  readonly #session = newSession()
  #epoch: string | undefined
  #pos = -1
  readonly #posIds = new Set<string>()
  /** The join reply carried `switchboard`: the server speaks positions and will say Fresh/Resumed/Gap. */
  #speaks = false
  /** A return after a break has not been reported yet (gap or recovery). */
  #owed = false
  /** The message being dispatched right now is a duplicate: bindings skip it. */
  #drop = false

  constructor(host: ChannelHost, kind: ChannelKind, name: string, config: ChannelConfig) {
    this.#host = host
    this.kind = kind
    this.name = name
    this.topic = `realtime:${name}`
    this.config = config
    this.createdAt = host.clock.now()
    this.status = new Store<Status>(Status.disconnected)
    this.users = host.usersStore(name)
    this.#retry = new Timer(host.clock)
    this.#grace = new Timer(host.clock)
    this.#bucket = new TokenBucket(host.broadcastRate, host.clock)
  }

  get closed(): boolean {
    return this.#closed
  }

  /** The merged postgres specs, in join order. */
  get specs(): PostgresSpec[] {
    return [...this.#specs.values()]
  }

  /** The merged retry policy of the leases: the most eager one wins (see README). */
  policy(): ChannelPolicy {
    const leases = this.#host.leases(this.name)
    if (leases.length === 0) return { autoReconnect: false, baseDelayMs: 3000, maxDelayMs: 30_000, maxAttempts: 5 }
    return {
      autoReconnect: leases.some((l) => l.policy.autoReconnect),
      baseDelayMs: Math.min(...leases.map((l) => l.policy.baseDelayMs)),
      maxDelayMs: Math.min(...leases.map((l) => l.policy.maxDelayMs)),
      maxAttempts: Math.max(...leases.map((l) => l.policy.maxAttempts)),
    }
  }

  /** Adds a postgres spec; returns `true` when the running instance must be replaced to carry it. */
  addSpec(spec: PostgresSpec): boolean {
    const key = postgresSpecKey(spec)
    if (this.#specs.has(key)) return false
    this.#specs.set(key, spec)
    return this.#raw !== undefined || this.#joining
  }

  /** A lease arrived (first one, or one of many): cancel a pending leave and make sure we join. */
  start(): void {
    if (this.#closed) return
    this.#grace.cancel()
    const status = this.status.getSnapshot()
    if (status === Status.disconnected || (status === Status.error && this.#errorCause === 'connection')) this.#restart()
    this.#joinWhenReady()
  }

  /** The merged specs changed: replace the instance (events in the swap are reported as a gap). */
  rebind(): void {
    if (this.#closed) return
    const wasConnected = this.status.getSnapshot() === Status.connected
    if (wasConnected) this.#markBroken('rebind')
    void this.#discard().then(() => this.#joinWhenReady())
  }

  /** Retry a channel that gave up or was left disconnected by `autoReconnect: false`. */
  retry(): void {
    if (this.#closed) return
    if (isTerminal(this.status.getSnapshot())) {
      this.#restart()
      this.#joinWhenReady()
    }
  }

  /** Leaves `error`/`disconnected` with a fresh attempt budget. */
  #restart(): void {
    this.#attempts = 0
    this.#errorCause = undefined
    this.#dispatch('start')
  }

  /** The last lease left: leave after `graceMs` unless a lease comes back (React StrictMode). */
  scheduleIdle(graceMs: number): void {
    if (this.#closed) return
    this.#grace.start(() => this.#host.idle(this), graceMs)
  }

  /** Leaves for good. Pending waits reject with `LEASE_RELEASED`. */
  close(): Promise<void> {
    if (this.#closed) return this.#discarding ?? Promise.resolve()
    this.#closed = true
    this.#grace.cancel()
    this.#retry.cancel()
    this.#dispatch('stop')
    this.#settleWaiters(createError('LEASE_RELEASED', `channel ${this.name} was closed`))
    const done = this.#discard()
    this.status.clear()
    this.users.set([])
    return done
  }

  // ── connection events ───────────────────────────────────────────────────────────────────────

  onConnectionReady(): void {
    if (this.#closed) return
    if (this.status.getSnapshot() === Status.error && this.#errorCause === 'connection') this.#restart()
    if (isLive(this.status.getSnapshot()) && !this.#raw) this.#join()
  }

  onConnectionDown(reason: Error): void {
    if (this.#closed) return
    this.#retry.cancel()
    if (this.#raw) void this.#discard()
    this.#afterBreak(reason, 'connection')
  }

  onConnectionFailed(attempt: number, error: Error): void {
    if (this.#closed || !isLive(this.status.getSnapshot())) return
    if (attempt >= this.policy().maxAttempts) this.#giveUp(error, 'connection')
  }

  onConnectionExhausted(error: Error): void {
    if (this.#closed || !isLive(this.status.getSnapshot())) return
    this.#giveUp(error, 'connection')
  }

  // ── joining ─────────────────────────────────────────────────────────────────────────────────

  #joinWhenReady(): void {
    if (this.#closed || !isLive(this.status.getSnapshot())) return
    if (this.#host.connection.ready) this.#join()
    else this.#host.connection.ensureConnected()
  }

  #join(): void {
    if (this.#joining || this.#raw || this.#closed) return
    this.#joining = true
    void this.#doJoin()
      .catch((err: unknown) => {
        this.#host.logger.error('join failed before subscribe', { channel: this.name, error: normalizeError(err) })
        this.#afterBreak(normalizeError(err), 'channel')
      })
      .finally(() => {
        this.#joining = false
      })
  }

  async #doJoin(): Promise<void> {
    const { client, connection, logger } = this.#host
    if (this.#discarding) await this.#discarding
    // The token is refreshed BEFORE the (re)join: a join with an expired token is refused.
    await connection.refreshAuth()
    if (this.#closed || !connection.ready || !isLive(this.status.getSnapshot()) || this.#raw) return

    const options = {
      config: {
        private: this.config.private,
        broadcast: { self: this.config.self, ack: false },
        presence: { key: this.config.presenceKey ?? '', enabled: this.kind === 'presence' },
      },
    }
    let raw = client.channel(this.name, options)
    if (raw.joinedOnce) {
      // realtime-js dedups by topic: an instance it still holds must go before we can join.
      logger.warn('removing a stale instance of the topic', { channel: this.name })
      await client.removeChannel(raw)
      raw = client.channel(this.name, options)
      if (raw.joinedOnce) throw createError('CHANNEL_JOIN_FAILED', `topic ${this.topic} is held by another instance`)
    }
    const gen = ++this.#gen
    this.#raw = raw
    this.#systemMessage = undefined
    for (const [key, spec] of this.#specs) {
      raw.on('postgres_changes', { ...spec }, (payload: RealtimePostgresChangesPayload<Record<string, unknown>>) => {
        if (gen === this.#gen && !this.#drop) this.#onChange(key, payload)
      })
    }
    raw.on('broadcast', { event: '*' }, (message: { event: string; payload?: unknown; meta?: Record<string, unknown> }) => {
      if (gen === this.#gen && !this.#drop) this.#onBroadcast(message)
    })
    if (this.kind === 'presence') {
      raw.on('presence', { event: 'sync' }, () => gen === this.#gen && this.#onPresence('sync', []))
      raw.on('presence', { event: 'join' }, (p: { newPresences: Array<Record<string, unknown>> }) => gen === this.#gen && this.#onPresence('join', p.newPresences))
      raw.on('presence', { event: 'leave' }, (p: { leftPresences: Array<Record<string, unknown>> }) => gen === this.#gen && this.#onPresence('leave', p.leftPresences))
    }
    raw.on('system', {}, (payload: { status?: string; message?: string }) => {
      if (gen !== this.#gen) return
      if (payload?.status === 'error' && payload.message) {
        this.#systemMessage = payload.message
        logger.warn('server reported a channel error', { channel: this.name, message: payload.message })
      }
    })
    const extra = this.#host.resumeToken?.({ name: this.name, topic: this.topic, kind: this.kind })
    if (extra) {
      const safe: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(extra)) if (!RESERVED_JOIN_KEYS.has(k)) safe[k] = v
      raw.updateJoinPayload(safe)
    }
    this.#speaks = false
    this.#drop = false
    const hooked = this.#host.positions && onRawMessage(raw, (event, payload) => {
      if (gen === this.#gen) this.#inspect(event, payload as RawPayload)
    })
    if (hooked) {
      // Instances are single-use (a break discards them), so the position read here is the
      // newest one for this join; realtime-js never rejoins this instance with an older one.
      const resume = this.#epoch !== undefined && this.#pos >= 0 ? { epoch: this.#epoch, position: this.#pos } : null
      raw.updateJoinPayload({ switchboard: { session: this.#session, resume } })
    }
    logger.debug('joining', { channel: this.name, specs: this.#specs.size, gen })
    raw.subscribe((state, err) => this.#onRawStatus(gen, state, err), this.#host.joinTimeoutMs)
  }

  #onRawStatus(gen: number, state: string, err: Error | undefined): void {
    if (gen !== this.#gen || this.#closed) return
    if (state === 'SUBSCRIBED') {
      this.#attempts = 0
      this.#errorCause = undefined
      this.#retry.cancel()
      const previous = this.status.getSnapshot()
      if (isGap(previous, Status.connected, this.#everConnected)) this.#owed = true
      this.#everConnected = true
      this.#dispatch('up')
      this.#retrack()
      this.#settleWaiters()
      this.#host.logger.debug('joined', { channel: this.name, speaks: this.#speaks })
      // A server that speaks positions says Resumed/Gap/Fresh next; any other return is a gap.
      if (this.#owed && !this.#speaks) this.#resync(false)
      return
    }
    // CHANNEL_ERROR, TIMED_OUT or CLOSED that we did not ask for: this instance is done.
    const socketLevel = !this.#host.client.isConnected() || err?.message === 'heartbeat timeout' || typeof (err?.cause as { code?: unknown } | undefined)?.code === 'number'
    const message = this.#systemMessage ?? err?.message ?? state.toLowerCase().replace('_', ' ')
    const code = state === 'CLOSED' ? 'CHANNEL_CLOSED' : 'CHANNEL_JOIN_FAILED'
    const error = createError(code, `channel ${this.name}: ${message}`, { cause: err })
    this.#host.logger.warn('channel broke', { channel: this.name, state, message, socketLevel })
    void this.#discard()
    if (socketLevel) {
      // The connection notices too and will announce `ready`; the rejoin happens then.
      this.#afterBreak(error, 'connection')
      return
    }
    this.#afterBreak(error, 'channel')
  }

  #afterBreak(error: Error, cause: 'channel' | 'connection'): void {
    const status = this.status.getSnapshot()
    if (!isLive(status)) return
    this.lastError = error
    if (status === Status.connected) this.#markBroken(error.message)
    const policy = this.policy()
    if (!policy.autoReconnect && this.#everConnected) {
      this.#host.logger.info('not reconnecting (autoReconnect: false)', { channel: this.name })
      this.#dispatch('stop', error)
      return
    }
    if (cause === 'connection') {
      this.#dispatch('down', error)
      if (this.#host.connection.ready) this.#scheduleRetry(policy)
      else this.#host.connection.ensureConnected()
      return
    }
    this.#attempts++
    if (this.#attempts >= policy.maxAttempts) {
      this.#giveUp(createError('RECONNECT_EXHAUSTED', `channel ${this.name} gave up after ${this.#attempts} attempts: ${error.message}`, { cause: error }), 'channel')
      return
    }
    this.#dispatch('down', error)
    this.#scheduleRetry(policy)
  }

  #scheduleRetry(policy: ChannelPolicy): void {
    const delay = fullJitterDelay(Math.max(1, this.#attempts), policy, this.#host.random)
    this.#host.logger.debug('channel retry scheduled', { channel: this.name, attempt: this.#attempts, delayMs: delay })
    this.#retry.start(() => this.#joinWhenReady(), delay)
  }

  #giveUp(error: Error, cause: 'channel' | 'connection'): void {
    this.#retry.cancel()
    this.#errorCause = cause
    this.lastError = error
    if (this.#raw) void this.#discard()
    this.#dispatch('exhausted', error)
    this.#settleWaiters(error)
  }

  #markBroken(reason: string): void {
    this.#brokenAt = this.#host.clock.now()
    this.#breakReason = reason
    this.#dispatch('down')
  }

  #discard(): Promise<void> {
    const raw = this.#raw
    if (!raw) return this.#discarding ?? Promise.resolve()
    this.#raw = undefined
    this.#gen++
    const done = this.#host.client
      .removeChannel(raw)
      .then(
        () => undefined,
        (err: unknown) => this.#host.logger.debug('removeChannel failed', { channel: this.name, error: normalizeError(err) }),
      )
      .finally(() => {
        if (this.#discarding === done) this.#discarding = undefined
      })
    this.#discarding = done
    return done
  }

  #dispatch(event: StatusEvent, error?: Error): void {
    const previous = this.status.getSnapshot()
    const next = transition(previous, event)
    if (next === previous) return
    this.status.set(next)
    const err = next === Status.error ? (error ?? this.lastError) : undefined
    for (const lease of this.#host.leases(this.name)) {
      this.#safe(() => lease.onStatusChange?.(next, err))
      lease.status.emit({ status: next, error: err })
      if (next === Status.error && err) this.#safe(() => lease.onError?.(err))
    }
    this.#host.changed()
  }

  #resync(resumed: boolean, resume?: GapEvent['resume']): void {
    this.#owed = false
    const event: GapEvent = {
      channel: this.name,
      kind: this.kind,
      reason: this.#breakReason,
      brokenAt: this.#brokenAt,
      restoredAt: this.#host.clock.now(),
      resumed,
      resume,
    }
    this.#host.logger.info(resumed ? 'channel resumed' : 'channel restored after a gap', { channel: this.name, resume, gapMs: event.restoredAt - event.brokenAt })
    for (const lease of this.#host.leases(this.name)) lease.gaps.emit(event, (err) => this.#handlerError(err))
    this.#host.gap(event)
  }

  // ── positions ───────────────────────────────────────────────────────────────────────────────

  /** Runs on every raw message before the bindings: tracks positions, flags duplicates. */
  #inspect(event: string, p: RawPayload): void {
    this.#drop = false
    if (event === 'phx_reply') {
      if (p?.response?.switchboard) this.#speaks = true
    } else if (event === 'system') {
      if (p?.extension === 'switchboard') this.#onResumeStatus(p)
    } else if (event === 'broadcast' || event === 'postgres_changes') {
      const pos = event === 'broadcast' ? p?.meta?.switchboard?.position : p?.switchboard?.position
      if (typeof pos !== 'number') return
      // One change may arrive as several messages at one position (one per binding payload).
      const id = event === 'broadcast' ? '' : String(p?.ids)
      if (pos < this.#pos || (pos === this.#pos && (id === '' || this.#posIds.has(id)))) {
        this.#drop = true
        this.#host.logger.debug('duplicate dropped', { channel: this.name, position: pos })
        return
      }
      if (pos > this.#pos) this.#posIds.clear()
      this.#pos = pos
      this.#posIds.add(id)
    }
  }

  /** `system { extension: 'switchboard', code: Fresh | Resumed | Gap, epoch, position }` */
  #onResumeStatus(p: NonNullable<RawPayload>): void {
    const { code, position } = p
    if (typeof p.epoch === 'string') this.#epoch = p.epoch
    if (typeof position === 'number' && (code !== 'Resumed' || position > this.#pos)) {
      this.#pos = position
      this.#posIds.clear()
    }
    if (!this.#owed && code !== 'Gap') return
    const replayed = typeof p.replayed === 'number' ? p.replayed : undefined
    this.#resync(code === 'Resumed', { code: String(code), reason: typeof p.reason === 'string' ? p.reason : undefined, replayed })
  }

  // ── delivery ────────────────────────────────────────────────────────────────────────────────

  #touch(): void {
    this.messagesIn++
    this.lastEventAt = this.#host.clock.now()
    this.#host.countIn()
  }

  #onChange(key: string, payload: RealtimePostgresChangesPayload<Record<string, unknown>>): void {
    this.#touch()
    for (const lease of this.#host.leases(this.name)) {
      if (!lease.pg || lease.pg.key !== key) continue
      const h = lease.pg.handlers
      const specific = payload.eventType === 'INSERT' ? h.onInsert : payload.eventType === 'UPDATE' ? h.onUpdate : h.onDelete
      if (specific) this.#safe(() => specific(payload))
      if (h.onChange) this.#safe(() => h.onChange?.(payload))
    }
  }

  #onBroadcast(message: { event: string; payload?: unknown; meta?: Record<string, unknown> }): void {
    this.#touch()
    let meta = message.meta
    if (meta && 'switchboard' in meta) {
      const { switchboard: _position, ...rest } = meta
      meta = Object.keys(rest).length > 0 ? rest : undefined
    }
    const out: BroadcastMessage = { type: 'broadcast', event: message.event, payload: message.payload, meta }
    for (const lease of this.#host.leases(this.name)) {
      for (const key of [message.event, '*']) {
        const handlers = lease.broadcast.get(key)
        if (handlers) for (const handler of handlers) this.#safe(() => handler(out))
      }
    }
  }

  #onPresence(kind: 'sync' | 'join' | 'leave', metas: Array<Record<string, unknown>>): void {
    const raw = this.#raw
    if (!raw) return
    this.#touch()
    const users = presenceUsers(raw.presenceState() as Record<string, Array<Record<string, unknown>>>)
    if (kind === 'sync') this.users.set(users)
    const changed = kind === 'sync' ? [] : presenceUsers(Object.fromEntries(metas.map((m, i) => [String(i), [m]])))
    for (const lease of this.#host.leases(this.name)) {
      const h = lease.presence?.handlers
      if (!h) continue
      if (kind === 'sync') this.#safe(() => h.onSync?.(this.users.getSnapshot()))
      else if (kind === 'join') this.#safe(() => h.onJoin?.(changed, users))
      else this.#safe(() => h.onLeave?.(changed, users))
    }
    this.#host.changed()
  }

  #safe(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.#handlerError(err)
    }
  }

  #handlerError(err: unknown): void {
    this.#host.logger.error('a channel handler threw', { channel: this.name, error: normalizeError(err) })
  }

  // ── presence ────────────────────────────────────────────────────────────────────────────────

  /** The payload tracked for this client: the merge of every presence lease, in lease order. */
  presencePayload(): Record<string, unknown> | undefined {
    let result: Record<string, unknown> | undefined
    for (const lease of this.#host.leases(this.name)) {
      if (!lease.presence) continue
      const payload = presencePayload(lease.presence.user, lease.presence.metadata, new Date(this.#host.clock.now()))
      result = { ...result, ...payload }
    }
    return result
  }

  /** Sends `track` (or `untrack` when no lease tracks anymore) on the joined instance. */
  #retrack(): Promise<void> {
    const raw = this.#raw
    if (this.kind !== 'presence' || !raw || this.status.getSnapshot() !== Status.connected) return Promise.resolve()
    const payload = this.presencePayload()
    this.messagesOut++
    this.#host.countOut()
    const op = payload ? raw.track(payload) : raw.untrack()
    return op.then(
      (result) => {
        if (result !== 'ok') this.#host.logger.warn('presence update not acknowledged', { channel: this.name, result })
      },
      (err: unknown) => this.#host.logger.warn('presence update failed', { channel: this.name, error: normalizeError(err) }),
    )
  }

  /** Re-tracks after a lease changed its metadata or left; resolves once sent (or queued until joined). */
  async updatePresence(): Promise<void> {
    if (this.status.getSnapshot() !== Status.connected) return // tracked on the next join
    await this.#retrack()
  }

  // ── broadcast ───────────────────────────────────────────────────────────────────────────────

  /** Resolves once joined; rejects on `error`, close, or after `timeoutMs`. */
  waitConnected(timeoutMs: number): Promise<void> {
    const status = this.status.getSnapshot()
    if (status === Status.connected) return Promise.resolve()
    if (this.#closed) return Promise.reject(createError('LEASE_RELEASED', `channel ${this.name} was closed`))
    if (status === Status.error) return Promise.reject(this.lastError ?? createError('CHANNEL_NOT_CONNECTED', `channel ${this.name} is in error`))
    return new Promise<void>((resolve, reject) => {
      const timer = new Timer(this.#host.clock)
      const waiter: Waiter = { resolve, reject, timer }
      this.#waiters.add(waiter)
      timer.start(() => {
        this.#waiters.delete(waiter)
        reject(createError('CHANNEL_NOT_CONNECTED', `channel ${this.name} did not connect within ${timeoutMs} ms (status ${this.status.getSnapshot()})`, { cause: this.lastError }))
      }, timeoutMs)
    })
  }

  /** Resolves every pending wait, or rejects them all with `err`. */
  #settleWaiters(err?: Error): void {
    for (const w of [...this.#waiters]) {
      w.timer.cancel()
      if (err) w.reject(err)
      else w.resolve()
    }
    this.#waiters.clear()
  }

  get waiterCount(): number {
    return this.#waiters.size
  }

  /** Checks, rate-limits, waits for the join, then sends one broadcast. */
  async send(event: string, payload: unknown): Promise<void> {
    checkEventName(event)
    checkBroadcastPayload(payload, this.#host.maxPayloadBytes)
    const wait = this.#bucket.take()
    if (wait > 0) {
      throw createError('RATE_LIMITED', `broadcast rate limit of ${this.#host.broadcastRate.perSecond}/s exceeded on ${this.name}; retry in ${wait} ms`, { retryAfterMs: wait })
    }
    await this.waitConnected(this.#host.sendTimeoutMs)
    const raw = this.#raw
    if (!raw) throw createError('CHANNEL_NOT_CONNECTED', `channel ${this.name} is not joined`)
    const result = await raw.send({ type: 'broadcast', event, payload })
    if (result !== 'ok') throw createError('SEND_FAILED', `broadcast on ${this.name} failed: ${result}`)
    this.messagesOut++
    this.#host.countOut()
  }

  info(): ChannelInfo {
    return {
      name: this.name,
      type: this.kind,
      status: this.status.getSnapshot(),
      subscribers: this.#host.leases(this.name).length,
      createdAt: this.createdAt,
      lastEventAt: this.lastEventAt,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      position: this.#pos,
    }
  }
}

