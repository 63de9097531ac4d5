/**
 * A clock the test moves by hand, for the SDK's `clock` option. Only the SDK's own timers run on
 * it (backoff, grace, probe deadlines, channel retries); sockets, realtime-js and the server keep
 * real time. So a test waits for I/O (a refused connection, a join reply) but never for a
 * backoff window or a grace period: it reads when the timer is due and moves time there.
 */
import type { Clock, TimerHandle } from '@switchboard/client'

interface Scheduled {
  at: number
  callback: () => void
}

export class ManualClock implements Clock {
  #now: number
  #nextId = 1
  readonly #timers = new Map<number, Scheduled>()

  constructor(start = 1_000_000) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.#nextId++
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), callback })
    return id
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number)
  }

  /** Delays (from now) of the timers still pending, soonest first. */
  get pending(): number[] {
    return [...this.#timers.values()].map((t) => t.at - this.#now).sort((a, b) => a - b)
  }

  /** Moves time forward by `ms`, firing due timers in order (including timers they schedule). */
  advance(ms: number): void {
    const end = this.#now + ms
    for (;;) {
      let next: [number, Scheduled] | undefined
      for (const entry of this.#timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry
      if (!next) break
      this.#timers.delete(next[0])
      this.#now = next[1].at
      next[1].callback()
    }
    this.#now = end
  }

  /** Moves time to `at` (a `clock.now()` value such as `ConnectionSnapshot.retryAt`). */
  advanceTo(at: number): void {
    this.advance(Math.max(0, at - this.#now))
  }
}
