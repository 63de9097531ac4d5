/**
 * The Phoenix message as Switchboard sees it after decoding, in either serializer version.
 *
 * A vsn 2.0.0 binary "user broadcast" push (kind 3) is kept as raw bytes in `userBroadcast`
 * rather than parsed into `payload`: the server forwards those bytes to other clients as they
 * are, so it never needs to build an object for them.
 */
export interface InboundMessage {
  joinRef: string | null
  ref: string | null
  topic: string
  event: string
  /** Decoded JSON payload; for a kind-3 frame, `null` (see `userBroadcast`). */
  payload: unknown
  userBroadcast: UserBroadcast | null
}

/** A broadcast whose payload travels as bytes: from a kind-3 push, the single-event REST endpoint or the database. */
export interface UserBroadcast {
  /** The user's event name (`channel.send({ event })`). */
  event: string
  /** `json`: `payload` is UTF-8 JSON text; `binary`: raw bytes, deliverable only to vsn 2.0.0 clients. */
  encoding: 'json' | 'binary'
  payload: Uint8Array
  /** JSON object text for the kind-4 metadata field (e.g. `{"id":"…"}`), or null for none. */
  metadataJson: string | null
}

/** Events of the Phoenix channel protocol. */
export const PhxEvent = {
  join: 'phx_join',
  leave: 'phx_leave',
  reply: 'phx_reply',
  close: 'phx_close',
  error: 'phx_error',
  heartbeat: 'heartbeat',
} as const

export const PHOENIX_TOPIC = 'phoenix'
export const REALTIME_TOPIC_PREFIX = 'realtime:'

/** Returns the sub-topic (`room1` of `realtime:room1`), or null when the topic is not a realtime topic. */
export function subTopicOf(topic: string): string | null {
  return topic.startsWith(REALTIME_TOPIC_PREFIX) ? topic.slice(REALTIME_TOPIC_PREFIX.length) : null
}
