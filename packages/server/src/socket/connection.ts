/**
 * One WebSocket connection: decodes frames, answers heartbeats, routes by topic to its
 * channels, enforces the per-socket limits and owns the outbound queue.
 *
 * Limits (limits.ts): channels per socket and joins/s are checked at `phx_join`; events/s by
 * each channel through `allowEvent`; frame size by ws itself (`maxPayload`, close 1009); a
 * slow reader by the outbound queue (close 1013). Malformed frames are logged and dropped:
 * the connection stays open, as on Supabase.
 */
import type { Duplex } from 'node:stream'
import type { WebSocket, RawData } from 'ws'
import {
  ErrorCode,
  PHOENIX_TOPIC,
  RealtimeError,
  parseJoinPayload,
  subTopicOf,
  type InboundMessage,
  type Serializer,
} from '@switchboard/protocol'
import { Channel } from '../channel/channel.js'
import type { ChannelHost } from '../channel/channel-host.js'
import { RateWindow } from '../rate-window.js'
import type { Tenant } from '../tenant/tenant.js'
import { OutboundQueue, type FlushScheduler, type OutFrame } from './outbound-queue.js'

/** WebSocket close codes used by the server. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  tryAgainLater: 1013,
  serviceRestart: 1012,
} as const

let nextConnectionId = 1

/** What the upgrade request said about the client (shown by the inspector; never the apikey). */
export interface ClientInfo {
  vsn: string
  /** `x-client-info` or `user-agent`, cut to 120 characters. */
  agent: string | null
  remoteAddress: string | null
}

export class Connection implements ChannelHost {
  readonly id = nextConnectionId++
  readonly serializer: Serializer
  readonly tenant: Tenant
  readonly connectToken: string
  readonly client: ClientInfo
  readonly connectedAt: number
  /** Last time a frame arrived (ms), read by the server's idle sweeper. */
  lastFrameAt: number
  /** `performance.now()` when the outbound queue overflowed (slow consumer), or when the socket closed: the inspector's verdicts. */
  slowConsumerAt: number | null = null
  closedAt: number | null = null
  readonly #ws: WebSocket
  readonly #queue: OutboundQueue
  readonly #channels = new Map<string, Channel>()
  readonly #joins: RateWindow
  readonly #events: RateWindow
  #closed = false

  constructor(ws: WebSocket, rawSocket: Duplex, tenant: Tenant, serializer: Serializer, connectToken: string, scheduler: FlushScheduler, client: ClientInfo = { vsn: serializer.vsn, agent: null, remoteAddress: null }) {
    this.#ws = ws
    this.tenant = tenant
    this.serializer = serializer
    this.connectToken = connectToken
    this.client = client
    this.lastFrameAt = this.connectedAt = tenant.clock.now()
    // Limits are read at every hit: a tenant's quota changed by the admin API applies at once.
    this.#joins = new RateWindow(() => tenant.limits.maxJoinsPerSecond, 1_000, tenant.clock)
    this.#events = new RateWindow(() => tenant.limits.maxEventsPerSecond, 1_000, tenant.clock)
    this.#queue = new OutboundQueue(ws, rawSocket, scheduler, tenant.limits.maxBufferedBytesPerSocket, () => {
      this.slowConsumerAt = performance.now()
      tenant.metrics.countError(ErrorCode.SlowConsumer)
      tenant.logger.warn({ connection: this.id }, 'slow consumer disconnected')
      this.close(CloseCode.tryAgainLater, 'slow consumer')
    }, tenant.metrics.delivered)
    tenant.metrics.connections.inc()
    ws.on('message', (data: RawData, isBinary: boolean) => this.#onFrame(data, isBinary))
    ws.on('close', () => this.#onClosed())
    ws.on('error', (error) => {
      if ((error as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') tenant.metrics.countError(ErrorCode.FrameTooLarge)
      tenant.logger.debug({ err: error, connection: this.id }, 'websocket error')
    })
  }

  get channelCount(): number {
    return this.#channels.size
  }

  /** The joined (and joining) channels, by topic. */
  get channels(): ReadonlyMap<string, Channel> {
    return this.#channels
  }

  /** Bytes queued for this socket and not yet written (the slow-consumer bound applies to it). */
  get queuedBytes(): number {
    return this.#queue.queuedBytes
  }

  send(frame: OutFrame): void {
    this.#queue.push(frame)
  }

  allowEvent(bytes = 0): boolean {
    return this.#events.hit() && this.tenant.quota.allowEvent(bytes)
  }

  channelClosed(topic: string, channel: object): void {
    if (this.#channels.get(topic) === channel) this.#channels.delete(topic)
  }

  /** Closes the socket (channels are disposed when the close completes). */
  close(code: number, reason: string): void {
    if (this.#closed) return
    this.closedAt ??= performance.now()
    // Frames queued this turn (e.g. the join error that explains a 1001) go out before the
    // close frame; once ws is closing, the queue's flush would drop them.
    this.#queue.flush()
    this.#ws.close(code, reason)
    // A peer that never answers the close handshake must not keep the socket forever.
    this.tenant.clock.setTimeout(() => this.#ws.terminate(), 5_000)
  }

  /** The tenant's keys changed: every channel verifies its token again (channel.ts `recheckToken`). */
  recheckTokens(): void {
    for (const channel of this.#channels.values()) void channel.recheckToken()
  }

  /** Graceful drain (shutdown): tell every channel, then close with 1012 so clients reconnect. */
  drain(): void {
    this.disconnect('Server requested disconnect', CloseCode.serviceRestart, 'server shutting down')
  }

  /** Tells every channel `message` (a `system` push), then closes the socket with `code` (the inspector's disconnect, shutdown; a removed or suspended tenant's sockets: 1001, their reconnect is refused before the upgrade). */
  disconnect(message: string, code: number, reason: string): void {
    for (const channel of this.#channels.values()) {
      channel.push('system', { extension: 'system', status: 'ok', message, channel: channel.subTopic })
    }
    for (const channel of [...this.#channels.values()]) channel.dispose()
    this.#queue.flush()
    this.close(code, reason)
  }

  #onFrame(data: RawData, isBinary: boolean): void {
    this.lastFrameAt = this.tenant.clock.now()
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
    const decoded = this.serializer.decode(bytes, isBinary)
    if (!decoded.ok) {
      this.tenant.metrics.countError(ErrorCode.MalformedWebSocketMessage)
      this.tenant.logger.info({ connection: this.id, error: decoded.error }, 'MalformedWebSocketMessage')
      return
    }
    const message = decoded.message
    if (message.topic === PHOENIX_TOPIC) {
      if (message.event === 'heartbeat') this.#reply(message, 'ok', {})
      else this.#unmatched(message)
      return
    }
    if (message.event === 'phx_join') {
      this.#join(message)
      return
    }
    const channel = this.#channels.get(message.topic)
    if (channel) {
      channel.handle(message, bytes.length)
      return
    }
    // Leaving a topic that is not joined is fine (Supabase replies ok); anything else is not.
    if (message.event === 'phx_leave') this.#reply(message, 'ok', {})
    else this.#unmatched(message)
  }

  #join(message: InboundMessage): void {
    const { tenant } = this
    const joinRef = message.joinRef ?? message.ref ?? ''
    const refuse = (error: RealtimeError) => {
      tenant.metrics.joins.inc({ result: 'error' })
      tenant.metrics.countError(error.code)
      this.send({ data: this.serializer.encode(joinRef, message.ref, message.topic, 'phx_reply', { status: 'error', response: { reason: error.reason } }), binary: false })
    }
    const subTopic = subTopicOf(message.topic)
    if (subTopic === null) {
      tenant.metrics.countError(ErrorCode.UnmatchedTopic)
      this.#reply(message, 'error', { reason: 'unmatched topic' })
      return
    }
    if (tenant.shuttingDown) return refuse(new RealtimeError(ErrorCode.RealtimeRestarting, 'Realtime is restarting, please standby'))
    if (subTopic.length === 0) return refuse(new RealtimeError(ErrorCode.TopicNameRequired, 'You must provide a topic name'))
    if (!this.#joins.hit() || !tenant.quota.allowJoin()) {
      refuse(new RealtimeError(ErrorCode.ClientJoinRateLimitReached, 'Too many joins per second'))
      this.close(CloseCode.goingAway, 'too many joins per second')
      return
    }
    const previous = this.#channels.get(message.topic)
    if (!previous && this.#channels.size >= tenant.limits.maxChannelsPerSocket) {
      return refuse(new RealtimeError(ErrorCode.ChannelRateLimitReached, 'Too many channels'))
    }
    const parsed = parseJoinPayload(message.payload)
    if (!parsed.ok) return refuse(parsed.error)
    if (tenant.privateOnly && !parsed.value.config.private) {
      return refuse(new RealtimeError(ErrorCode.PrivateOnly, 'This project only allows private channels'))
    }
    // Duplicate join: the old channel closes under its own join_ref, the new one proceeds.
    previous?.supersede()
    const channel = new Channel(this, message.topic, subTopic, joinRef, parsed.value)
    this.#channels.set(message.topic, channel)
    void channel.join(parsed.value.accessToken)
  }

  // Phoenix answers a push on a topic the socket has not joined without a join_ref (§2.5): a
  // stale join_ref echoed back would make realtime-js drop the reply as outdated.
  #unmatched(message: InboundMessage): void {
    this.send({ data: this.serializer.encode(null, message.ref, message.topic, 'phx_reply', { status: 'error', response: { reason: 'unmatched topic' } }), binary: false })
  }

  #reply(message: InboundMessage, status: 'ok' | 'error', response: unknown): void {
    this.send({ data: this.serializer.encode(message.joinRef, message.ref, message.topic, 'phx_reply', { status, response }), binary: false })
  }

  #onClosed(): void {
    if (this.#closed) return
    this.#closed = true
    this.closedAt = performance.now()
    this.#queue.close()
    for (const channel of [...this.#channels.values()]) channel.dispose()
    this.#channels.clear()
    this.tenant.metrics.connections.dec()
  }
}
