/**
 * One logical channel (a name plus its merged config), its leases, and the realtime-js instances
 * behind it.
 *
 * A RealtimeChannel instance is single-use here: whenever it breaks (socket lost, join refused or
 * timed out, closed by the server) it is removed at once, before Phoenix can rejoin it with a stale
 * token, and a new instance is created when the connection is `ready` again (token refreshed).
 * Handlers live on the leases, not on the instance, so they survive every replacement; each
 * instance gets exactly one binding per postgres spec, one broadcast binding and, for presence
 * channels, three presence bindings, whatever the number of leases.
 *
 * Status follows the machine in `status.ts`. **Connected means live**: against a server that
 * speaks positions (its join reply carries `switchboard`), the channel reports `connected` on
 * the server's status (`system {extension: 'switchboard', code: Fresh | Resumed | Gap}`), which
 * comes once every binding is registered and everything missed was replayed; against any other
 * server, on the join reply (realtime-js `SUBSCRIBED`), as before. Both orders of reply and
 * status are accepted.
 *
 *   joining ──reply──▶ SUBSCRIBED ──(no switchboard in the reply)──────────────▶ connected
 *                          │                                                      ▲
 *                          └──(switchboard)──▶ waiting for the status ──status────┘
 *                                                  │ none within joinTimeoutMs
 *                                                  ▼
 *                                       a failed join (retried with reconnectDelay)
 *
 * Returning to `connected` after having been connected raises one gap or recovery on every lease.
 *
 * This class is the instance lifecycle (join, status, break, retry, discard) plus presence
 * tracking and sends. Where the stream stands, duplicates and the live status are the pure
 * `StreamPosition` (`stream-position.ts`), fed every raw message; handing events to the leases
 * is `lease-dispatch.ts`.
 */
import type { RealtimeChannel, RealtimeClient } from '@supabase/realtime-js'
import { RESUME_KEY, type MessageMark, type ResumeCode, type ResumePoint, type ResumeRequest, type ResumeStatus } from '@switchboard/protocol'
import { fullJitterDelay, type BackoffPolicy } from './backoff.js'
import { Timer, type Clock } from './clock.js'
import type { Connection, ConnectionEvent } from './connection.js'
import { createError, normalizeError } from './errors.js'
import type { Lease } from './leases.js'
import type { Logger } from './logger.js'
import type { ChannelKind, PostgresSpec } from './naming.js'
import { checkBroadcastPayload } from './payload.js'
import { deliverBroadcast, deliverChange, deliverPresence, deliverReturn, deliverStatus } from './lease-dispatch.js'
import { byUserId, diffUsers, presencePayload, presenceUsers, type PresenceMetadata, type PresenceUser } from './presence.js'
import { TokenBucket, type RateLimit } from './rate-limiter.js'
import { onRawMessage } from './raw-messages.js'
import { isGap, isLive, isTerminal, transition, type Status, type StatusEvent } from './status.js'
import { Store } from './store.js'
import { StreamPosition, type RawPayload } from './stream-position.js'
import type { ChannelInfo, GapEvent, PositionedChange } from './types.js'

/** How a channel retries after breaking. */
export interface ChannelPolicy extends BackoffPolicy {
  autoReconnect: boolean
}

/** Settings that decide the wire config; leases that disagree on them cannot share a channel. */
export interface ChannelConfig {
  private: boolean
  self: boolean | undefined
  presenceKey: string | undefined
}

/** What every channel of a manager shares. @internal */
export interface ChannelContext {
  client: RealtimeClient
  connection: Connection
  clock: Clock
  random: () => number
  logger: Logger
  /** The retry policy of a lease that sets no option. */
  defaults: BackoffPolicy
  graceMs: number
  joinTimeoutMs: number
  sendTimeoutMs: number
  maxPayloadBytes: number
  broadcastRate: RateLimit
  positions: boolean
  /** The `session` of every channel's resume requests (default: a random one per channel). */
  session: string | undefined
  counters: { messagesIn: number; messagesOut: number; gaps: number; recoveries: number }
  usersStore(name: string): Store<PresenceUser[]>
  /** Statuses or leases changed (stats). */
  changed(): void
  /** The last lease left and the grace period passed. */
  idle(channel: ManagedChannel): void
  gap(event: GapEvent): void
}

/** A random id of this channel's stream across reconnects (the server skips its own broadcasts on replay). */
const newSession = (): string => globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`

type Presences = Array<Record<string, unknown>>

export class ManagedChannel {
  readonly topic: string
  readonly createdAt: number
  readonly status: Store<Status>
  readonly users: Store<PresenceUser[]>
  readonly leases = new Set<Lease>()
  /** The merged postgres specs by key, in join order. */
  readonly specs = new Map<string, PostgresSpec>()
  lastEventAt: number | undefined
  lastError: Error | undefined
  closed = false

  readonly #ctx: ChannelContext
  readonly #retry: Timer
  readonly #grace: Timer
  readonly #bucket: TokenBucket
  #raw: RealtimeChannel | undefined
  #joining = false
  #discarding: Promise<void> | undefined
  #everConnected = false
  #brokenAt = 0
  #breakReason = ''
  #attempts = 0
  /** The last give-up was the socket's (a `ready` revives the channel), not a refused join. */
  #connectionGaveUp = false
  #systemMessage: string | undefined
  // Positions (issue 6): the stream's session, and the pure tracker of where it stands (fed every
  // raw message of the current instance before its bindings run).
  readonly #session: string
  readonly #stream = new StreamPosition()
  /** This instance's join was acknowledged (`SUBSCRIBED`). */
  #subscribed = false
  /** A return after a break has not been reported yet (gap or recovery). */
  #owed = false

  /** The status right now (the store's snapshot). */
  get #status(): Status {
    return this.status.getSnapshot()
  }

  constructor(
    ctx: ChannelContext,
    readonly kind: ChannelKind,
    readonly name: string,
    readonly config: ChannelConfig,
  ) {
    this.#ctx = ctx
    this.topic = `realtime:${name}`
    this.createdAt = ctx.clock.now()
    this.#session = ctx.session ?? newSession()
    this.status = new Store<Status>('disconnected')
    this.users = ctx.usersStore(name)
    this.#retry = new Timer(ctx.clock)
    this.#grace = new Timer(ctx.clock)
    this.#bucket = new TokenBucket(ctx.broadcastRate, ctx.clock)
  }

  /** The merged retry policy of the leases: the most eager one wins (see README). */
  policy(): ChannelPolicy {
    const d = this.#ctx.defaults
    if (this.leases.size === 0) return { ...d, autoReconnect: false }
    const policy: ChannelPolicy = { autoReconnect: false, baseDelayMs: Infinity, maxDelayMs: d.maxDelayMs, maxAttempts: 0 }
    for (const { options: o } of this.leases) {
      policy.autoReconnect ||= o.autoReconnect ?? true
      policy.baseDelayMs = Math.min(policy.baseDelayMs, o.reconnectDelay ?? d.baseDelayMs)
      policy.maxAttempts = Math.max(policy.maxAttempts, o.maxReconnectAttempts ?? d.maxAttempts)
    }
    return policy
  }

  /**
   * Adds a lease (and its postgres spec, if new): cancels a pending leave and makes sure the
   * channel joins. A spec new to a joined instance replaces the instance (reported as a gap).
   */
  add(lease: Lease, spec?: PostgresSpec): void {
    this.leases.add(lease)
    this.#grace.cancel()
    const key = lease.specKey
    const rebind = spec !== undefined && key !== undefined && !this.specs.has(key) && this.#raw !== undefined
    if (spec && key) this.specs.set(key, spec)
    const status = this.#status
    if (status === 'disconnected' || (status === 'error' && this.#connectionGaveUp)) this.#restart()
    if (rebind) {
      if (this.#status === 'connected') this.#markBroken('rebind')
      void this.#discard().then(() => this.#joinWhenReady())
    } else {
      this.#joinWhenReady()
    }
  }

  /** Removes a lease: the last one leaves after the grace period (React StrictMode remounts reuse the channel). */
  remove(lease: Lease): void {
    if (!this.leases.delete(lease)) return
    if (this.leases.size === 0) this.#grace.start(() => this.#ctx.idle(this), this.#ctx.graceMs)
    else if (lease.presence) void this.retrack()
    this.#ctx.changed()
  }

  /** Where the stream stands (`null` before any position), and the live status of the current instance. @internal */
  get point(): ResumePoint | null {
    return this.#stream.resumePoint()
  }

  /** @internal */
  get liveStatus(): ResumeStatus | undefined {
    return this.#stream.live
  }

  /**
   * Resumes from `point` when it is older than where the stream stands (tab sharing: a tab
   * joins a channel another tab's lease keeps). A joined instance rejoins from there; `true` when the point moved back. @internal
   */
  rewind(point: ResumePoint): boolean {
    if (!this.#stream.rewind(point)) return false
    if (this.#raw) {
      if (this.#status === 'connected') this.#markBroken('rewind')
      void this.#discard().then(() => this.#joinWhenReady())
    }
    return true
  }

  /** Retries a channel that gave up or was left disconnected by `autoReconnect: false`. */
  retry(): void {
    if (this.closed || !isTerminal(this.#status)) return
    this.#restart()
    this.#joinWhenReady()
  }

  /** Leaves for good. Pending waits reject with `LEASE_RELEASED`. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true
      this.#grace.cancel()
      this.#retry.cancel()
      this.#dispatch('stop')
      this.status.listeners.clear()
      this.users.set([])
      void this.#discard()
    }
    return this.#discarding ?? Promise.resolve()
  }

  /** What the connection said: `ready` rejoins, `down` breaks, `failed` (it gave up) gives up. */
  onConnection(event: ConnectionEvent, error?: Error): void {
    const status = this.#status
    if (this.closed) return
    if (event === 'ready') {
      if (status === 'error' && this.#connectionGaveUp) this.#restart()
      if (isLive(this.#status) && !this.#raw) void this.#join()
    } else if (event === 'down') {
      this.#retry.cancel()
      void this.#discard()
      this.#afterBreak(error as Error, true)
    } else if (isLive(status)) {
      this.#giveUp(error as Error, true)
    }
  }

  #restart(): void {
    this.#attempts = 0
    this.#connectionGaveUp = false
    this.#dispatch('start')
  }

  // ── joining ─────────────────────────────────────────────────────────────────────────────────

  #joinWhenReady(): void {
    if (this.closed || !isLive(this.#status)) return
    if (this.#ctx.connection.ready) void this.#join()
    else this.#ctx.connection.ensureConnected()
  }

  async #join(): Promise<void> {
    if (this.#joining || this.#raw || this.closed) return
    const { client, connection, joinTimeoutMs, positions } = this.#ctx
    this.#joining = true
    try {
      await this.#discarding
      // The token is refreshed BEFORE the (re)join: a join with an expired token is refused.
      await connection.refreshAuth()
      if (this.closed || !connection.ready || !isLive(this.#status) || this.#raw) return
      const options = {
        config: {
          private: this.config.private,
          broadcast: { self: !!this.config.self, ack: false },
          presence: { key: this.config.presenceKey ?? '', enabled: this.kind === 'presence' },
        },
      }
      let raw = client.channel(this.name, options)
      if (raw.joinedOnce) {
        // realtime-js dedups by topic: an instance it still holds (joined by someone else) must go first.
        await client.removeChannel(raw)
        raw = client.channel(this.name, options)
      }
      this.#raw = raw
      this.#systemMessage = undefined
      this.#subscribed = false
      // Until the reply, positioned messages are the previous join's (StreamPosition.join).
      const request: ResumeRequest = { session: this.#session, resume: this.#stream.join() }
      const live = () => raw === this.#raw && !this.#stream.drop
      for (const [key, spec] of this.specs) {
        raw.on('postgres_changes', { ...spec }, (payload: PositionedChange) => {
          if (live()) this.#onChange(key, payload)
        })
      }
      raw.on('broadcast', { event: '*' }, (message: { event: string; payload?: unknown; meta?: Record<string, unknown> }) => {
        if (live()) this.#onBroadcast(message)
      })
      // Joins and leaves are computed from each sync against the users known before it (see #onPresence).
      if (this.kind === 'presence') raw.on('presence', { event: 'sync' }, () => live() && this.#onPresence(raw))
      raw.on('system', {}, (p: { status?: string; message?: string; extension?: string }) => {
        if (raw === this.#raw && p?.status === 'error' && p.extension !== RESUME_KEY) this.#systemMessage = p.message
      })
      // The stream takes the live status, which may come before or after realtime-js reports `SUBSCRIBED`.
      const read = (event: string, payload: unknown) => raw === this.#raw && this.#stream.read(event, payload as RawPayload) && this.#subscribed && this.#live()
      // Instances are single-use (a break discards them), so the point read here is the newest
      // one for this join; realtime-js never rejoins this instance with an older one.
      if (positions && onRawMessage(raw, read)) raw.updateJoinPayload({ [RESUME_KEY]: request })
      raw.subscribe((state, err) => this.#onRawStatus(raw, state, err), joinTimeoutMs)
    } catch (err) {
      this.#afterBreak(normalizeError(err), false)
    } finally {
      this.#joining = false
    }
  }

  #onRawStatus(raw: RealtimeChannel, state: string, err: Error | undefined): void {
    if (raw !== this.#raw || this.closed) return
    if (state === 'SUBSCRIBED') {
      this.#subscribed = true
      // A server that speaks positions says when the channel is live; until then it is joining.
      if (!this.#stream.speaks || this.#stream.live) return this.#live()
      const ms = this.#ctx.joinTimeoutMs
      this.#retry.start(() => this.#onRawStatus(raw, 'TIMED_OUT', new Error(`no live status within ${ms} ms of the join reply`)), ms)
      return
    }
    // CHANNEL_ERROR, TIMED_OUT or CLOSED that we did not ask for: this instance is done.
    const heartbeat = err?.message === 'heartbeat timeout'
    // An unanswered heartbeat means a dead socket: the connection drops it now rather than
    // waiting for a close handshake that will not complete (see Connection.lost).
    if (heartbeat) this.#ctx.connection.lost('heartbeat timeout')
    const socketLevel = heartbeat || !this.#ctx.client.isConnected() || typeof (err?.cause as { code?: unknown } | undefined)?.code === 'number'
    const message = this.#systemMessage ?? err?.message ?? state.toLowerCase()
    const error = createError(state === 'CLOSED' ? 'CHANNEL_CLOSED' : 'CHANNEL_JOIN_FAILED', `channel ${this.name}: ${message}`, { cause: err })
    if (raw !== this.#raw) return // the connection's `down` (from lost) already handled the break
    void this.#discard()
    // A socket-level break: the connection notices too and announces `ready`; the rejoin happens then.
    this.#afterBreak(error, socketLevel)
  }

  /** The channel is live: `connected`, presence re-tracked, and the return after a break reported. */
  #live(): void {
    const status = this.#stream.live
    this.#attempts = 0
    this.#connectionGaveUp = false
    this.#retry.cancel()
    if (isGap(this.#status, 'connected', this.#everConnected)) this.#owed = true
    this.#everConnected = true
    this.#dispatch('up')
    void this.retrack()
    if (!status) {
      if (this.#owed) this.#resync(false) // no positions: any return may have lost events
      return
    }
    const { code, lost } = status
    if (this.#owed || code === ('Gap' satisfies ResumeCode) || lost?.length) {
      // `Resumed` with `lost`: everything was replayed except those kinds (a gap limited to them).
      this.#resync(code === ('Resumed' satisfies ResumeCode) && !lost?.length, { code, reason: status.reason, replayed: status.replayed }, lost)
    }
  }

  #afterBreak(error: Error, socketLevel: boolean): void {
    const status = this.#status
    if (!isLive(status)) return
    this.lastError = error
    if (status === 'connected') this.#markBroken(error.message)
    const policy = this.policy()
    if (!policy.autoReconnect && this.#everConnected) return this.#dispatch('stop')
    if (!socketLevel && ++this.#attempts >= policy.maxAttempts) {
      return this.#giveUp(createError('RECONNECT_EXHAUSTED', `channel ${this.name} gave up after ${this.#attempts} attempts: ${error.message}`, { cause: error }), false)
    }
    if (socketLevel && !this.#ctx.connection.ready) this.#ctx.connection.ensureConnected()
    else this.#retry.start(() => this.#joinWhenReady(), fullJitterDelay(Math.max(1, this.#attempts), policy, this.#ctx.random))
  }

  #giveUp(error: Error, connection: boolean): void {
    this.#retry.cancel()
    this.#connectionGaveUp = connection
    this.lastError = error
    void this.#discard()
    this.#dispatch('exhausted')
  }

  #markBroken(reason: string): void {
    this.#brokenAt = this.#ctx.clock.now()
    this.#breakReason = reason
    this.#dispatch('down')
  }

  #discard(): Promise<void> {
    const raw = this.#raw
    if (raw) {
      this.#raw = undefined
      const done: Promise<void> = this.#ctx.client.removeChannel(raw).then(
        () => {
          if (this.#discarding === done) this.#discarding = undefined
        },
        () => undefined,
      )
      this.#discarding = done
    }
    return this.#discarding ?? Promise.resolve()
  }

  #dispatch(event: StatusEvent): void {
    const previous = this.#status
    const next = transition(previous, event)
    if (next === previous) return
    this.status.set(next)
    deliverStatus(this.leases, next, next === 'error' ? this.lastError : undefined, this.#thrown)
    this.#ctx.changed()
  }

  #resync(resumed: boolean, resume?: GapEvent['resume'], lost?: GapEvent['lost']): void {
    this.#owed = false
    const event: GapEvent = {
      channel: this.name,
      kind: this.kind,
      reason: this.#breakReason,
      brokenAt: this.#brokenAt,
      restoredAt: this.#ctx.clock.now(),
      resumed,
      resume,
      lost,
    }
    deliverReturn(this.leases, event, this.#thrown)
    this.#ctx.gap(event)
  }

  // ── delivery ────────────────────────────────────────────────────────────────────────────────

  #touch(): void {
    this.lastEventAt = this.#ctx.clock.now()
    this.#ctx.counters.messagesIn++
  }

  #onChange(key: string, payload: PositionedChange): void {
    this.#touch()
    const mark = this.#stream.mark
    if (typeof mark?.position === 'number') payload.switchboard = mark as MessageMark
    deliverChange(this.leases, key, payload, this.#thrown)
  }

  #onBroadcast({ event, payload, meta }: { event: string; payload?: unknown; meta?: Record<string, unknown> }): void {
    this.#touch()
    if (meta?.[RESUME_KEY] !== undefined) {
      const { [RESUME_KEY]: _mark, ...rest } = meta
      meta = Object.keys(rest).length > 0 ? rest : undefined
    }
    deliverBroadcast(this.leases, { type: 'broadcast', event, payload, meta }, this.#thrown)
  }

  /**
   * A presence sync: the users now, and who joined or left since the last sync, by user id.
   * Diffing users (not realtime-js's per-presence join/leave events) makes `onJoin`/`onLeave`
   * fire once per user: a second tab, a metadata update (a new presence replacing the old one)
   * or a rejoin after a break (a new instance whose state starts empty) is not a join.
   */
  #onPresence(raw: RealtimeChannel): void {
    this.#touch()
    const before = this.users.getSnapshot()
    const users = presenceUsers(raw.presenceState() as Record<string, Presences>)
    // After a rejoin the server's state comes before our re-track lands: keep showing the user we
    // track (no leave and join of ourselves around every reconnect).
    const self = this.config.presenceKey
    const mine = before.find((u) => u.userId === self)
    if (mine && !users.some((u) => u.userId === self) && [...this.leases].some((l) => l.presence)) {
      users.push(mine)
      users.sort(byUserId)
    }
    const { joined, left } = diffUsers(before, users)
    this.users.set(users)
    deliverPresence(this.leases, this.users.getSnapshot(), joined, left, this.#thrown)
    this.#ctx.changed()
  }

  readonly #thrown = (err: unknown): void => this.#ctx.logger.error('a channel handler threw', { channel: this.name, error: err })

  // ── presence ────────────────────────────────────────────────────────────────────────────────

  /** Sends `track` with the merge of every presence lease (or `untrack` when none is left). */
  retrack(): Promise<void> {
    const raw = this.#raw
    if (this.kind !== 'presence' || !raw || this.#status !== 'connected') return Promise.resolve() // tracked on the next join
    let payload: Record<string, unknown> | undefined
    const now = new Date(this.#ctx.clock.now())
    for (const { presence } of this.leases) if (presence) payload = { ...payload, ...presencePayload(presence.user, presence.metadata, now) }
    this.#ctx.counters.messagesOut++
    return (payload ? raw.track(payload) : raw.untrack()).then(
      (result) => void (result === 'ok' || this.#ctx.logger.warn('presence update not acknowledged', { channel: this.name, result })),
      (err: unknown) => this.#ctx.logger.warn('presence update failed', { channel: this.name, error: err }),
    )
  }

  /** Merges `metadata` into what `leases` track and re-tracks. */
  async updateMetadata(leases: Lease[], metadata: PresenceMetadata): Promise<void> {
    checkBroadcastPayload(metadata, this.#ctx.maxPayloadBytes)
    for (const { presence, released } of leases) {
      if (released || !presence) throw createError('LEASE_RELEASED', 'this presence lease was released')
      presence.metadata = { ...presence.metadata, ...metadata }
    }
    await this.retrack()
  }

  // ── broadcast ───────────────────────────────────────────────────────────────────────────────

  /**
   * Resolves once joined; rejects when the channel ends in `error` or `disconnected` (with its
   * last error), is closed (`LEASE_RELEASED`), or after `timeoutMs` (`CHANNEL_NOT_CONNECTED`).
   */
  whenConnected(timeoutMs?: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = new Timer(this.#ctx.clock)
      const settle = (err?: Error) => {
        off()
        timer.cancel()
        if (err) reject(err)
        else resolve()
      }
      const check = () => {
        const status = this.#status
        if (status === 'connected') settle()
        else if (this.closed) settle(createError('LEASE_RELEASED', `channel ${this.name} was closed`))
        else if (isTerminal(status)) settle(this.lastError ?? createError('CHANNEL_NOT_CONNECTED', `channel ${this.name} is ${status}`))
      }
      const off = this.status.subscribe(check)
      if (timeoutMs !== undefined) {
        timer.start(() => settle(createError('CHANNEL_NOT_CONNECTED', `channel ${this.name} did not connect within ${timeoutMs} ms`, { cause: this.lastError })), timeoutMs)
      }
      check()
    })
  }

  /** Checks, rate-limits, waits for the join, then sends one broadcast. */
  async send(event: string, payload: unknown): Promise<void> {
    if (typeof event !== 'string' || !event || event.length > 128) throw createError('INVALID_ARGUMENT', 'broadcast event must be a string of 1 to 128 characters')
    checkBroadcastPayload(payload, this.#ctx.maxPayloadBytes)
    const wait = this.#bucket.take()
    if (wait > 0) throw createError('RATE_LIMITED', `broadcast rate limit exceeded on ${this.name}; retry in ${wait} ms`, { retryAfterMs: wait })
    await this.whenConnected(this.#ctx.sendTimeoutMs)
    const result = await this.#raw?.send({ type: 'broadcast', event, payload })
    if (result !== 'ok') throw createError('SEND_FAILED', `broadcast on ${this.name} failed: ${result}`)
    this.#ctx.counters.messagesOut++
  }

  info(): ChannelInfo {
    return {
      name: this.name,
      type: this.kind,
      status: this.#status,
      subscribers: this.leases.size,
      createdAt: this.createdAt,
      lastEventAt: this.lastEventAt,
      position: this.#stream.position,
    }
  }
}
