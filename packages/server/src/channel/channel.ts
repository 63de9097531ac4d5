/**
 * One topic joined on one socket: the join procedure, replies and pushes with the right
 * refs, and the client events of a joined channel (broadcast, presence, access_token,
 * phx_leave). Broadcast and presence details live in broadcast-events.ts and
 * presence-events.ts; this file owns state and identity.
 *
 * Wire behaviour follows supabase-protocol.md §2: replies echo `ref` with the current
 * `join_ref`; pushes carry the `join_ref` and a null `ref`; a server-side shutdown sends a
 * `system` error and then `phx_close` `[join_ref, join_ref, topic, "phx_close", {}]`.
 */
import { ErrorCode, RealtimeError, type InboundMessage, type JoinPayload } from '@switchboard/protocol'
import { createAuthContext, isServiceRole, type AuthContext } from '../auth/auth-context.js'
import { expiredError } from '../auth/jwt-verifier.js'
import type { ClockTimer } from '../clock.js'
import { topicKey as makeTopicKey, toOutFrame, type FanoutSubscriber } from '../broadcast/topic-registry.js'
import type { OutFrame } from '../socket/outbound-queue.js'
import type { ChangePosition, ChangeSubscriber } from '../tenant/tenant.js'
import type { ChannelHost } from './channel-host.js'
import { ChannelState, isClosed, isJoined, transition } from './channel-state.js'
import { handleBroadcast } from './broadcast-events.js'
import { handlePresence, leavePresence } from './presence-events.js'
import { postgresChangesReply } from './postgres-bindings.js'
import { MAX_HELD_FRAMES, ResumeCode, pushResumeStatus, resume, type HeldFrame } from './channel-resume.js'
import { POSITION_KEY } from '../replay/replay-entry.js'

/** Read permissions of a private channel; public channels can read everything. */
interface ReadPermissions {
  broadcast: boolean
  presence: boolean
}

let nextChannelId = 1

export class Channel implements FanoutSubscriber, ChangeSubscriber {
  readonly id = nextChannelId++
  readonly topic: string
  readonly subTopic: string
  readonly joinRef: string
  readonly config: JoinPayload['config']
  readonly topicKey: string
  readonly host: ChannelHost
  state: ChannelState = ChannelState.joining
  auth: AuthContext | null = null
  /** Presence key: `config.presence.key`, or a random UUID when empty (as Supabase). */
  readonly presenceKey: string
  /** Set by the first track even when `config.presence.enabled` was false. */
  presenceTracked = false
  read: ReadPermissions = { broadcast: true, presence: true }
  /** The channel asked for positions (`switchboard` join key): its messages carry them. */
  readonly wantsPositions: boolean
  /** The client's resume session (excludes its own broadcasts from replay when `self` is off). */
  readonly session: string | null
  readonly #resumeFrom: { epoch: string; position: number } | null
  /** Live frames held while a resume replays the log ('overflow' past MAX_HELD_FRAMES). */
  #held: HeldFrame[] | 'overflow' | null = null
  /** Cached write checks of a private channel, per extension; reset on token refresh. */
  writeChecks = new Map<'broadcast' | 'presence', Promise<boolean>>()
  #expiryTimer: ClockTimer | null = null

  constructor(host: ChannelHost, topic: string, subTopic: string, joinRef: string, payload: JoinPayload) {
    this.host = host
    this.topic = topic
    this.subTopic = subTopic
    this.joinRef = joinRef
    this.config = payload.config
    this.topicKey = makeTopicKey(subTopic, payload.config.private)
    this.presenceKey = payload.config.presence.key || crypto.randomUUID()
    this.wantsPositions = payload.switchboard !== null
    this.session = payload.switchboard?.session ?? null
    this.#resumeFrom = payload.switchboard?.resume ?? null
  }

  get serializer() {
    return this.host.serializer
  }

  get tenant() {
    return this.host.tenant
  }

  get isPrivate(): boolean {
    return this.config.private
  }

  get receivesBroadcast(): boolean {
    return isJoined(this.state) && this.read.broadcast
  }

  get receivesPresence(): boolean {
    return isJoined(this.state) && this.read.presence
  }

  enqueue(frame: OutFrame, position: number): void {
    const held = this.#held
    if (held === null) this.host.send(frame)
    else if (held !== 'overflow') {
      if (held.length < MAX_HELD_FRAMES) held.push({ frame, position })
      else this.#held = 'overflow'
    }
  }

  /** Ends a resume's hold: frames go straight to the socket again. */
  stopHolding(): void {
    this.#held = null
  }

  // ─── join ───────────────────────────────────────────────────────────────────────────────

  /**
   * Verifies the token, authorizes a private channel, then registers the channel and replies.
   * Never throws: every failure becomes an error reply with Supabase's reason.
   */
  async join(accessToken: string | null): Promise<void> {
    const { tenant } = this
    try {
      // An absent token, or a new-style `sb_` key, means "act as the socket's apikey" (§6.1).
      const token = accessToken && !accessToken.startsWith('sb_') ? accessToken : this.host.connectToken
      const auth = createAuthContext(await tenant.verifier.verify(token))
      if (this.isPrivate && !isServiceRole(auth)) {
        const wantPresence = this.config.presence.enabled
        const read = await tenant.authorizer.authorizeRead(this.subTopic, auth, wantPresence ? ['broadcast', 'presence'] : ['broadcast'])
        if (!read.broadcast && !read.presence) {
          throw new RealtimeError(ErrorCode.Unauthorized, `You do not have permissions to read from this Channel topic: ${this.subTopic}`)
        }
        // Presence-read not evaluated yet (presence off at join) is decided by the first track.
        this.read = { broadcast: read.broadcast, presence: wantPresence ? read.presence : false }
      }
      if (isClosed(this.state)) return // superseded by a newer join of the same topic meanwhile
      this.auth = auth
    } catch (error) {
      this.#failJoin(error)
      return
    }
    this.state = transition(this.state, ChannelState.joined)
    if (this.#resumeFrom) this.#held = []
    const startPosition = tenant.replayLog.lastSeq
    tenant.topics.add(this.topicKey, this)
    tenant.metrics.channels.inc()
    tenant.metrics.joins.inc({ result: 'ok' })
    this.#scheduleExpiry()
    const engine = tenant.postgresChanges
    const response: Record<string, unknown> = { postgres_changes: postgresChangesReply(this.config.postgresChanges, engine) }
    // Tells a resuming client this server speaks positions, so it waits for the Resumed/Gap
    // status instead of assuming a gap (what it must do against a server that ignores the key).
    if (this.wantsPositions) response.switchboard = { epoch: tenant.replayLog.epoch, resuming: this.#resumeFrom !== null }
    this.#reply(this.joinRef, 'ok', response)
    if (this.config.presence.enabled && this.read.presence) {
      this.push('presence_state', tenant.presence.state(this.topicKey))
    }
    if (this.wantsPositions && !this.#resumeFrom) pushResumeStatus(this, ResumeCode.fresh, startPosition)
    const subscribed = this.config.postgresChanges.length > 0 ? this.#subscribePostgresChanges() : Promise.resolve()
    // Replay starts once the Postgres Changes bindings are live, so nothing falls between them.
    if (this.#resumeFrom) void subscribed.then(() => resume(this, this.#resumeFrom!, () => this.#held ?? []))
  }

  async #subscribePostgresChanges(): Promise<void> {
    const engine = this.tenant.postgresChanges
    if (!engine) {
      this.systemMessage('error', 'Postgres Changes are not enabled on this server')
      return
    }
    try {
      await engine.subscribe(this, this.config.postgresChanges, this.auth!)
    } catch (error) {
      this.tenant.logger.error({ err: error, topic: this.topic }, 'postgres_changes subscribe failed')
      this.systemMessage('error', 'Unable to subscribe to changes with given parameters')
    }
  }

  #failJoin(error: unknown): void {
    const realtimeError = error instanceof RealtimeError ? error : new RealtimeError(ErrorCode.UnknownErrorOnChannel, 'Unknown Error on Channel', { cause: error })
    if (!(error instanceof RealtimeError)) this.tenant.logger.error({ err: error, topic: this.topic }, 'join failed')
    this.tenant.metrics.joins.inc({ result: 'error' })
    this.tenant.metrics.countError(realtimeError.code)
    if (!isClosed(this.state)) this.#reply(this.joinRef, 'error', { reason: realtimeError.reason })
    this.#close()
  }

  // ─── client events of a joined channel ──────────────────────────────────────────────────

  /** Handles one client event on this channel (the connection has already routed by topic). */
  handle(message: InboundMessage, frameBytes: number): void {
    if (message.event === 'phx_leave') {
      this.reply(message.ref, 'ok', {})
      this.leave()
      return
    }
    if (!isJoined(this.state)) {
      this.reply(message.ref, 'error', { reason: 'unmatched topic' })
      return
    }
    if (!this.host.allowEvent()) {
      this.tenant.metrics.countError(ErrorCode.TooManyEvents)
      this.shutdown('Too many messages per second')
      return
    }
    switch (message.event) {
      case 'broadcast':
        handleBroadcast(this, message, frameBytes)
        return
      case 'presence':
        handlePresence(this, message, frameBytes)
        return
      case 'access_token':
        void this.#refreshToken(message.payload)
        return
      default:
        this.tenant.metrics.countError(ErrorCode.UnknownEvent)
        this.reply(message.ref, 'error', { reason: `${ErrorCode.UnknownEvent}: unknown event ${JSON.stringify(message.event).slice(0, 100)}` })
    }
  }

  /**
   * `access_token` (§2.8): re-verify, rebuild claims, re-check private read permissions, move
   * the Postgres Changes subscription to the new identity. Any failure shuts the channel.
   */
  async #refreshToken(payload: unknown): Promise<void> {
    const token = (payload as { access_token?: unknown } | null)?.access_token
    if (typeof token !== 'string' || token.startsWith('sb_')) return
    try {
      const auth = createAuthContext(await this.tenant.verifier.verify(token))
      if (this.isPrivate && !isServiceRole(auth)) {
        const read = await this.tenant.authorizer.authorizeRead(this.subTopic, auth, this.read.presence ? ['broadcast', 'presence'] : ['broadcast'])
        if ((this.read.broadcast && !read.broadcast) || (this.read.presence && !read.presence)) {
          this.shutdown(`You no longer have permission to read from this Channel topic: ${this.subTopic}`)
          return
        }
      }
      if (!isJoined(this.state)) return
      this.auth = auth
      this.writeChecks.clear()
      this.#scheduleExpiry()
      this.tenant.postgresChanges?.updateAuth(this, auth)
    } catch (error) {
      const message = error instanceof RealtimeError ? error.message : 'The token provided is not a valid JWT'
      if (error instanceof RealtimeError) this.tenant.metrics.countError(error.code)
      this.shutdown(message)
    }
  }

  #scheduleExpiry(): void {
    const { clock } = this.tenant
    if (this.#expiryTimer) clock.clearTimeout(this.#expiryTimer)
    const expiresAt = this.auth!.expiresAt
    // Timers cannot be longer than ~24.8 days; a token valid longer is re-checked then.
    const delay = Math.min(Math.max(0, expiresAt - clock.now()), 2 ** 31 - 1)
    this.#expiryTimer = clock.setTimeout(() => {
      if (clock.now() < expiresAt) return this.#scheduleExpiry()
      this.shutdown(expiredError(expiresAt / 1000, clock.now()).message)
    }, delay)
  }

  // ─── outbound ───────────────────────────────────────────────────────────────────────────

  /** A reply to a client push (`phx_reply`), carrying the current join_ref. */
  reply(ref: string | null, status: 'ok' | 'error', response: unknown): void {
    this.#reply(ref, status, response)
  }

  #reply(ref: string | null, status: 'ok' | 'error', response: unknown): void {
    this.host.send({ data: this.serializer.encode(this.joinRef, ref, this.topic, 'phx_reply', { status, response }), binary: false })
  }

  /** A server push on this channel (join_ref set, ref null). */
  push(event: string, payload: unknown): void {
    this.host.send({ data: this.serializer.encode(this.joinRef, null, this.topic, event, payload), binary: false })
  }

  deliverChange(ids: readonly number[], dataJson: string, position: ChangePosition): void {
    if (!isJoined(this.state)) return
    this.enqueue(this.changeFrame(ids, dataJson, position.seq), position.seq)
  }

  /** A `postgres_changes` frame; the position rides next to `ids` and `data`, which realtime-js ignores. */
  changeFrame(ids: readonly number[], dataJson: string, position: number): OutFrame {
    const positionField = this.wantsPositions && position > 0 ? `,"${POSITION_KEY}":{"position":${position}}` : ''
    const payload = `{"ids":[${ids.join(',')}],"data":${dataJson}${positionField}}`
    return toOutFrame(this.serializer.encodeJsonPayload(null, null, this.topic, 'postgres_changes', payload))!
  }

  systemMessage(status: 'ok' | 'error', message: string): void {
    if (!isJoined(this.state)) return
    this.push('system', { extension: 'postgres_changes', status, message, channel: this.subTopic })
  }

  // ─── ending ─────────────────────────────────────────────────────────────────────────────

  /** Client asked to leave: `phx_close` follows the ok reply. */
  leave(): void {
    if (isClosed(this.state)) return
    this.#sendClose()
    this.#close()
  }

  /** Server-side end (§2.5): a `system` error with the reason, then `phx_close`. */
  shutdown(message: string): void {
    if (isClosed(this.state)) return
    this.push('system', { extension: 'system', status: 'error', message, channel: this.subTopic })
    this.#sendClose()
    this.#close()
  }

  /**
   * A newer join of the same topic replaces this one: close it under its own join_ref, also
   * while its join is still being authorized (it then never gets a reply, and realtime-js
   * ignores a close for a join_ref it has moved on from).
   */
  supersede(): void {
    if (isClosed(this.state)) return
    this.#sendClose()
    this.#close()
  }

  /** The socket is gone: release everything, send nothing. */
  dispose(): void {
    this.#close()
  }

  #sendClose(): void {
    this.host.send({ data: this.serializer.encode(this.joinRef, this.joinRef, this.topic, 'phx_close', {}), binary: false })
  }

  #close(): void {
    const wasJoined = isJoined(this.state)
    if (isClosed(this.state)) return
    this.state = transition(this.state, ChannelState.closed)
    const { tenant } = this
    if (this.#expiryTimer) tenant.clock.clearTimeout(this.#expiryTimer)
    if (wasJoined) {
      tenant.topics.remove(this.topicKey, this)
      tenant.metrics.channels.dec()
      leavePresence(this)
      if (this.config.postgresChanges.length > 0) tenant.postgresChanges?.unsubscribe(this)
    }
    this.host.channelClosed(this.topic, this)
  }
}
