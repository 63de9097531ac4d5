/**
 * The tab's side of a shared connection: a stand-in for realtime-js's `RealtimeClient` that the
 * tab's own `ChannelManager` adopts (`configureRealtime({ client })`), so everything per tab
 * stays exactly as without sharing: leases, handlers, presence users, statuses, gaps, and the
 * stream positions of every channel (deduplication and resume points).
 *
 *   tab's ChannelManager ─ Connection ──▶ TabClient      "socket" open ⇔ the leader's socket is
 *                        └ ManagedChannel ──▶ TabChannel  a member of the host's channel
 *                                                  │ BroadcastChannel
 *                                                  ▼
 *                                   leader tab: Host ─ ChannelManager ─ WebSocket
 *
 * The socket it pretends to be is open while a leader is known and its socket is ready. When
 * the leader goes (closed, frozen, replaced), the tab sees its socket close: its Connection
 * reconnects, every channel rejoins through the new leader with the resume point it tracked, the
 * host resumes each channel from the oldest point of its members, and each tab drops what it
 * already had. Nothing here knows about leases; it only speaks the few methods of realtime-js
 * the manager calls (see `socket-events.ts` and `managed-channel.ts`).
 * @internal
 */
import type { RealtimeClient } from '@supabase/realtime-js'
import type { ResumePoint } from '@switchboard/protocol'
import { postgresSpecKey, type PostgresSpec } from '../naming.js'
import type { Clock, TimerHandle } from '../clock.js'
import type { PresenceUser } from '../presence.js'
import type { ChannelEvent, HostMessage, MemberConfig, TabMessage } from './messages.js'

type Callback = (...args: never[]) => unknown
type StateCallbacks = Record<'open' | 'close' | 'error' | 'message', Array<[string, Callback]>>
type Hook = { onMessage: (event: string, payload: unknown, ref?: unknown, joinRef?: unknown) => unknown }
type SubscribeCallback = (status: string, err?: Error) => void
type SendResult = 'ok' | 'error' | 'timed out'

/** The realtime-js channel options the manager passes to `client.channel()`. */
interface ChannelOptions {
  config?: { private?: boolean; broadcast?: { self?: boolean }; presence?: { key?: string } }
}

export class TabClient {
  /** realtime-js's socket callbacks, iterated like Phoenix does (see `socket-events.ts`). */
  readonly stateChangeCallbacks: StateCallbacks = { open: [], close: [], error: [], message: [] }
  /** The current leader: its host id and since when it leads. */
  leader: { h: string; since: number } | undefined
  /** The resume session the leaders of this browser use (kept across leader changes). */
  session: string | undefined

  /** @internal */
  readonly tab: string
  /** @internal */
  readonly clock: Clock
  readonly #post: (message: TabMessage) => void
  readonly #members = new Map<string, TabChannel>()
  #state: 'closed' | 'connecting' | 'open' = 'closed'
  #hostReady = false
  /** The number of the last message of the leader seen. */
  #n: number | undefined
  #next = 0

  constructor(tab: string, clock: Clock, post: (message: TabMessage) => void) {
    this.tab = tab
    this.clock = clock
    this.#post = post
  }

  // ── what the manager's Connection calls ─────────────────────────────────────────────────────

  isConnected(): boolean {
    return this.#state === 'open'
  }

  connectionState(): string {
    return this.#state
  }

  connect(): void {
    if (this.#state === 'open') return
    this.#state = 'connecting'
    if (this.#hostReady) this.#open()
    else if (this.leader) this.#post({ k: 'connect', h: this.leader.h, tab: this.tab })
  }

  disconnect(): Promise<void> {
    this.#state = 'closed'
    return Promise.resolve()
  }

  /** The leader's host refreshes its own token; tabs have nothing to set. */
  setAuth(): Promise<void> {
    return Promise.resolve()
  }

  sendHeartbeat(): Promise<void> {
    return Promise.resolve()
  }

  channel(name: string, options: ChannelOptions = {}): TabChannel {
    const m = `${this.tab}:${++this.#next}`
    const config = options.config ?? {}
    const member = new TabChannel(this, m, name, { private: !!config.private, self: !!config.broadcast?.self, presenceKey: config.presence?.key ?? '' })
    this.#members.set(m, member)
    return member
  }

  removeChannel(channel: TabChannel): Promise<'ok'> {
    if (this.#members.delete(channel.m)) {
      if (channel.opened && this.leader) this.#post({ k: 'close', h: this.leader.h, m: channel.m })
      channel.end()
    }
    return Promise.resolve('ok')
  }

  // ── from the members ────────────────────────────────────────────────────────────────────────

  /** @internal */
  request(message: TabMessage | undefined): boolean {
    if (!message || !this.leader || this.#state !== 'open') return false
    this.#post(message)
    return true
  }

  /** @internal */
  get host(): string | undefined {
    return this.leader?.h
  }

  // ── from the leader ─────────────────────────────────────────────────────────────────────────

  /** A message on the tabs' BroadcastChannel. */
  receive(message: HostMessage & { n?: number }): void {
    if (message.k === 'leader' && message.h !== this.leader?.h) return this.#onLeader(message)
    if (message.h !== this.leader?.h) return
    // A message of the leader went missing (this tab slept through it): everything rejoins from
    // its own positions, as after a socket drop.
    const n = message.n ?? 0
    if (this.#n !== undefined && n !== this.#n + 1 && this.#state === 'open') this.#lost('messages from the leader tab were missed')
    this.#n = n
    switch (message.k) {
      case 'leader':
        return
      case 'conn':
        this.#hostReady = message.ready
        if (message.ready) {
          if (this.#state === 'connecting') this.#open()
        } else if (this.#state === 'open') {
          this.#lost('the leader tab lost its socket')
        } else if (message.failed && this.#state === 'connecting') {
          this.#fire('close', { code: 1006, reason: 'the leader tab could not connect' })
        }
        return
      case 'ev':
        for (const member of this.#members.values()) if (member.name === message.ch) member.event(message)
        return
      case 'ack':
      case 'reply':
      case 'status':
      case 'fail':
      case 'done':
        this.#members.get(message.m)?.fromHost(message)
    }
  }

  /** Leadership is gone (closed, frozen or replaced): the "socket" closes. */
  leaderLost(): void {
    this.leader = undefined
    this.#n = undefined
    this.#hostReady = false
    if (this.#state === 'open') this.#lost('the leader tab is gone')
  }

  #onLeader(message: Extract<HostMessage, { k: 'leader' }> & { n?: number }): void {
    // A leader that started earlier than the current one lost the lead (a frozen tab thawing).
    if (this.leader && message.since < this.leader.since) return
    this.session = message.session
    if (this.leader) this.leaderLost()
    this.leader = { h: message.h, since: message.since }
    this.#n = message.n
    if (this.#state === 'connecting') this.#post({ k: 'connect', h: message.h, tab: this.tab })
  }

  #open(): void {
    this.#state = 'open'
    this.#fire('open')
  }

  #lost(reason: string): void {
    this.#state = 'closed'
    // The manager drops its instances on the close; any left over break here.
    this.#fire('close', { code: 1006, reason, wasClean: false })
    for (const member of [...this.#members.values()]) member.fail(reason)
  }

  #fire(event: 'open' | 'close', arg?: unknown): void {
    for (const [, callback] of [...this.stateChangeCallbacks[event]]) (callback as (arg?: unknown) => void)(arg)
  }
}

/**
 * One join of one channel by this tab: a member of the host's channel. It plays a realtime-js
 * channel instance for `ManagedChannel`: bindings, the raw-message hook (`raw-messages.ts`), the
 * join payload's resume point, subscribe with a timeout, presence state, track and send.
 */
export class TabChannel {
  joinedOnce = false
  /** @internal the open request went out */
  opened = false
  /** @internal */
  readonly m: string
  /** @internal */
  readonly name: string
  /** Read by `raw-messages.ts`: its hook runs before the bindings, as realtime-js's does. */
  readonly channelAdapter: { getChannel(): Hook }

  readonly #client: TabClient
  readonly #cfg: MemberConfig
  readonly #hook: Hook = { onMessage: (_event, payload) => payload }
  readonly #bindings: Array<{ type: string; filter: Record<string, unknown>; callback: Callback }> = []
  readonly #pending = new Map<number, (result: SendResult) => void>()
  #join: Record<string, unknown> = {}
  #state: 'idle' | 'acked' | 'joined' | 'ended' = 'idle'
  /** Channel events between `ack` and `reply` (replays before the join reply is known). */
  #buffer: ChannelEvent[] = []
  #presence: Record<string, PresenceUser[]> = {}
  #subscribe: SubscribeCallback | undefined
  #timer: TimerHandle | undefined
  #next = 0

  constructor(client: TabClient, m: string, name: string, cfg: MemberConfig) {
    this.#client = client
    this.m = m
    this.name = name
    this.#cfg = cfg
    this.channelAdapter = { getChannel: () => this.#hook }
  }

  on(type: string, filter: Record<string, unknown>, callback: Callback): this {
    this.#bindings.push({ type, filter, callback })
    return this
  }

  updateJoinPayload(payload: Record<string, unknown>): void {
    this.#join = { ...this.#join, ...payload }
  }

  subscribe(callback: SubscribeCallback, timeoutMs = 10_000): this {
    this.joinedOnce = true
    this.#subscribe = callback
    const resume = (this.#join.switchboard as { resume?: ResumePoint | null } | undefined)?.resume ?? null
    const specs = this.#bindings.filter((b) => b.type === 'postgres_changes').map((b) => b.filter as unknown as PostgresSpec)
    const h = this.#client.host
    this.opened = this.#client.request(h ? { k: 'open', h, tab: this.#client.tab, m: this.m, name: this.name, cfg: this.#cfg, specs, resume } : undefined)
    if (!this.opened) {
      queueMicrotask(() => this.#status('CHANNEL_ERROR', new Error('no leader tab')))
      return this
    }
    this.#timer = this.#client.clock.setTimeout(() => this.#status('TIMED_OUT'), timeoutMs)
    return this
  }

  presenceState(): Record<string, PresenceUser[]> {
    return this.#presence
  }

  track(payload: Record<string, unknown>): Promise<SendResult> {
    return this.#request((h, id) => ({ k: 'track', h, m: this.m, id, payload }))
  }

  untrack(): Promise<SendResult> {
    return this.#request((h, id) => ({ k: 'track', h, m: this.m, id, payload: null }))
  }

  send(message: { type: string; event: string; payload?: unknown }): Promise<SendResult> {
    return this.#request((h, id) => ({ k: 'send', h, m: this.m, id, event: message.event, payload: message.payload }))
  }

  // ── from the client ─────────────────────────────────────────────────────────────────────────

  /** @internal */
  fromHost(message: Extract<HostMessage, { m: string }>): void {
    if (this.#state === 'ended') return
    switch (message.k) {
      case 'ack':
        this.#state = 'acked'
        return
      case 'reply': {
        if (this.#state !== 'acked') return
        this.#client.clock.clearTimeout(this.#timer)
        this.#raw('phx_reply', { status: 'ok', response: message.epoch ? { switchboard: { epoch: message.epoch } } : {} })
        this.#state = 'joined'
        const buffered = this.#buffer
        this.#buffer = []
        for (const event of buffered) this.#deliver(event)
        this.#subscribe?.('SUBSCRIBED')
        if (message.status) this.#system(message.status)
        if (message.users) this.#deliver({ e: 'presence', users: message.users })
        return
      }
      case 'status':
        if (this.#state === 'joined') this.#system(message.status)
        return
      case 'fail':
        return this.fail(message.message)
      case 'done':
        this.#pending.get(message.id)?.(message.result)
        this.#pending.delete(message.id)
    }
  }

  /** @internal a channel-wide event of the host */
  event(event: ChannelEvent): void {
    if (this.#state === 'acked') this.#buffer.push(event)
    else if (this.#state === 'joined') this.#deliver(event)
  }

  /** @internal the host failed this member, or the leader is gone: the instance is broken. */
  fail(reason: string): void {
    if (this.#state === 'ended') return
    this.end()
    this.#status('CHANNEL_ERROR', new Error(reason))
  }

  /** @internal */
  end(): void {
    this.#state = 'ended'
    this.#client.clock.clearTimeout(this.#timer)
    this.#buffer = []
    for (const resolve of this.#pending.values()) resolve('error')
    this.#pending.clear()
  }

  #deliver(event: ChannelEvent): void {
    if (event.e === 'change') {
      this.#raw('postgres_changes', { ids: [event.key], switchboard: event.mark })
      this.#emit('postgres_changes', (f) => postgresSpecKey(f as unknown as PostgresSpec) === event.key, event.payload)
    } else if (event.e === 'bcast') {
      if (event.except === this.m) return
      const meta = event.mark ? { ...event.meta, switchboard: event.mark } : event.meta
      const message = { type: 'broadcast', event: event.event, payload: event.payload, meta }
      this.#raw('broadcast', message)
      this.#emit('broadcast', (f) => f.event === '*' || f.event === event.event, message)
    } else {
      this.#presence = Object.fromEntries(event.users.map((user) => [user.userId, [user]]))
      this.#emit('presence', (f) => f.event === 'sync')
    }
  }

  #system(status: object): void {
    this.#raw('system', status)
    this.#emit('system', () => true, status)
  }

  #raw(event: string, payload: unknown): void {
    this.#hook.onMessage(event, payload)
  }

  #emit(type: string, match: (filter: Record<string, unknown>) => boolean, payload?: unknown): void {
    for (const binding of this.#bindings) if (binding.type === type && match(binding.filter)) (binding.callback as (p: unknown) => void)(payload)
  }

  #status(status: string, err?: Error): void {
    const callback = this.#subscribe
    if (status !== 'SUBSCRIBED') this.#subscribe = undefined
    callback?.(status, err)
  }

  #request(build: (h: string, id: number) => TabMessage): Promise<SendResult> {
    const h = this.#client.host
    if (this.#state !== 'joined' || !h) return Promise.resolve('error')
    const id = ++this.#next
    return new Promise((resolve) => {
      this.#pending.set(id, resolve)
      if (!this.#client.request(build(h, id))) {
        this.#pending.delete(id)
        resolve('error')
      }
    })
  }
}

/** The tab client as the manager's `client` option. */
export const asRealtimeClient = (client: TabClient): RealtimeClient => client as unknown as RealtimeClient
