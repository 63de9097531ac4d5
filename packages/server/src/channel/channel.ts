/**
 * One topic joined on one socket: the join procedure and the lifecycle (channel-state.ts),
 * replies and pushes with the right refs, and the routing of client events to the features
 * that own their state (broadcast, presence, postgres_changes, the feed into the tenant log).
 * Features see the channel through its port (channel-port.ts).
 *
 * The join, in order:
 *   verify the token ─▶ authorize a private channel ─▶ [wait: validate the bindings]
 *   ─▶ reply ok + presence_state (joined; start position taken) ─▶ [validate the bindings]
 *   ─▶ go live: register the bindings at the log's position and replay what is owed since the
 *      start position (ChannelFeed) ─▶ status (live)
 *
 * Wire behaviour follows supabase-protocol.md §2: replies echo `ref` with the current
 * `join_ref`; pushes carry the `join_ref` and a null `ref`; a server-side shutdown sends a
 * `system` error and then `phx_close` `[join_ref, join_ref, topic, "phx_close", {}]`.
 */
import { ErrorCode, RealtimeError, type InboundMessage, type JoinConfig, type JoinPayload, type ResumePoint } from '@switchboard/protocol'
import { createAuthContext, isServiceRole, type AuthContext } from '../auth/auth-context.js'
import { expiredError } from '../auth/jwt-verifier.js'
import type { ClockTimer } from '../clock.js'
import { topicKey as makeTopicKey, type FanoutSubscriber } from '../broadcast/topic-registry.js'
import type { ChangeData } from '../cdc/change-payload.js'
import type { ChangeSubscriber } from '../cdc/postgres-changes-service.js'
import type { Mark } from '../hub/log-entry.js'
import type { OutFrame } from '../socket/outbound-queue.js'
import { ChangeFrameEncoder } from './change-frame.js'
import type { ChannelHost } from './channel-host.js'
import type { ChannelPort, ReadPermissions } from './channel-port.js'
import { ChannelState, isClosed, isJoined, transition } from './channel-state.js'
import { handleBroadcast } from './broadcast-feature.js'
import { checkReplayRequest, replayStoredBroadcasts } from './broadcast-replay.js'
import { ChangesFeature } from './changes-feature.js'
import { ChannelFeed, REBUILD_WAIT_MS, type FeedStart } from './channel-feed.js'
import { PresenceFeature } from './presence-feature.js'
import { announceReplicationReady } from './replication-ready.js'
import { WritePermissions } from './write-permission.js'

let nextChannelId = 1

export class Channel implements ChannelPort, FanoutSubscriber, ChangeSubscriber {
  readonly id = nextChannelId++
  readonly topic: string
  readonly subTopic: string
  readonly joinRef: string
  readonly config: JoinConfig
  readonly topicKey: string
  readonly host: ChannelHost
  /** Presence key: `config.presence.key`, or a random UUID when empty (as Supabase). */
  readonly presenceKey: string
  /** The channel asked for positions (`switchboard` join key): its messages carry them. */
  readonly wantsPositions: boolean
  readonly session: string | null
  #state: ChannelState = ChannelState.joining
  #auth: AuthContext | null = null
  /** The token `#auth` came from: verified again when the tenant's keys change (recheckToken). */
  #token: string | null = null
  #read: ReadPermissions = { broadcast: true, presence: true }
  readonly #resumeFrom: ResumePoint | null
  #feed: ChannelFeed | null = null
  readonly #changes: ChangesFeature
  readonly #presence: PresenceFeature
  readonly #writes: WritePermissions
  #expiryTimer: ClockTimer | null = null
  /** Made on the first change delivered (change-frame.ts). */
  #changeFrames: ChangeFrameEncoder | null = null

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
    this.#changes = new ChangesFeature(this)
    this.#presence = new PresenceFeature(this)
    this.#writes = new WritePermissions(subTopic, payload.config.private, host.tenant.authorizer, host.tenant.logger)
  }

  // ─── the port ───────────────────────────────────────────────────────────────────────────

  get state(): ChannelState {
    return this.#state
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

  get isJoined(): boolean {
    return isJoined(this.#state)
  }

  get auth(): AuthContext {
    if (!this.#auth) throw new Error('channel not authorized yet')
    return this.#auth
  }

  get read(): Readonly<ReadPermissions> {
    return this.#read
  }

  get hasChangeBindings(): boolean {
    return this.#changes.registered
  }

  get fanout(): FanoutSubscriber {
    return this
  }

  get changeSubscriber(): ChangeSubscriber {
    return this
  }

  get receivesBroadcast(): boolean {
    return isJoined(this.#state) && this.#read.broadcast
  }

  get receivesPresence(): boolean {
    return isJoined(this.#state) && this.#read.presence
  }

  writeAllowed(extension: 'broadcast' | 'presence'): boolean | Promise<boolean> {
    return this.#writes.allowed(this.auth, extension)
  }

  grantPresenceRead(granted: boolean): void {
    this.#read = { ...this.#read, presence: granted }
  }

  send(frame: OutFrame): void {
    this.host.send(frame)
  }

  /** A fan-out frame from the topic registry (broadcasts with their mark, presence diffs without). */
  enqueue(frame: OutFrame, mark: Mark | null): void {
    if (this.#feed) this.#feed.enqueue(frame, mark)
  }

  // ─── join ───────────────────────────────────────────────────────────────────────────────

  /**
   * Verifies the token, authorizes a private channel, replies, then goes live. Never throws:
   * every failure becomes an error reply with Supabase's reason.
   */
  async join(accessToken: string | null): Promise<void> {
    const { tenant } = this
    try {
      checkReplayRequest(this)
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
        this.#read = { broadcast: read.broadcast, presence: wantPresence ? read.presence : false }
      }
      if (isClosed(this.#state)) return // superseded by a newer join of the same topic meanwhile
      this.#auth = auth
      this.#token = token
      if (this.#changes.wanted && this.config.postgresChangesOptions.wait) await this.#changes.prepareBeforeReply()
      // In a cluster the node must receive the topic before the channel takes its start position.
      const hosting = tenant.hub.hostTopic(this.topicKey)
      if (hosting) await hosting
      if (isClosed(this.#state)) return
    } catch (error) {
      this.#failJoin(error)
      return
    }
    this.#state = transition(this.#state, ChannelState.joined)
    // The start position and the topic registration are one synchronous step: every broadcast
    // after the position either reaches the channel live or is in the log it replays.
    const startPosition = tenant.hub.log.lastSeq
    this.#feed = new ChannelFeed(this, this.#feedStart(startPosition))
    tenant.hub.topics.add(this.topicKey, this)
    tenant.metrics.channels.inc()
    tenant.metrics.joins.inc({ result: 'ok' })
    this.#scheduleExpiry()
    const response: Record<string, unknown> = { postgres_changes: this.#changes.replyBindings() }
    // Tells a client this server speaks positions, so it waits for the Fresh/Resumed/Gap
    // status (the moment the channel is live) instead of trusting the reply.
    if (this.wantsPositions) response.switchboard = { epoch: tenant.hub.log.epoch, resuming: this.#resumeFrom !== null }
    this.reply(this.joinRef, 'ok', response)
    if (this.config.presence.enabled && this.#read.presence) {
      this.push('presence_state', tenant.hub.presenceState(this.topicKey))
    }
    announceReplicationReady(this)
    void replayStoredBroadcasts(this)
    await this.#goLive()
  }

  #feedStart(joinPosition: number): FeedStart {
    if (this.#resumeFrom) return { kind: 'resume', point: this.#resumeFrom }
    return this.wantsPositions ? { kind: 'join', position: joinPosition } : { kind: 'none' }
  }

  async #goLive(): Promise<void> {
    const feed = this.#feed!
    try {
      if (this.#changes.wanted && !this.#changes.ready) await this.#changes.prepareAfterReply()
      if (feed.resumesAcrossEpochs && !this.tenant.hub.rebuilt) {
        // A client of the process before a restart: its changes are replayed from the log
        // rebuilt from the slot, so wait for that (bounded; past it the resume is a gap).
        await Promise.race([this.tenant.hub.whenRebuilt(), new Promise((resolve) => this.tenant.clock.setTimeout(() => resolve(null), REBUILD_WAIT_MS))])
      }
      if (!isJoined(this.#state)) return
      await feed.goLive((cursor) => this.#changes.register(cursor), this.#changes.ready)
      if (this.#state === ChannelState.joined) this.#state = transition(this.#state, ChannelState.live)
    } catch (error) {
      this.tenant.logger.error({ err: error, topic: this.topic }, 'going live failed')
      this.shutdown('Unable to subscribe to changes with given parameters')
    }
  }

  #failJoin(error: unknown): void {
    const realtimeError = error instanceof RealtimeError ? error : new RealtimeError(ErrorCode.UnknownErrorOnChannel, 'Unknown Error on Channel', { cause: error })
    if (!(error instanceof RealtimeError)) this.tenant.logger.error({ err: error, topic: this.topic }, 'join failed')
    this.tenant.metrics.joins.inc({ result: 'error' })
    this.tenant.metrics.countError(realtimeError.code)
    if (!isClosed(this.#state)) this.reply(this.joinRef, 'error', { reason: realtimeError.reason })
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
    if (!isJoined(this.#state)) {
      this.reply(message.ref, 'error', { reason: 'unmatched topic' })
      return
    }
    if (!this.host.allowEvent(frameBytes)) {
      this.tenant.hub.tracing.current?.refused(this, message, { kind: 'rate_limited', limit: this.tenant.limits.maxEventsPerSecond })
      this.tenant.metrics.countError(ErrorCode.TooManyEvents)
      this.shutdown('Too many messages per second')
      return
    }
    switch (message.event) {
      case 'broadcast':
        handleBroadcast(this, message, frameBytes)
        return
      case 'presence':
        this.#presence.handle(message, frameBytes)
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
        const read = await this.tenant.authorizer.authorizeRead(this.subTopic, auth, this.#read.presence ? ['broadcast', 'presence'] : ['broadcast'])
        if ((this.#read.broadcast && !read.broadcast) || (this.#read.presence && !read.presence)) {
          this.shutdown(`You no longer have permission to read from this Channel topic: ${this.subTopic}`)
          return
        }
      }
      if (!isJoined(this.#state)) return
      this.#auth = auth
      this.#token = token
      this.#writes.reset()
      this.#scheduleExpiry()
      this.#changes.refreshAuth()
    } catch (error) {
      const message = error instanceof RealtimeError ? error.message : 'The token provided is not a valid JWT'
      if (error instanceof RealtimeError) this.tenant.metrics.countError(error.code)
      this.shutdown(message)
    }
  }

  /**
   * Verifies the channel's token again with the tenant's keys of now: called when they change
   * (a secret rotated out, a new JWKS). A token they no longer accept ends the channel with the
   * verifier's reason, as Supabase's periodic token check (`confirm_token`) ends it.
   */
  async recheckToken(): Promise<void> {
    const token = this.#token
    if (!isJoined(this.#state) || token === null) return
    try {
      await this.tenant.verifier.verify(token)
    } catch (error) {
      if (!isJoined(this.#state) || token !== this.#token) return
      if (error instanceof RealtimeError) this.tenant.metrics.countError(error.code)
      this.shutdown(error instanceof RealtimeError ? error.message : 'The token provided is not a valid JWT')
    }
  }

  #scheduleExpiry(): void {
    const { clock } = this.tenant
    if (this.#expiryTimer) clock.clearTimeout(this.#expiryTimer)
    const expiresAt = this.auth.expiresAt
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
    this.host.send({ data: this.serializer.encode(this.joinRef, ref, this.topic, 'phx_reply', { status, response }), binary: false })
  }

  /** A server push on this channel (join_ref set, ref null). */
  push(event: string, payload: unknown): void {
    this.host.send({ data: this.serializer.encode(this.joinRef, null, this.topic, event, payload), binary: false })
  }

  deliverChange(ids: readonly number[], data: ChangeData): void {
    if (!isJoined(this.#state) || !this.#feed) return
    this.#feed.enqueueChange(this.changeFrame(ids, data), data.position.seq)
  }

  /** A `postgres_changes` frame (change-frame.ts); the mark rides next to `ids` and `data`, which realtime-js ignores. */
  changeFrame(ids: readonly number[], data: ChangeData): OutFrame {
    return (this.#changeFrames ??= new ChangeFrameEncoder(this.serializer, this.topic)).frame(ids, data, this.wantsPositions)
  }

  systemMessage(status: 'ok' | 'error', message: string): void {
    if (!isJoined(this.#state)) return
    this.push('system', { extension: 'postgres_changes', status, message, channel: this.subTopic })
  }

  // ─── ending ─────────────────────────────────────────────────────────────────────────────

  /** Client asked to leave: `phx_close` follows the ok reply. */
  leave(): void {
    if (isClosed(this.#state)) return
    this.#sendClose()
    this.#close()
  }

  /** Server-side end (§2.5): a `system` error with the reason, then `phx_close`. */
  /** The tenant's log was reset (a cluster's Redis lost it): the client rejoins and resumes. */
  restart(reason: string): void {
    this.shutdown(reason)
  }

  shutdown(message: string): void {
    if (isClosed(this.#state)) return
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
    if (isClosed(this.#state)) return
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
    const wasJoined = isJoined(this.#state)
    if (isClosed(this.#state)) return
    this.#state = transition(this.#state, ChannelState.closed)
    const { tenant } = this
    if (this.#expiryTimer) tenant.clock.clearTimeout(this.#expiryTimer)
    if (wasJoined) {
      tenant.hub.topics.remove(this.topicKey, this)
      tenant.metrics.channels.dec()
      this.#presence.leave()
      tenant.hub.topicLeft(this.topicKey)
    }
    this.#changes.close()
    this.host.channelClosed(this.topic, this)
  }
}
