/**
 * What goes into the cluster's shared log, and its bytes on the wire (Redis stream entries and
 * sharded pub/sub messages carry the same encoding).
 *
 * Broadcasts carry their topic, the sender's resume session (skipped when that session
 * replays the log, as on one node) and `origin`, the id the sending node gave the message, so
 * that node can skip the sending channel (`self: false`) when the message comes back.
 * Postgres changes travel as one batch per committed run (cdc/change-codec.ts encodes it).
 *
 * Layout: kind (u8), then fields as u32-length-prefixed byte strings; a null string has
 * length 0xffffffff. Decoding bad bytes throws (the caller counts and drops the message).
 */
import type { UserBroadcast } from '@switchboard/protocol'

export type SharedMessage =
  | { kind: 'broadcast-json'; origin: string; topicKey: string; payload: Record<string, unknown>; senderSession: string | null }
  | { kind: 'broadcast-user'; origin: string; topicKey: string; broadcast: UserBroadcast; senderSession: string | null }
  /** A run of committed changes (and database broadcasts), `count` positions from the entry's. */
  | { kind: 'changes'; origin: string; count: number; batch: Uint8Array }

const KIND_JSON = 1
const KIND_USER = 2
const KIND_CHANGES = 3
const NULL_LENGTH = 0xffffffff
const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function encodeSharedMessage(message: SharedMessage): Buffer {
  const parts: Uint8Array[] = []
  const text = (value: string | null) => parts.push(value === null ? new Uint8Array(0) : encoder.encode(value))
  const nulls: boolean[] = []
  const field = (value: string | Uint8Array | null) => {
    nulls.push(value === null)
    if (typeof value === 'string' || value === null) text(value)
    else parts.push(value)
  }
  let kind: number
  switch (message.kind) {
    case 'broadcast-json':
      kind = KIND_JSON
      field(message.origin)
      field(message.topicKey)
      field(message.senderSession)
      field(JSON.stringify(message.payload))
      break
    case 'broadcast-user':
      kind = KIND_USER
      field(message.origin)
      field(message.topicKey)
      field(message.senderSession)
      field(message.broadcast.event)
      field(message.broadcast.encoding)
      field(message.broadcast.metadataJson)
      field(message.broadcast.payload)
      break
    case 'changes':
      kind = KIND_CHANGES
      field(message.origin)
      field(String(message.count))
      field(message.batch)
      break
  }
  let size = 1
  for (const part of parts) size += 4 + part.length
  const out = Buffer.allocUnsafe(size)
  out[0] = kind
  let at = 1
  parts.forEach((part, i) => {
    out.writeUInt32BE(nulls[i] ? NULL_LENGTH : part.length, at)
    at += 4
    out.set(part, at)
    at += part.length
  })
  return out
}

export function decodeSharedMessage(bytes: Buffer): SharedMessage {
  let at = 1
  const bytesField = (): Uint8Array | null => {
    if (at + 4 > bytes.length) throw new RangeError('shared message: truncated')
    const length = bytes.readUInt32BE(at)
    at += 4
    if (length === NULL_LENGTH) return null
    if (at + length > bytes.length) throw new RangeError('shared message: truncated')
    const value = bytes.subarray(at, at + length)
    at += length
    return value
  }
  const textField = (): string | null => {
    const value = bytesField()
    return value === null ? null : decoder.decode(value)
  }
  const required = (): string => {
    const value = textField()
    if (value === null) throw new RangeError('shared message: missing field')
    return value
  }
  switch (bytes[0]) {
    case KIND_JSON: {
      const origin = required()
      const topicKey = required()
      const senderSession = textField()
      const payload = JSON.parse(required()) as Record<string, unknown>
      return { kind: 'broadcast-json', origin, topicKey, senderSession, payload }
    }
    case KIND_USER: {
      const origin = required()
      const topicKey = required()
      const senderSession = textField()
      const event = required()
      const encoding = required() === 'binary' ? 'binary' : 'json'
      const metadataJson = textField()
      // A copy: the message buffer is the Redis client's, the payload lives on in the log.
      const payload = Uint8Array.prototype.slice.call(bytesField() ?? new Uint8Array(0))
      return { kind: 'broadcast-user', origin, topicKey, senderSession, broadcast: { event, encoding, metadataJson, payload } }
    }
    case KIND_CHANGES: {
      const origin = required()
      const count = Number(required())
      if (!Number.isSafeInteger(count) || count < 1) throw new RangeError('shared message: bad change count')
      const batch = Uint8Array.prototype.slice.call(bytesField() ?? new Uint8Array(0))
      return { kind: 'changes', origin, count, batch }
    }
    default:
      throw new RangeError(`shared message: unknown kind ${bytes[0]}`)
  }
}

/** The topic a message is routed by (changes go to every node that serves Postgres Changes). */
export function sharedTopic(message: SharedMessage): string | null {
  return message.kind === 'changes' ? null : message.topicKey
}
