/**
 * The tenant's replay buffer: every message delivered on any channel (broadcasts, database
 * broadcasts, Postgres changes) gets the next position of one tenant-wide sequence and is kept
 * here for a while, so a channel that rejoins after a break can receive exactly what it missed.
 *
 * One log per tenant, shared by all channels: memory grows with messages, never with
 * subscribers. Bounded three ways (count, bytes, age), with the oldest entries evicted first.
 * Positions are meaningful only within one epoch (a random id chosen when the log is
 * created): a position from another epoch, or older than the oldest entry kept, cannot be
 * replayed without a gap, and `since()` says so instead of returning a partial history.
 *
 *   append ──▶ [ seq 41 │ seq 42 │ … │ seq 97 ] ──▶ evict (count / bytes / age)
 *                 ▲ firstSeq                ▲ lastSeq
 */
import { randomBytes } from 'node:crypto'
import type { Clock } from '../clock.js'

export interface ReplayLimits {
  /** Most entries kept. */
  maxMessages: number
  /** Most bytes of message payload kept (an estimate: the payload's encoded size). */
  maxBytes: number
  /** Entries older than this are evicted. */
  maxAgeMs: number
}

export const DEFAULT_REPLAY_LIMITS: Readonly<ReplayLimits> = Object.freeze({
  maxMessages: 100_000,
  maxBytes: 64 * 1024 * 1024,
  maxAgeMs: 2 * 60_000,
})

export interface LogEntry<T> {
  readonly seq: number
  readonly at: number
  readonly bytes: number
  readonly value: T
}

export type SinceResult<T> =
  | { ok: true; entries: LogEntry<T>[]; lastSeq: number }
  | { ok: false; reason: 'epoch' | 'evicted' | 'future' }

/** Entries are kept in a ring that grows by doubling up to `maxMessages`. */
export class ReplayLog<T> {
  readonly epoch: string
  #ring: (LogEntry<T> | undefined)[]
  #head = 0 // index of the oldest entry
  #size = 0
  #bytes = 0
  #lastSeq = 0
  /** Highest position ever evicted: a resume from below it has lost messages. */
  #evictedThrough = 0

  constructor(
    private readonly limits: ReplayLimits,
    private readonly clock: Clock,
    epoch = randomBytes(6).toString('base64url'),
  ) {
    this.epoch = epoch
    this.#ring = new Array(Math.min(1024, limits.maxMessages))
  }

  get lastSeq(): number {
    return this.#lastSeq
  }

  get size(): number {
    return this.#size
  }

  get bytes(): number {
    return this.#bytes
  }

  /** Appends a message and returns its position. */
  append(value: T, bytes: number): number {
    const now = this.clock.now()
    this.#evict(now, bytes)
    if (this.#size === this.#ring.length) this.#grow()
    const seq = ++this.#lastSeq
    this.#ring[(this.#head + this.#size) % this.#ring.length] = { seq, at: now, bytes, value }
    this.#size += 1
    this.#bytes += bytes
    return seq
  }

  /**
   * Everything after `position` in `epoch`, oldest first, or why that is impossible without a
   * gap. `lastSeq` is the log's position at the time of the call (where live delivery resumes).
   */
  since(epoch: string, position: number): SinceResult<T> {
    if (epoch !== this.epoch) return { ok: false, reason: 'epoch' }
    if (position > this.#lastSeq) return { ok: false, reason: 'future' }
    this.#evict(this.clock.now(), 0)
    if (position < this.#evictedThrough) return { ok: false, reason: 'evicted' }
    const entries: LogEntry<T>[] = []
    // Positions are consecutive, so the first wanted entry is found by arithmetic, not search.
    const first = this.#size === 0 ? 0 : position + 1 - this.#entryAt(0)!.seq
    for (let i = Math.max(0, first); i < this.#size; i++) entries.push(this.#entryAt(i)!)
    return { ok: true, entries, lastSeq: this.#lastSeq }
  }

  #entryAt(offset: number): LogEntry<T> | undefined {
    return this.#ring[(this.#head + offset) % this.#ring.length]
  }

  #evict(now: number, incomingBytes: number): void {
    const oldestAllowed = now - this.limits.maxAgeMs
    while (this.#size > 0) {
      const oldest = this.#entryAt(0)!
      const over =
        this.#size >= this.limits.maxMessages ||
        this.#bytes + incomingBytes > this.limits.maxBytes ||
        oldest.at < oldestAllowed
      if (!over) break
      this.#ring[this.#head] = undefined
      this.#head = (this.#head + 1) % this.#ring.length
      this.#size -= 1
      this.#bytes -= oldest.bytes
      this.#evictedThrough = oldest.seq
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
