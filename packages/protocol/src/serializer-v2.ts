/**
 * vsn 2.0.0: text frames are JSON arrays `[join_ref, ref, topic, event, payload]`; broadcasts
 * may travel as binary frames (realtime-js 2.119 `src/lib/serializer.ts`, Supabase
 * `v2_serializer.ex`):
 *
 *   kind 3, client → server (user broadcast push)
 *   ┌────┬──────────┬──────┬───────┬──────────┬──────────┬──────────┬──────────────────────────────┐
 *   │ 03 │ join_len │ ref_ │ topic │ event_len│ meta_len │ encoding │ join_ref ref topic event meta │ payload…
 *   └────┴──────────┴──────┴───────┴──────────┴──────────┴──────────┴──────────────────────────────┘
 *   kind 4, server → client (user broadcast)
 *   ┌────┬───────────┬───────────┬──────────┬──────────┬──────────────────┐
 *   │ 04 │ topic_len │ event_len │ meta_len │ encoding │ topic event meta │ payload…
 *   └────┴───────────┴───────────┴──────────┴──────────┴──────────────────┘
 *
 * Lengths are single bytes of UTF-8 length; encoding 0 = raw binary, 1 = JSON text.
 * realtime-js decodes ONLY kind 4 from binary frames (anything else throws in its message
 * handler), so replies and pushes are always JSON text here.
 */
import type { InboundMessage, UserBroadcast } from './message.js'
import { type DecodeResult, type JsonPayloadAffixes, type Frame, type Serializer, decodeUtf8, readRef, userBroadcastPayloadJson } from './serializer.js'

export const KIND_USER_BROADCAST_PUSH = 3
export const KIND_USER_BROADCAST = 4
const PUSH_HEADER_BYTES = 7
const BROADCAST_HEADER_BYTES = 5
const MAX_FIELD_BYTES = 255

function decodeText(data: Uint8Array): DecodeResult {
  const text = decodeUtf8(data)
  if (text === null) return { ok: false, error: 'frame is not valid UTF-8' }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return { ok: false, error: 'frame is not valid JSON' }
  }
  if (!Array.isArray(parsed) || parsed.length < 5) {
    return { ok: false, error: 'vsn 2.0.0 text frames are arrays [join_ref, ref, topic, event, payload]' }
  }
  const [rawJoinRef, rawRef, topic, event, payload] = parsed as unknown[]
  const joinRef = readRef(rawJoinRef)
  const ref = readRef(rawRef)
  if (typeof topic !== 'string' || typeof event !== 'string' || joinRef === undefined || ref === undefined) {
    return { ok: false, error: 'frame needs string topic and event, and string or null refs' }
  }
  const message: InboundMessage = { joinRef, ref, topic, event, payload: payload ?? {}, userBroadcast: null }
  return { ok: true, message }
}

function decodeUserBroadcastPush(data: Uint8Array): DecodeResult {
  if (data.length < PUSH_HEADER_BYTES) return { ok: false, error: 'binary frame shorter than its header' }
  const joinRefLen = data[1]!
  const refLen = data[2]!
  const topicLen = data[3]!
  const eventLen = data[4]!
  const metaLen = data[5]!
  const encodingByte = data[6]!
  if (encodingByte !== 0 && encodingByte !== 1) return { ok: false, error: `unknown payload encoding ${encodingByte}` }
  let offset = PUSH_HEADER_BYTES
  const fields: (string | null)[] = []
  for (const length of [joinRefLen, refLen, topicLen, eventLen, metaLen]) {
    if (offset + length > data.length) return { ok: false, error: 'binary frame field runs past its end' }
    fields.push(decodeUtf8(data.subarray(offset, offset + length)))
    offset += length
  }
  const [joinRef, ref, topic, event, meta] = fields
  if (joinRef === null || ref === null || topic === null || event === null || meta === null || joinRef === undefined ||
      ref === undefined || topic === undefined || event === undefined || meta === undefined) {
    return { ok: false, error: 'binary frame field is not valid UTF-8' }
  }
  if (meta.length > 0) {
    try {
      const parsedMeta: unknown = JSON.parse(meta)
      if (typeof parsedMeta !== 'object' || parsedMeta === null || Array.isArray(parsedMeta)) throw new Error('not an object')
    } catch {
      return { ok: false, error: 'binary frame metadata is not a JSON object' }
    }
  }
  const payload = data.subarray(offset)
  if (encodingByte === 1 && !isJsonText(payload)) return { ok: false, error: 'binary frame JSON payload is not valid JSON' }
  const message: InboundMessage = {
    joinRef: joinRef === '' ? null : joinRef,
    ref: ref === '' ? null : ref,
    topic,
    event: 'broadcast',
    payload: null,
    userBroadcast: {
      event,
      encoding: encodingByte === 1 ? 'json' : 'binary',
      // Copy: the ws receive buffer is reused, and the payload outlives this call in queues.
      payload: Uint8Array.prototype.slice.call(payload),
      metadataJson: meta.length > 0 ? meta : null,
    },
  }
  return { ok: true, message }
}

// Checked once per inbound broadcast (not per recipient) so vsn 1.0.0 recipients, who get
// the bytes spliced into JSON text, can never receive a broken frame.
function isJsonText(bytes: Uint8Array): boolean {
  const text = decodeUtf8(bytes)
  if (text === null) return false
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

function decode(data: Uint8Array, isBinary: boolean): DecodeResult {
  if (!isBinary) return decodeText(data)
  if (data.length === 0) return { ok: false, error: 'empty binary frame' }
  if (data[0] === KIND_USER_BROADCAST_PUSH) return decodeUserBroadcastPush(data)
  return { ok: false, error: `unsupported binary frame kind ${data[0]}` }
}

function encode(joinRef: string | null, ref: string | null, topic: string, event: string, payload: unknown): string {
  return JSON.stringify([joinRef, ref, topic, event, payload])
}

function encodeJsonPayload(joinRef: string | null, ref: string | null, topic: string, event: string, payloadJson: string): string {
  const { prefix, suffix } = jsonPayloadAffixes(joinRef, ref, topic, event)
  return prefix + payloadJson + suffix
}

function jsonPayloadAffixes(joinRef: string | null, ref: string | null, topic: string, event: string): JsonPayloadAffixes {
  return { prefix: `[${JSON.stringify(joinRef)},${JSON.stringify(ref)},${JSON.stringify(topic)},${JSON.stringify(event)},`, suffix: ']' }
}

function encodeUserBroadcast(topic: string, broadcast: UserBroadcast): Frame | null {
  const topicBytes = utf8Encoder.encode(topic)
  const eventBytes = utf8Encoder.encode(broadcast.event)
  const metaBytes = broadcast.metadataJson ? utf8Encoder.encode(broadcast.metadataJson) : EMPTY
  if (topicBytes.length > MAX_FIELD_BYTES || eventBytes.length > MAX_FIELD_BYTES || metaBytes.length > MAX_FIELD_BYTES) {
    // Too long for the one-byte length fields of kind 4: JSON text carries it instead.
    if (broadcast.encoding === 'binary') return null
    const payloadText = utf8Decoder.decode(broadcast.payload)
    return encodeJsonPayload(null, null, topic, 'broadcast', userBroadcastPayloadJson(broadcast, payloadText))
  }
  const frame = new Uint8Array(BROADCAST_HEADER_BYTES + topicBytes.length + eventBytes.length + metaBytes.length + broadcast.payload.length)
  frame[0] = KIND_USER_BROADCAST
  frame[1] = topicBytes.length
  frame[2] = eventBytes.length
  frame[3] = metaBytes.length
  frame[4] = broadcast.encoding === 'json' ? 1 : 0
  let offset = BROADCAST_HEADER_BYTES
  for (const part of [topicBytes, eventBytes, metaBytes, broadcast.payload]) {
    frame.set(part, offset)
    offset += part.length
  }
  return frame
}

const EMPTY = new Uint8Array(0)
const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder()

export const serializerV2: Serializer = Object.freeze({
  vsn: '2.0.0' as const,
  decode,
  encode,
  encodeJsonPayload,
  jsonPayloadAffixes,
  encodeUserBroadcast,
})
