/**
 * A client's `broadcast` on a joined channel (§3): size limit, write permission on private
 * channels, fan-out honouring `self`, and the `ack` reply.
 *
 * Payloads from vsn 2.0.0 clients arrive as kind-3 bytes and are forwarded as bytes; vsn
 * 1.0.0 clients send a JSON object, which is forwarded as sent.
 */
import { ErrorCode, type InboundMessage } from '@switchboard/protocol'
import type { Channel } from './channel.js'
import { withWritePermission } from './write-permission.js'

export function handleBroadcast(channel: Channel, message: InboundMessage, frameBytes: number): void {
  const { tenant, config } = channel
  tenant.metrics.messagesIn.inc({ kind: 'broadcast' })
  const ack = config.broadcast.ack
  if (frameBytes > tenant.limits.maxPayloadBytes) {
    tenant.metrics.countError(ErrorCode.PayloadTooLarge)
    // Supabase answers an acking sender with this bare string and drops silently otherwise.
    if (ack) channel.reply(message.ref, 'error', 'payload_size_exceeded')
    return
  }
  const payload = message.payload
  if (!message.userBroadcast && (typeof payload !== 'object' || payload === null || Array.isArray(payload))) {
    tenant.metrics.countError(ErrorCode.MalformedWebSocketMessage)
    if (ack) channel.reply(message.ref, 'error', { reason: 'broadcast payload must be an object' })
    return
  }
  withWritePermission(channel, 'broadcast', (allowed) => {
    if (!allowed) {
      tenant.metrics.countError(ErrorCode.Unauthorized)
      // Supabase drops silently (an acking sender times out); an explicit error is kinder.
      if (ack) channel.reply(message.ref, 'error', { reason: `Unauthorized: You do not have permissions to write to this Channel topic: ${channel.subTopic}` })
      return
    }
    const sender = config.broadcast.self ? undefined : { exclude: channel, session: channel.session }
    if (message.userBroadcast) {
      // Client metadata (e.g. `persist`) is not forwarded, as on the Supabase server.
      tenant.publishUser(channel.topicKey, channel.topic, { ...message.userBroadcast, metadataJson: null }, sender)
    } else {
      tenant.publishJson(channel.topicKey, channel.topic, payload as Record<string, unknown>, sender)
    }
    if (ack) channel.reply(message.ref, 'ok', {})
  })
}
