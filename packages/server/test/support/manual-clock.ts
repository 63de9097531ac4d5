/**
 * A clock whose time and timers move only when the test says so. `advance(ms)` fires every
 * timer due within the window in time order, including timers that earlier ones set.
 */
import type { Clock, ClockTimer } from '../../src/clock.js'

export class ManualClock implements Clock {
  time: number
  #timers = new Map<number, { at: number; callback: () => void }>()
  #next = 1

  constructor(start = 0) {
    this.time = start
  }

  now(): number {
    return this.time
  }

  setTimeout(callback: () => void, ms: number): ClockTimer {
    const id = this.#next++
    this.#timers.set(id, { at: this.time + ms, callback })
    return id as unknown as ClockTimer
  }

  clearTimeout(timer: ClockTimer): void {
    this.#timers.delete(timer as unknown as number)
  }

  /** Timers not fired yet. */
  get pending(): number {
    return this.#timers.size
  }

  advance(ms: number): void {
    const until = this.time + ms
    for (;;) {
      const due = [...this.#timers].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0]
      if (!due) break
      this.#timers.delete(due[0])
      this.time = due[1].at
      due[1].callback()
    }
    this.time = until
  }
}
