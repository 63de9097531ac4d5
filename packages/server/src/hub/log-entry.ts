/**
 * What the tenant's log keeps per message: enough to deliver it again to one channel later
 * (its topic and content, or the decoded change that Postgres Changes re-authorizes), and the
 * position mark that rides on positioned messages (protocol `resume.ts`).
 */
import { RESUME_KEY, type UserBroadcast } from '@switchboard/protocol'
import type { Change } from '../cdc/change.js'

export type LogMessage =
  | { kind: 'broadcast-json'; topicKey: string; topic: string; payload: Record<string, unknown>; senderSession: string | null }
  | { kind: 'broadcast-user'; topicKey: string; topic: string; broadcast: UserBroadcast; senderSession: string | null }
  /** A Postgres change: authorized per subscriber when delivered or replayed. */
  | { kind: 'change'; change: Change }

/** Where a positioned message stands: its log position and stream point. */
export interface Mark {
  position: number
  point: string
}

/** `"switchboard":{"position":N,"lsn":"…"}`: the mark as a JSON member. */
export function markMember(mark: Mark): string {
  return `"${RESUME_KEY}":{"position":${mark.position},"lsn":"${mark.point}"}`
}

/** The mark merged into a JSON object text (kind-4 metadata). */
export function withMarkMetadata(metadataJson: string | null, mark: Mark): string {
  const member = markMember(mark)
  if (metadataJson === null || metadataJson === '{}') return `{${member}}`
  return `${metadataJson.slice(0, -1)},${member}}`
}

/** A JSON broadcast payload with `meta.switchboard` added (a copy; the original is shared). */
export function withMarkMeta(payload: Record<string, unknown>, mark: Mark): Record<string, unknown> {
  const meta = payload.meta
  const base = typeof meta === 'object' && meta !== null && !Array.isArray(meta) ? meta : {}
  return { ...payload, meta: { ...base, [RESUME_KEY]: { position: mark.position, lsn: mark.point } } }
}
