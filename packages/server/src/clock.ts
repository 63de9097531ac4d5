/**
 * Time, injectable so tests can control it. Everything that reads the time or sets a timer in
 * the server takes a Clock rather than calling Date.now()/setTimeout directly.
 */
export interface Clock {
  now(): number
  setTimeout(callback: () => void, ms: number): ClockTimer
  clearTimeout(timer: ClockTimer): void
}

export type ClockTimer = ReturnType<typeof setTimeout>

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, ms)
    timer.unref?.()
    return timer
  },
  clearTimeout: (timer) => clearTimeout(timer),
}
