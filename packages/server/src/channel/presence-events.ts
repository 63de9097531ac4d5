/**
 * A client's `presence` event on a joined channel (§4): track / untrack with their replies,
 * the per-channel call limit, the payload size limit, write (and, lazily, read) permission on
 * private channels, and the `presence_diff` fan-out.
 */
import { ErrorCode, type InboundMessage } from '@switchboard/protocol'
import { RateWindow } from '../rate-window.js'
import { nextPresenceRef } from '../presence/presence-topic.js'
import type { Channel } from './channel.js'
import { withWritePermission } from './write-permission.js'

const presenceCalls = new WeakMap<Channel, RateWindow>()

export function handlePresence(channel: Channel, message: InboundMessage, frameBytes: number): void {
  const { tenant } = channel
  tenant.metrics.messagesIn.inc({ kind: 'presence' })
  const body = message.payload as { event?: unknown; payload?: unknown } | null
  const event = typeof body?.event === 'string' ? body.event.toLowerCase() : null
  if (event === null) {
    channel.reply(message.ref, 'ok', {}) // Supabase: a presence message without `event` is ignored.
    return
  }
  let window = presenceCalls.get(channel)
  if (!window) presenceCalls.set(channel, (window = new RateWindow(tenant.limits.maxPresenceCallsPerWindow, tenant.limits.presenceWindowMs, tenant.clock)))
  if (!window.hit()) {
    tenant.metrics.countError(ErrorCode.ClientPresenceRateLimitReached)
    channel.shutdown('Client presence rate limit exceeded')
    return
  }
  if (event === 'track') return track(channel, message, body?.payload, frameBytes)
  if (event === 'untrack') {
    leavePresence(channel)
    channel.reply(message.ref, 'ok', {})
    return
  }
  tenant.metrics.countError(ErrorCode.UnknownEvent)
  channel.reply(message.ref, 'error', {})
}

function track(channel: Channel, message: InboundMessage, payload: unknown, frameBytes: number): void {
  const { tenant } = channel
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    tenant.metrics.countError(ErrorCode.PresenceTrackPayloadInvalid)
    channel.reply(message.ref, 'error', { reason: 'Presence track payload must be a map' })
    return
  }
  if (frameBytes > tenant.limits.maxPayloadBytes) {
    tenant.metrics.countError(ErrorCode.TrackMessageSizeExceeded)
    channel.shutdown('Track message size exceeded')
    return
  }
  withWritePermission(channel, 'presence', (allowed) => {
    if (!allowed) {
      tenant.metrics.countError(ErrorCode.Unauthorized)
      channel.reply(message.ref, 'error', {})
      return
    }
    void enablePresenceRead(channel).then(() => {
      if (channel.state !== 'joined') return
      channel.presenceTracked = true
      const diff = tenant.presence.track(channel.topicKey, channel, channel.presenceKey, payload as Record<string, unknown>, nextPresenceRef())
      if (diff) tenant.publishPresenceDiff(channel.topicKey, channel.topic, diff)
      channel.reply(message.ref, 'ok', {})
    })
  })
}

// A private channel that joined with presence off has not had presence-read evaluated; its
// first track decides whether it receives diffs (§4.3). Public channels read everything.
async function enablePresenceRead(channel: Channel): Promise<void> {
  if (!channel.isPrivate || channel.read.presence || channel.config.presence.enabled || channel.presenceTracked) return
  try {
    const read = await channel.tenant.authorizer.authorizeRead(channel.subTopic, channel.auth!, ['presence'])
    channel.read = { ...channel.read, presence: read.presence }
  } catch (error) {
    channel.tenant.logger.error({ err: error, topic: channel.topic }, 'presence read authorization failed')
  }
}

/** Removes the channel's presence (untrack, leave, close) and tells the topic. */
export function leavePresence(channel: Channel): void {
  const diff = channel.tenant.presence.untrack(channel.topicKey, channel)
  if (diff) channel.tenant.publishPresenceDiff(channel.topicKey, channel.topic, diff)
}
