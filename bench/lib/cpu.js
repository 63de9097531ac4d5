/** Scheduler readings from /proc for the benchmark processes (Linux; 0 where it does not exist). */
import { readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'

/** Nanoseconds the main thread spent runnable but waiting for a core (/proc/self/schedstat). */
export function runQueueWaitNs() {
  try { return Number(readFileSync('/proc/self/schedstat', 'utf8').split(' ')[1]) } catch { return 0 }
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100

/**
 * utime + stime of process `pid` so far, in µs (all its threads; 0 when it is gone). Read from
 * outside the process, so it works for processes that answer no IPC (redis-server, the workers
 * of node:cluster). Resolution: one clock tick (10 ms).
 */
export function processCpuUs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS
  } catch {
    return 0
  }
}
