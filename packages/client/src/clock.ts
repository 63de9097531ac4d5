/**
 * Every timer of the SDK goes through a {@link Clock}, so tests can drive time (fake timers or a
 * hand-rolled clock) and nothing schedules work behind the manager's back.
 *
 * BAD:  `setTimeout(retry, delay)` inside the connection code (untestable, leaks on cleanup).
 * GOOD: `this.clock.setTimeout(retry, delay)` and keep the handle to clear it.
 * (The pattern is TanStack Query's `timeoutManager.ts`.)
 */

/** Opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown

/** The time source and timer provider. */
export interface Clock {
  now(): number
  setTimeout(callback: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

/**
 * The default clock. It looks up the globals on every call (not once at import), so
 * `vi.useFakeTimers()` installed after import still takes effect.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
}

/** A single restartable timer on a clock (the Phoenix `Timer` idea without the tries counter). */
export class Timer {
  #handle: TimerHandle | undefined
  readonly #clock: Clock

  constructor(clock: Clock) {
    this.#clock = clock
  }

  get pending(): boolean {
    return this.#handle !== undefined
  }

  /** Schedules `callback` after `ms`, cancelling whatever was scheduled before. */
  start(callback: () => void, ms: number): void {
    this.cancel()
    this.#handle = this.#clock.setTimeout(() => {
      this.#handle = undefined
      callback()
    }, Math.max(0, ms))
  }

  cancel(): void {
    if (this.#handle !== undefined) {
      this.#clock.clearTimeout(this.#handle)
      this.#handle = undefined
    }
  }
}
