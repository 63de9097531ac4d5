/**
 * The resume contract: how a channel learns where its stream stands, and how it asks to
 * continue from there after a break. Server and client both import this file, so the wire
 * names and codes live in one place.
 *
 * Everything rides under one namespaced key, `switchboard`, that the official client carries
 * untouched and the Supabase server ignores:
 *
 *   join payload   "switchboard": { "session": "s-1", "resume": { "epoch": "e", "position": 41, "lsn": "…" } }
 *   join reply     "response": { …, "switchboard": { "epoch": "e", "resuming": true } }
 *   change         "payload": { "ids": […], "data": {…}, "switchboard": { "position": 42, "lsn": "…" } }
 *   broadcast      "payload": { …, "meta": { "switchboard": { "position": 43, "lsn": "…" } } }
 *   status         system { "extension": "switchboard", "code": "Fresh" | "Resumed" | "Gap", "epoch", "position", "lsn", … }
 *
 * Positions are the tenant log's: consecutive integers within one `epoch` (the log's life).
 * `lsn` is the *stream point* of the message: for a Postgres change its commit LSN and index in
 * the transaction; for anything else the point of the newest change logged before it. Unlike
 * positions, stream points survive a server restart (the replication slot keeps the changes), so
 * a resume into a new epoch can still replay every change after the client's point.
 *
 * **Live means live.** The status is pushed when the channel is live: every postgres_changes
 * binding registered and everything the channel missed (since `resume`, or since its join
 * position for a fresh join) delivered. A client reports "connected" on the status, not on the
 * join reply: nothing committed after the status can be lost, and nothing committed between
 * the join and the status is lost either, because the server replays it.
 */

/** The key of the extension in join payloads, join replies, message metadata and `system` messages. */
export const RESUME_KEY = 'switchboard'

export const ResumeCode = {
  /** A fresh join (no resume point) is live; `position` is where its stream starts. */
  fresh: 'Fresh',
  /** The resume replayed everything the channel missed (`replayed` messages); live from `position`. */
  resumed: 'Resumed',
  /** What the channel missed cannot be replayed (`reason`): refetch the current state. */
  gap: 'Gap',
} as const
export type ResumeCode = (typeof ResumeCode)[keyof typeof ResumeCode]

/** Why a resume is a gap. */
export type GapReason =
  /** The position belongs to another epoch and its stream point cannot be served either. */
  | 'epoch'
  /** Older than the replay window kept (count, bytes or age bounds). */
  | 'evicted'
  /** Ahead of the log: the client holds a position the server never gave. */
  | 'future'
  /** More live messages arrived during the replay than a channel may hold. */
  | 'overflow'
  /** The replay itself failed (database unavailable). */
  | 'error'

/** What a resume into a new epoch could not replay: ephemeral broadcasts die with a process. */
export type LostKind = 'broadcast'

/** Where a client asks to continue. */
export interface ResumePoint {
  epoch: string
  position: number
  /** The stream point of the last message the channel received (or of its last status). */
  lsn?: string
}

/**
 * The `switchboard` key of a join payload. `session` identifies the client's channel across
 * reconnects, so a `self: false` channel is not replayed its own broadcasts.
 */
export interface ResumeRequest {
  session: string | null
  resume: ResumePoint | null
}

/** The `switchboard` key of a positioned message. */
export interface MessageMark {
  position: number
  lsn?: string
}

/** The `system` message that tells a channel it is live and where its stream stands. */
export interface ResumeStatus {
  extension: typeof RESUME_KEY
  status: 'ok' | 'error'
  code: ResumeCode
  message: string
  channel: string
  epoch: string
  position: number
  lsn: string
  /** Messages replayed before this status (Fresh and Resumed). */
  replayed?: number
  reason?: GapReason
  /** Resumed into a new epoch: these kinds may have been lost (a gap limited to them). */
  lost?: LostKind[]
}

export const RESUME_STATUS_MESSAGES: Readonly<Record<ResumeCode, string>> = {
  Fresh: 'Live from the join position',
  Resumed: 'Resumed from the given position',
  Gap: 'Messages since the given position are no longer available; refetch the current state',
}

const MAX_SESSION_LENGTH = 128
const MAX_EPOCH_LENGTH = 64

/**
 * The `switchboard` key of a join payload: null when absent, undefined when malformed.
 */
export function parseResumeRequest(raw: unknown): ResumeRequest | null | undefined {
  if (raw === undefined || raw === null) return null
  if (!isObject(raw)) return undefined
  const session = raw.session ?? null
  if (session !== null && (typeof session !== 'string' || session.length > MAX_SESSION_LENGTH)) return undefined
  const resume = raw.resume ?? null
  if (resume === null) return { session, resume: null }
  if (!isObject(resume)) return undefined
  const { epoch, position, lsn } = resume
  if (typeof epoch !== 'string' || epoch.length === 0 || epoch.length > MAX_EPOCH_LENGTH) return undefined
  if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 0) return undefined
  if (lsn !== undefined && lsn !== null && (typeof lsn !== 'string' || parseStreamPoint(lsn) === null)) return undefined
  return { session, resume: typeof lsn === 'string' ? { epoch, position, lsn } : { epoch, position } }
}

// ─── stream points ──────────────────────────────────────────────────────────────────────────

/**
 * A point in the change stream: a commit LSN and the index of a change in its transaction.
 * On the wire it is fixed-width hex (`"00000000016B3748.00000003"`), so comparing two points as
 * strings compares them as points.
 */
export interface StreamPoint {
  lsn: bigint
  index: number
}

/** The point before every change. */
export const STREAM_START = '0000000000000000.00000000'

export function formatStreamPoint(lsn: bigint, index: number): string {
  return `${lsn.toString(16).toUpperCase().padStart(16, '0')}.${index.toString(16).toUpperCase().padStart(8, '0')}`
}

export function parseStreamPoint(text: string): StreamPoint | null {
  const match = /^([0-9A-F]{16})\.([0-9A-F]{8})$/.exec(text)
  if (!match) return null
  return { lsn: BigInt(`0x${match[1]}`), index: Number.parseInt(match[2]!, 16) }
}

/**
 * A Postgres `pg_lsn` text (`"0/16B3748"`, what `pg_current_wal_lsn()` returns) as a bigint.
 * A change was committed after a loader read at `pg_current_wal_lsn()` = X iff its commit LSN
 * is >= X (the commit record of anything the loader could see lies before X).
 */
export function parsePgLsn(text: string): bigint | null {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text)
  if (!match) return null
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`)
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
