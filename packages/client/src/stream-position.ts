/**
 * Where a channel's stream stands, read from raw messages (the resume contract of
 * `@switchboard/protocol`'s `resume.ts`). Pure: the channel feeds it every message before
 * realtime-js dispatches it and asks it where to resume; tests feed it wire fixtures.
 *
 *   join         (a new instance; see join())          → positioned messages before its reply are an
 *                                                        older join's, dropped
 *   join reply   response.switchboard = { epoch }     → the server speaks positions; a new epoch
 *                                                        restarts deduplication (positions are per epoch)
 *   change       payload.switchboard = { position, lsn }       ┐ at or below the last position:
 *   broadcast    payload.meta.switchboard = { position, lsn }  ┘ a duplicate, dropped
 *   status       system { extension: 'switchboard', code, epoch, position, lsn, … } → the channel is live
 *
 * Two points are kept: the last **position** (dedupe, and the resume point within an epoch) and
 * the newest **stream point** `lsn`, which survives a server restart, so a resume into a new
 * epoch can still replay every change after it.
 */
import { parseStreamPoint, RESUME_KEY, type MessageMark, type ResumePoint, type ResumeStatus } from '@switchboard/protocol'

/** The parts of raw payloads read here (anything may be missing or malformed on the wire). */
export type RawPayload =
  | {
      response?: Record<string, unknown>
      extension?: unknown
      code?: unknown
      epoch?: unknown
      position?: unknown
      lsn?: unknown
      ids?: unknown
      switchboard?: Partial<MessageMark>
      meta?: { switchboard?: Partial<MessageMark> }
    }
  | undefined

export class StreamPosition {
  /** The epoch `position` belongs to (the current join's, from its reply). */
  epoch: string | undefined
  /** The last position received in `epoch`, `-1` before any. */
  position = -1
  /** The newest stream point received, whatever the epoch. */
  lsn: string | undefined
  /** The last position received, in the epoch it was received in (a new epoch keeps it until its first message). */
  #point: { epoch: string; position: number } | undefined
  /** Changes already received at `position`: one change may arrive as several messages (one per payload variant). */
  readonly #ids = new Set<string>()
  /** A join was sent and its reply has not come yet (see {@link join}). */
  #joining = false
  // What {@link read} learnt of the current join (reset by {@link join}):
  /** Its reply carried `switchboard`: the server speaks positions and will say Fresh/Resumed/Gap. */
  speaks = false
  /** Its live status, once received. */
  live: ResumeStatus | undefined
  /** The message read last is a duplicate or an older join's: bindings skip it. */
  drop = false
  /** The mark of the message read last (handed to change handlers as `switchboard`). */
  mark: Partial<MessageMark> | undefined

  /** Where to resume, or `null` before anything was received. */
  resumePoint(): ResumePoint | null {
    const point = this.#point
    return point ? (this.lsn ? { ...point, lsn: this.lsn } : { ...point }) : null
  }

  /**
   * Moves back to `point` when it is older than where the stream stands (or nothing was received
   * yet), so the next join resumes from there; `true` when it moved. Within an epoch positions
   * compare; across epochs, stream points.
   */
  rewind(point: ResumePoint): boolean {
    const current = this.#point
    if (current && (point.epoch === current.epoch ? point.position >= current.position : (point.lsn ?? '') >= (this.lsn ?? ''))) return false
    this.epoch = point.epoch
    this.position = point.position
    this.lsn = point.lsn
    this.#ids.clear()
    this.#point = { epoch: point.epoch, position: point.position }
    return true
  }

  /**
   * A new channel instance joins: the point it resumes from (as {@link resumePoint}). Until its
   * join reply, positioned messages are dropped.
   *
   * ┌─────────────────────────────────────────────────────────────────────────────────────────┐
   * │ Why: an instance replaced on a live socket (a rewind for another tab, a rebind) leaves  │
   * │ and joins the same topic at once: realtime-js resolves the leave without waiting for    │
   * │ the server. A change or broadcast the server had queued for the old join still arrives  │
   * │ after that, and it carries no join_ref (one frame is encoded for every member of the    │
   * │ topic), so Phoenix's `isMember` hands it to the new instance. Taken as the new join's,  │
   * │ it moves the position past the point the join resumes from, and the replay that follows │
   * │ the reply is then dropped as duplicates: after a rewind, everything between the two is  │
   * │ lost. The server sends a join's positioned frames only after its reply (replayed, then  │
   * │ held ones; server `channel-feed.ts`), so anything positioned before the reply is stale, │
   * │ and the replay brings it again when it is after the resume point.                       │
   * └─────────────────────────────────────────────────────────────────────────────────────────┘
   */
  join(): ResumePoint | null {
    this.#joining = true
    this.speaks = this.drop = false
    this.live = this.mark = undefined
    return this.resumePoint()
  }

  /**
   * Reads one raw message of the current join, before realtime-js dispatches it: tracks the
   * stream, flags duplicates (`drop`), keeps the mark, and returns `true` when it is the live status.
   */
  read(event: string, p: RawPayload): boolean {
    this.drop = false
    if (event === 'phx_reply') {
      if (this.reply(p)) this.speaks = true
    } else if (event === 'system') {
      const status = this.status(p)
      if (status) this.live = status
      return !!status
    } else {
      this.drop = this.duplicate(event, p)
      this.mark = p?.switchboard
    }
    return false
  }

  /** A `phx_reply` (the first one of an instance answers its join): `true` when it is a join reply of a server that speaks positions. */
  reply(p: RawPayload): boolean {
    this.#joining = false
    const key = p?.response?.[RESUME_KEY] as { epoch?: unknown } | undefined
    if (typeof key !== 'object' || key === null) return false
    this.#enter(key.epoch)
    return true
  }

  /** A `system` message: the live status when it is the resume contract's, else `undefined`. */
  status(p: RawPayload): ResumeStatus | undefined {
    if (p?.extension !== RESUME_KEY || typeof p.code !== 'string') return undefined
    this.#enter(p.epoch)
    this.#advance(p.position, p.lsn)
    return p as unknown as ResumeStatus
  }

  /** Any other message: `true` when it is a duplicate (at or below the last position) or an older join's (see {@link join}). */
  duplicate(event: string, p: RawPayload): boolean {
    const broadcast = event === 'broadcast'
    const mark = broadcast ? p?.meta?.switchboard : p?.switchboard
    const position = mark?.position
    if (typeof position !== 'number') return false
    if (this.#joining) return true
    const id = broadcast ? '' : String(p?.ids)
    if (position < this.position || (position === this.position && (broadcast || this.#ids.has(id)))) return true
    this.#advance(position, mark?.lsn)
    this.#ids.add(id)
    return false
  }

  #enter(epoch: unknown): void {
    if (typeof epoch !== 'string' || epoch === this.epoch) return
    this.epoch = epoch
    this.position = -1
    this.#ids.clear()
  }

  #advance(position: unknown, lsn: unknown): void {
    if (typeof position === 'number' && position > this.position && this.epoch !== undefined) {
      this.position = position
      this.#ids.clear()
      this.#point = { epoch: this.epoch, position }
    }
    // Stream points are fixed-width hex, so comparing the strings compares the points. A
    // malformed one is never kept: the server refuses a join whose resume point is malformed.
    if (typeof lsn === 'string' && (this.lsn === undefined || lsn > this.lsn) && parseStreamPoint(lsn)) this.lsn = lsn
  }
}
