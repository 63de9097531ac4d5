/**
 * What the tenant's replay log keeps per message: enough to deliver it again to one channel
 * later (its topic and content, or the decoded change that Postgres Changes re-authorizes).
 */
import type { UserBroadcast } from '@switchboard/protocol'

export type ReplayEntry =
  | { kind: 'broadcast-json'; topicKey: string; topic: string; payload: Record<string, unknown>; senderSession: string | null }
  | { kind: 'broadcast-user'; topicKey: string; topic: string; broadcast: UserBroadcast; senderSession: string | null }
  /** A Postgres change (cdc `Change`), opaque here: only the Postgres Changes engine reads it. */
  | { kind: 'change'; change: unknown }

/** The position key added to messages of channels that asked for positions. */
export const POSITION_KEY = 'switchboard'

/** `{"switchboard":{"position":N}}` merged into a JSON object text (kind-4 metadata). */
export function withPositionMetadata(metadataJson: string | null, position: number): string {
  const field = `"${POSITION_KEY}":{"position":${position}}`
  if (metadataJson === null || metadataJson === '{}') return `{${field}}`
  return `${metadataJson.slice(0, -1)},${field}}`
}

/** A JSON broadcast payload with `meta.switchboard.position` added (a copy; the original is shared). */
export function withPositionMeta(payload: Record<string, unknown>, position: number): Record<string, unknown> {
  const meta = payload.meta
  const base = typeof meta === 'object' && meta !== null && !Array.isArray(meta) ? meta : {}
  return { ...payload, meta: { ...base, [POSITION_KEY]: { position } } }
}
