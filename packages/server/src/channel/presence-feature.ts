/**
 * A channel's presence (§4): track / untrack with their replies, the per-channel call limit,
 * the payload size limit, write (and, lazily, read) permission on private channels, and the
 * `presence_diff` fan-out. Owns its state: the call window and whether the channel tracked.
 */
import { ErrorCode, type InboundMessage } from '@switchboard/protocol'
import { RateWindow } from '../rate-window.js'
import { nextPresenceRef } from '../presence/presence-topic.js'
import type { ChannelPort } from './channel-port.js'
import { withWritePermission } from './write-permission.js'

export class PresenceFeature {
  readonly #port: ChannelPort
  readonly #calls: RateWindow
  /** Set by the first track, even when `config.presence.enabled` was false. */
  #tracked = false

  constructor(port: ChannelPort) {
    this.#port = port
    const { limits, clock } = port.tenant
    this.#calls = new RateWindow(limits.maxPresenceCallsPerWindow, limits.presenceWindowMs, clock)
  }

  handle(message: InboundMessage, frameBytes: number): void {
    const port = this.#port
    const { tenant } = port
    tenant.metrics.messagesIn.inc({ kind: 'presence' })
    const body = message.payload as { event?: unknown; payload?: unknown } | null
    const event = typeof body?.event === 'string' ? body.event.toLowerCase() : null
    if (event === null) {
      port.reply(message.ref, 'ok', {}) // Supabase: a presence message without `event` is ignored.
      return
    }
    if (!this.#calls.hit()) {
      tenant.metrics.countError(ErrorCode.ClientPresenceRateLimitReached)
      port.shutdown('Client presence rate limit exceeded')
      return
    }
    if (event === 'track') return this.#track(message, body?.payload, frameBytes)
    if (event === 'untrack') {
      this.leave()
      port.reply(message.ref, 'ok', {})
      return
    }
    tenant.metrics.countError(ErrorCode.UnknownEvent)
    port.reply(message.ref, 'error', {})
  }

  #track(message: InboundMessage, payload: unknown, frameBytes: number): void {
    const port = this.#port
    const { tenant } = port
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      tenant.metrics.countError(ErrorCode.PresenceTrackPayloadInvalid)
      port.reply(message.ref, 'error', { reason: 'Presence track payload must be a map' })
      return
    }
    if (frameBytes > tenant.limits.maxPayloadBytes) {
      tenant.metrics.countError(ErrorCode.TrackMessageSizeExceeded)
      port.shutdown('Track message size exceeded')
      return
    }
    withWritePermission(port, 'presence', (allowed) => {
      if (!allowed) {
        tenant.metrics.countError(ErrorCode.Unauthorized)
        port.reply(message.ref, 'error', {})
        return
      }
      void this.#enableRead().then(() => {
        if (!port.isJoined) return
        this.#tracked = true
        const diff = tenant.hub.presence.track(port.topicKey, port.fanout, port.presenceKey, payload as Record<string, unknown>, nextPresenceRef())
        if (diff) tenant.hub.publishPresenceDiff(port.topicKey, port.topic, diff)
        port.reply(message.ref, 'ok', {})
      })
    })
  }

  // A private channel that joined with presence off has not had presence-read evaluated; its
  // first track decides whether it receives diffs (§4.3). Public channels read everything.
  async #enableRead(): Promise<void> {
    const port = this.#port
    if (!port.isPrivate || port.read.presence || port.config.presence.enabled || this.#tracked) return
    try {
      const read = await port.tenant.authorizer.authorizeRead(port.subTopic, port.auth, ['presence'])
      port.grantPresenceRead(read.presence)
    } catch (error) {
      port.tenant.logger.error({ err: error, topic: port.topic }, 'presence read authorization failed')
    }
  }

  /** Removes the channel's presence (untrack, leave, close) and tells the topic. */
  leave(): void {
    const port = this.#port
    const diff = port.tenant.hub.presence.untrack(port.topicKey, port.fanout)
    if (diff) port.tenant.hub.publishPresenceDiff(port.topicKey, port.topic, diff)
  }
}
