/** Scheduler readings from /proc for the benchmark processes (Linux; 0 where it does not exist). */
import { readFileSync } from 'node:fs'

/** Nanoseconds the main thread spent runnable but waiting for a core (/proc/self/schedstat). */
export function runQueueWaitNs() {
  try { return Number(readFileSync('/proc/self/schedstat', 'utf8').split(' ')[1]) } catch { return 0 }
}
