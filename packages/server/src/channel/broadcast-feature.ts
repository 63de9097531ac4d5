/**
 * A client's `broadcast` on a joined channel (§3): size limit, write permission on private
 * channels, fan-out honouring `self`, `persist`, and the `ack` reply.
 *
 * Payloads from vsn 2.0.0 clients arrive as kind-3 bytes and are forwarded as bytes; vsn
 * 1.0.0 clients send a JSON object, which is forwarded as sent.
 *
 * `persist` (kind-3 metadata `{"persist": true}` or `{"persist": {"ttl": n}}`, private
 * channels, as realtime-js sends it) stores the message in `realtime.messages`; the replication
 * stream brings it back and the hub delivers it with its stream position, so it survives a
 * server restart and is replayable (db/broadcast-store.ts). The ack then confirms the insert.
 */
import { randomUUID } from 'node:crypto'
import { ErrorCode, type InboundMessage, type UserBroadcast } from '@switchboard/protocol'
import type { BroadcastSender } from '../hub/tenant-hub.js'
import type { ChannelPort } from './channel-port.js'
import { withWritePermission } from './write-permission.js'

export function handleBroadcast(port: ChannelPort, message: InboundMessage, frameBytes: number): void {
  const { tenant, config } = port
  tenant.metrics.messagesIn.inc({ kind: 'broadcast' })
  const ack = config.broadcast.ack
  if (frameBytes > tenant.limits.maxPayloadBytes) {
    tenant.hub.tracing.current?.refused(port, message, { kind: 'payload_too_large', bytes: frameBytes, limit: tenant.limits.maxPayloadBytes })
    tenant.metrics.countError(ErrorCode.PayloadTooLarge)
    // Supabase answers an acking sender with this bare string and drops silently otherwise.
    if (ack) port.reply(message.ref, 'error', 'payload_size_exceeded')
    return
  }
  const payload = message.payload
  if (!message.userBroadcast && (typeof payload !== 'object' || payload === null || Array.isArray(payload))) {
    tenant.metrics.countError(ErrorCode.MalformedWebSocketMessage)
    if (ack) port.reply(message.ref, 'error', { reason: 'broadcast payload must be an object' })
    return
  }
  withWritePermission(port, 'broadcast', (allowed) => {
    if (!allowed) {
      tenant.hub.tracing.current?.refused(port, message, { kind: 'not_authorized_write' })
      tenant.metrics.countError(ErrorCode.Unauthorized)
      // Supabase drops silently (an acking sender times out); an explicit error is kinder.
      if (ack) port.reply(message.ref, 'error', { reason: `Unauthorized: You do not have permissions to write to this Channel topic: ${port.subTopic}` })
      return
    }
    const sender: BroadcastSender | undefined = config.broadcast.self ? undefined : { exclude: port.fanout, session: port.session }
    if (message.userBroadcast && wantsPersist(message.userBroadcast.metadataJson)) {
      void persist(port, message, message.userBroadcast, sender)
      return
    }
    // Client metadata (e.g. `persist`) is not forwarded, as on the Supabase server.
    const appended = message.userBroadcast
      ? tenant.hub.publishUser(port.topicKey, port.topic, { ...message.userBroadcast, metadataJson: null }, sender)
      : tenant.hub.publishJson(port.topicKey, port.topic, payload as Record<string, unknown>, sender)
    if (!appended) {
      if (ack) port.reply(message.ref, 'ok', {})
      return
    }
    // In a cluster the acknowledgement waits for the shared log; without ack, a failure is
    // still counted (the cluster's failed-appends metric) and never silent to an acking sender.
    appended.then(
      () => ack && port.reply(message.ref, 'ok', {}),
      () => ack && port.reply(message.ref, 'error', { reason: 'The cluster log is unavailable; the message was not sent' }),
    )
  })
}

function wantsPersist(metadataJson: string | null): boolean {
  if (metadataJson === null || !metadataJson.includes('persist')) return false
  try {
    const persist = (JSON.parse(metadataJson) as { persist?: unknown }).persist
    return persist === true || (typeof persist === 'object' && persist !== null)
  } catch {
    return false
  }
}

async function persist(port: ChannelPort, message: InboundMessage, broadcast: UserBroadcast, sender: BroadcastSender | undefined): Promise<void> {
  const { tenant } = port
  const ack = port.config.broadcast.ack
  const id = randomUUID()
  tenant.hub.expectPersisted(id, sender)
  try {
    await tenant.messages.persist({
      id,
      topic: port.subTopic,
      event: broadcast.event,
      private: port.isPrivate,
      json: broadcast.encoding === 'json' ? new TextDecoder().decode(broadcast.payload) : null,
      binary: broadcast.encoding === 'binary' ? broadcast.payload : null,
    })
  } catch (error) {
    tenant.hub.forgetPersisted(id)
    tenant.metrics.countError(ErrorCode.BroadcastPersistFailed)
    tenant.logger.warn({ err: error, topic: port.topic }, 'persisting a broadcast failed')
    // realtime-js resolves send() with `response.error` when persist was asked.
    if (ack) port.reply(message.ref, 'error', { error: `${ErrorCode.BroadcastPersistFailed}: ${(error as Error).message}` })
    return
  }
  // Without a replication stream nothing brings the row back: deliver it now.
  if (!tenant.postgresChanges) {
    tenant.hub.forgetPersisted(id)
    // A failed append is counted by the cluster (failed appends); the persisted copy still arrives from the slot.
    tenant.hub.publishUser(port.topicKey, port.topic, { ...broadcast, metadataJson: JSON.stringify({ id }) }, sender)?.catch(() => {})
  }
  if (ack && port.isJoined) port.reply(message.ref, 'ok', {})
}
