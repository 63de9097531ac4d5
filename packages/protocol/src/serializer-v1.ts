/**
 * vsn 1.0.0: every frame is a JSON object, text only.
 *
 *   client → server  {"topic","event","payload","ref","join_ref"}
 *   server → client  {"topic","event","payload","ref"}          (Phoenix V1 sends no join_ref)
 *
 * A binary payload cannot be carried, so binary user broadcasts are not delivered to these
 * clients (the Supabase server skips them too).
 */
import type { InboundMessage, UserBroadcast } from './message.js'
import { type DecodeResult, type JsonPayloadAffixes, type Serializer, decodeUtf8, readRef, userBroadcastPayloadJson } from './serializer.js'

function decode(data: Uint8Array, isBinary: boolean): DecodeResult {
  if (isBinary) return { ok: false, error: 'binary frames are not part of vsn 1.0.0' }
  const text = decodeUtf8(data)
  if (text === null) return { ok: false, error: 'frame is not valid UTF-8' }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return { ok: false, error: 'frame is not valid JSON' }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, error: 'vsn 1.0.0 frames are JSON objects' }
  }
  const raw = parsed as Record<string, unknown>
  const joinRef = readRef(raw.join_ref)
  const ref = readRef(raw.ref)
  if (typeof raw.topic !== 'string' || typeof raw.event !== 'string' || joinRef === undefined || ref === undefined) {
    return { ok: false, error: 'frame needs string topic and event, and string or null refs' }
  }
  const message: InboundMessage = {
    joinRef,
    ref,
    topic: raw.topic,
    event: raw.event,
    payload: raw.payload ?? {},
    userBroadcast: null,
  }
  return { ok: true, message }
}

function encode(_joinRef: string | null, ref: string | null, topic: string, event: string, payload: unknown): string {
  return JSON.stringify({ topic, event, payload, ref })
}

function encodeJsonPayload(joinRef: string | null, ref: string | null, topic: string, event: string, payloadJson: string): string {
  const { prefix, suffix } = jsonPayloadAffixes(joinRef, ref, topic, event)
  return prefix + payloadJson + suffix
}

function jsonPayloadAffixes(_joinRef: string | null, ref: string | null, topic: string, event: string): JsonPayloadAffixes {
  return { prefix: `{"topic":${JSON.stringify(topic)},"event":${JSON.stringify(event)},"payload":`, suffix: `,"ref":${JSON.stringify(ref)}}` }
}

function encodeUserBroadcast(topic: string, broadcast: UserBroadcast): string | null {
  if (broadcast.encoding === 'binary') return null
  const payloadText = utf8Decoder.decode(broadcast.payload)
  return encodeJsonPayload(null, null, topic, 'broadcast', userBroadcastPayloadJson(broadcast, payloadText))
}

const utf8Decoder = new TextDecoder()

export const serializerV1: Serializer = Object.freeze({
  vsn: '1.0.0' as const,
  decode,
  encode,
  encodeJsonPayload,
  jsonPayloadAffixes,
  encodeUserBroadcast,
})
