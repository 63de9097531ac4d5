/**
 * The contract both wire formats implement (`vsn=1.0.0` JSON objects, `vsn=2.0.0` JSON arrays
 * plus binary broadcast frames). Encoders return what goes into one WebSocket message: a
 * string for a text frame, a Uint8Array for a binary frame. Fan-out encodes a message once
 * per serializer and hands the same value to every recipient.
 */
import type { InboundMessage, UserBroadcast } from './message.js'

export type Vsn = '1.0.0' | '2.0.0'

export type DecodeResult = { ok: true; message: InboundMessage } | { ok: false; error: string }

/** One outbound WebSocket message: text or binary. */
export type Frame = string | Uint8Array

/** What goes before and after a pre-encoded payload (Serializer.jsonPayloadAffixes). */
export interface JsonPayloadAffixes { prefix: string; suffix: string }

export interface Serializer {
  readonly vsn: Vsn
  /** Decodes one WebSocket message. Never throws: malformed input gives `{ ok: false }`. */
  decode(data: Uint8Array, isBinary: boolean): DecodeResult
  /** Encodes a message whose payload is a JSON-serializable value. */
  encode(joinRef: string | null, ref: string | null, topic: string, event: string, payload: unknown): string
  /** Encodes a message whose payload is already JSON text (pre-encoded once for many recipients). */
  encodeJsonPayload(joinRef: string | null, ref: string | null, topic: string, event: string, payloadJson: string): string
  /**
   * The text around the payload of `encodeJsonPayload`: `prefix + payloadJson + suffix` is
   * exactly `encodeJsonPayload(joinRef, ref, topic, event, payloadJson)`. For a sender that
   * builds many messages of one topic around shared payload bytes (postgres_changes frames).
   */
  jsonPayloadAffixes(joinRef: string | null, ref: string | null, topic: string, event: string): JsonPayloadAffixes
  /** Encodes a user broadcast for delivery, or returns null when this format cannot carry it (binary payload to vsn 1.0.0). */
  encodeUserBroadcast(topic: string, broadcast: UserBroadcast): Frame | null
}

/** Encodes a reply (`phx_reply`) with `{status, response}`. */
export function encodeReply(
  serializer: Serializer,
  joinRef: string | null,
  ref: string | null,
  topic: string,
  status: 'ok' | 'error',
  response: unknown,
): string {
  return serializer.encode(joinRef, ref, topic, 'phx_reply', { status, response })
}

// ignoreBOM: a leading EF BB BF is a character of the field, not a marker to strip. Without it
// a kind-3 topic "\uFEFFrealtime:a" would decode as "realtime:a" (a different topic).
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** UTF-8 decode that reports invalid bytes instead of replacing them, and keeps every character (a leading BOM too). */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return textDecoder.decode(bytes)
  } catch {
    return null
  }
}

/** A Phoenix ref: the client sends strings; numbers are tolerated and echoed as strings. */
export function readRef(value: unknown): string | null | undefined {
  if (value === null || value === undefined) return null
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return undefined
}

/** Builds `{"type":"broadcast","event":E,"payload":P[,"meta":M]}` from pre-encoded parts. */
export function userBroadcastPayloadJson(broadcast: UserBroadcast, payloadText: string): string {
  const meta = broadcast.metadataJson ? `,"meta":${broadcast.metadataJson}` : ''
  return `{"type":"broadcast","event":${JSON.stringify(broadcast.event)},"payload":${payloadText}${meta}}`
}
