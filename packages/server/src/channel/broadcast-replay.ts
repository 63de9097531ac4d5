/**
 * Supabase's broadcast replay (§3.6): a private channel that joins with
 * `config.broadcast.replay = { since, limit }` first receives the newest persisted messages of
 * its topic since `since` (at most `limit`, 1..25), oldest first, as `broadcast` events with
 * `meta = { replayed: true, id }`. Only messages stored in `realtime.messages` replay
 * (`realtime.send`, `broadcast_changes`, `persist`).
 *
 * Unlike Switchboard's own resume, this is a fixed look-back, not a cursor: it suits "show the
 * last messages on open" and is what supabase-js clients ask for.
 */
import { ErrorCode, RealtimeError } from '@switchboard/protocol'
import { toOutFrame } from '../broadcast/topic-registry.js'
import type { ChannelPort } from './channel-port.js'

/** Refuses the join when replay is asked on a public channel (the official client refuses it locally too). */
export function checkReplayRequest(port: ChannelPort): void {
  if (port.config.broadcast.replay && !port.isPrivate) {
    throw new RealtimeError(ErrorCode.InvalidJoinPayload, 'Broadcast replay is only available on private channels')
  }
}

export async function replayStoredBroadcasts(port: ChannelPort): Promise<void> {
  const replay = port.config.broadcast.replay
  if (!replay || !port.read.broadcast) return
  const messages = await port.tenant.messages.recent(port.subTopic, replay.since, replay.limit).catch((error: unknown) => {
    port.tenant.logger.warn({ err: error, topic: port.topic }, 'broadcast replay failed')
    return []
  })
  for (const message of messages) {
    if (!port.isJoined) return
    const metadataJson = JSON.stringify({ replayed: true, id: message.id })
    const binary = message.json === null && message.binary !== null
    // vsn 1.0.0 cannot carry binary payloads: the serializer returns null and it is skipped, as Supabase does.
    const payload = binary ? message.binary! : new TextEncoder().encode(message.json ?? '{}')
    const frame = toOutFrame(port.serializer.encodeUserBroadcast(port.topic, { event: message.event, encoding: binary ? 'binary' : 'json', payload, metadataJson }))
    if (frame) port.send(frame)
  }
}
