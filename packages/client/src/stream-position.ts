/**
 * Where a channel's stream stands, read from raw messages (the resume contract of
 * `@switchboard/protocol`'s `resume.ts`). Pure: the channel feeds it every message before
 * realtime-js dispatches it and asks it where to resume; tests feed it wire fixtures.
 *
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

  /** A `phx_reply`: `true` when it is a join reply of a server that speaks positions. */
  reply(p: RawPayload): boolean {
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

  /** Any other message: `true` when it is a duplicate (at or below the last position). */
  duplicate(event: string, p: RawPayload): boolean {
    const broadcast = event === 'broadcast'
    const mark = broadcast ? p?.meta?.switchboard : p?.switchboard
    const position = mark?.position
    if (typeof position !== 'number') return false
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
