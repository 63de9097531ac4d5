/**
 * The tenant's ordered log: every message the tenant delivers (broadcasts, database broadcasts,
 * Postgres changes) is appended here first and gets the next position of one tenant-wide
 * sequence. A subscriber is a cursor into it (hub/tenant-hub.ts); resuming is reading it again
 * from an earlier position.
 *
 * One log per tenant, shared by all channels: memory grows with messages, never with
 * subscribers. Bounded three ways (count, bytes, age), with the oldest entries evicted first.
 * Positions are meaningful only within one `epoch` (a random id chosen when the log is created,
 * so once per process). Each entry also carries its *stream point* (protocol `resume.ts`): the
 * commit LSN and index of a change, or the point of the newest change before a broadcast.
 * Points survive restarts, because the replication slot keeps the changes: entries re-read from
 * the slot after a restart are appended as `historical` (delivered only to resuming channels,
 * never live), so a resume from an older epoch can still be served by point.
 *
 *   append ──▶ [ seq 41 │ seq 42 │ … │ seq 97 ] ──▶ evict (count / bytes / age)
 *                 ▲ firstSeq                ▲ lastSeq
 *
 * In a cluster the positions come from the shared log in Redis (cluster/redis-tenant-log.ts)
 * and this log is the node's copy of the part it receives: entries are appended at the
 * position they were given (`appendAt`), so positions may skip, and `advanceTo` moves the
 * last position past messages this node does not host.
 */
import { randomBytes } from 'node:crypto'
import { STREAM_START, type GapReason } from '@switchboard/protocol'
import type { Clock } from '../clock.js'

export interface LogLimits {
  /** Most entries kept. */
  maxMessages: number
  /** Most bytes of message payload kept (an estimate: the payload's encoded size). */
  maxBytes: number
  /** Entries older than this are evicted. */
  maxAgeMs: number
}

export const DEFAULT_LOG_LIMITS: Readonly<LogLimits> = Object.freeze({
  maxMessages: 100_000,
  maxBytes: 64 * 1024 * 1024,
  maxAgeMs: 2 * 60_000,
})

export interface LogEntry<T> {
  readonly seq: number
  readonly at: number
  readonly bytes: number
  /** Stream point (fixed-width text, compares as a string). */
  readonly point: string
  /** Re-read from the replication slot after a restart: for resuming channels only. */
  readonly historical: boolean
  readonly value: T
}

export type SinceResult<T> =
  | { ok: true; entries: LogEntry<T>[]; lastSeq: number; point: string }
  | { ok: false; reason: Extract<GapReason, 'epoch' | 'evicted' | 'future'> }

/** Entries are kept in a ring that grows by doubling up to `maxMessages`. */
export class DeliveryLog<T> {
  readonly epoch: string
  #ring: (LogEntry<T> | undefined)[]
  #head = 0 // index of the oldest entry
  #size = 0
  #bytes = 0
  #lastSeq = 0
  /** Point of the newest change appended: what a broadcast appended now is positioned at. */
  #headPoint = STREAM_START
  /** Highest position ever evicted: a resume from below it has lost messages. */
  #evictedThrough = 0
  /** Highest point of an evicted historical entry, and whether a live one was ever evicted. */
  #evictedHistoricalPoint = STREAM_START
  #evictedLive = false
  /** Changes before this point are gone from the slot (set when the log is rebuilt from it). */
  #floorPoint: string | null = null
  /** Positions skip (a cluster node's copy): entries are found by search, not arithmetic. */
  #sparse = false

  constructor(
    private readonly limits: LogLimits,
    private readonly clock: Clock,
    epoch = randomBytes(6).toString('base64url'),
  ) {
    this.epoch = epoch
    this.#ring = new Array(Math.min(1024, limits.maxMessages))
  }

  get lastSeq(): number {
    return this.#lastSeq
  }

  get headPoint(): string {
    return this.#headPoint
  }

  /** Every entry at or below this position has left the log. */
  get evictedThrough(): number {
    return this.#evictedThrough
  }

  get size(): number {
    return this.#size
  }

  get bytes(): number {
    return this.#bytes
  }

  /**
   * The log was (re)built from a replication slot whose confirmed position was `point`: a
   * resume from an earlier point has lost the changes in between.
   */
  setFloor(point: string): void {
    this.#floorPoint = point
  }

  /** The stream starts at `point` (nothing before it can be replayed): later entries are positioned at or after it. */
  raiseHead(point: string): void {
    if (point > this.#headPoint) this.#headPoint = point
  }

  /**
   * Appends a message and returns its position. `point` is given for entries of the change
   * stream (changes, database broadcasts) and moves the head; other entries take the head's.
   */
  append(value: T, bytes: number, point?: string, historical = false): number {
    this.#write(this.#lastSeq + 1, value, bytes, point, historical)
    return this.#lastSeq
  }

  /**
   * Appends a message positioned elsewhere (the cluster's shared log) at `seq`, which must be
   * after every position this log has seen. Positions may skip: the node holds only the
   * topics it hosts.
   */
  appendAt(seq: number, value: T, bytes: number, point?: string): void {
    if (seq <= this.#lastSeq) throw new RangeError(`position ${seq} is not after ${this.#lastSeq}`)
    this.#sparse ||= seq !== this.#lastSeq + 1
    this.#write(seq, value, bytes, point, false)
  }

  /** The one writer of the ring: evicts what the new entry pushes out, grows when full. */
  #write(seq: number, value: T, bytes: number, point: string | undefined, historical: boolean): void {
    const now = this.clock.now()
    this.#evict(now, bytes, 1)
    if (this.#size === this.#ring.length) this.#grow()
    if (point !== undefined && point > this.#headPoint) this.#headPoint = point
    this.#lastSeq = seq
    this.#ring[(this.#head + this.#size) % this.#ring.length] = { seq, at: now, bytes, point: point ?? this.#headPoint, historical, value }
    this.#size += 1
    this.#bytes += bytes
  }

  /** Everything up to `seq` has been seen (the cluster's log reached it): later entries come after. */
  advanceTo(seq: number): void {
    if (seq <= this.#lastSeq) return
    this.#sparse = true
    this.#lastSeq = seq
  }

  /** Drops what is over the age bound without appending (called periodically when idle). */
  evictExpired(): void {
    this.#evict(this.clock.now(), 0, 0)
  }

  /**
   * Everything after `position` in `epoch`, oldest first, or why that is impossible without a
   * gap. `lastSeq` is the log's position at the time of the call (where live delivery resumes).
   */
  since(epoch: string, position: number): SinceResult<T> {
    if (epoch !== this.epoch) return { ok: false, reason: 'epoch' }
    if (position > this.#lastSeq) return { ok: false, reason: 'future' }
    this.#evict(this.clock.now(), 0, 0)
    if (position < this.#evictedThrough) return { ok: false, reason: 'evicted' }
    const entries: LogEntry<T>[] = []
    // Positions are consecutive on one node, so the first wanted entry is found by arithmetic.
    const first = this.#size === 0 ? 0 : this.#sparse ? this.#firstAfter(position) : position + 1 - this.#entryAt(0)!.seq
    for (let i = Math.max(0, first); i < this.#size; i++) entries.push(this.#entryAt(i)!)
    return { ok: true, entries, lastSeq: this.#lastSeq, point: this.#headPoint }
  }

  /**
   * For a client of an earlier epoch (the server restarted) whose last message was at stream
   * point `point`: the historical entries after that point and every entry of this epoch, or
   * why that is impossible. Only the change stream survives a restart: the caller says what
   * else may have been lost.
   */
  sinceStreamPoint(point: string): SinceResult<T> {
    if (this.#floorPoint === null) return { ok: false, reason: 'epoch' }
    this.#evict(this.clock.now(), 0, 0)
    if (point < this.#floorPoint || point < this.#evictedHistoricalPoint || this.#evictedLive) return { ok: false, reason: 'evicted' }
    const entries: LogEntry<T>[] = []
    for (let i = 0; i < this.#size; i++) {
      const entry = this.#entryAt(i)!
      if (!entry.historical || entry.point > point) entries.push(entry)
    }
    return { ok: true, entries, lastSeq: this.#lastSeq, point: this.#headPoint }
  }

  /** Offset of the first entry after `position` (binary search; positions only grow). */
  #firstAfter(position: number): number {
    let low = 0
    let high = this.#size
    while (low < high) {
      const middle = (low + high) >>> 1
      if (this.#entryAt(middle)!.seq <= position) low = middle + 1
      else high = middle
    }
    return low
  }

  #entryAt(offset: number): LogEntry<T> | undefined {
    return this.#ring[(this.#head + offset) % this.#ring.length]
  }

  /** Makes room for `incomingCount` entries of `incomingBytes` and drops what is too old. */
  #evict(now: number, incomingBytes: number, incomingCount: number): void {
    const oldestAllowed = now - this.limits.maxAgeMs
    while (this.#size > 0) {
      const oldest = this.#entryAt(0)!
      const over =
        this.#size + incomingCount > this.limits.maxMessages ||
        this.#bytes + incomingBytes > this.limits.maxBytes ||
        oldest.at < oldestAllowed
      if (!over) break
      this.#ring[this.#head] = undefined
      this.#head = (this.#head + 1) % this.#ring.length
      this.#size -= 1
      this.#bytes -= oldest.bytes
      this.#evictedThrough = oldest.seq
      if (!oldest.historical) this.#evictedLive = true
      else if (oldest.point > this.#evictedHistoricalPoint) this.#evictedHistoricalPoint = oldest.point
    }
  }

  #grow(): void {
    const capacity = Math.min(this.limits.maxMessages, this.#ring.length * 2)
    if (capacity === this.#ring.length) return
    const next: (LogEntry<T> | undefined)[] = new Array(capacity)
    for (let i = 0; i < this.#size; i++) next[i] = this.#entryAt(i)
    this.#ring = next
    this.#head = 0
  }
}
