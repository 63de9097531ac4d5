/**
 * How busy the event loop has been lately: the share of the last window (~100 ms) it spent
 * running callbacks rather than waiting for I/O (Node's event-loop utilization). The outbound
 * queue paces its write rounds only while this is high (outbound-queue.ts, "Paced write
 * rounds"): pacing trades latency for CPU, which is worth it only when the CPU is short.
 *
 * @example
 *   const load = eventLoopLoad()
 *   if (load() > 0.9) { … the loop is nearly always busy … }
 */
import { performance } from 'node:perf_hooks'

/** The loop's busy share over the last window, 0…1; cheap to call on every round. */
export type LoopLoad = () => number

export function eventLoopLoad(windowMs = 100): LoopLoad {
  let mark = performance.eventLoopUtilization()
  let markedAt = performance.now()
  let share = 0
  return () => {
    const now = performance.now()
    if (now - markedAt >= windowMs) {
      const current = performance.eventLoopUtilization()
      share = performance.eventLoopUtilization(current, mark).utilization
      mark = current
      markedAt = now
    }
    return share
  }
}
