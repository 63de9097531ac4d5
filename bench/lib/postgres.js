/**
 * An embedded Postgres for a benchmark run: the server's scratch Postgres (a fresh cluster in
 * a temp folder, a free port, `wal_level=logical`, `fsync=off`, removed by `stop()`), plus the
 * CPU time of its processes, which the benchmarks report per step.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pinRunning } from './child.js'

/**
 * `tmpPrefix` names the data folder; `extraFlags` are more `postgres` flags (`['-c', 'name=value']`).
 * Returns `{ url, cpuUs, stop }`; `cpuUs()` is the CPU time (µs) of the postmaster and all its
 * backends (walsender, autovacuum, …) so far.
 */
export async function startPostgres({ tmpPrefix = 'switchboard-bench-pg-', extraFlags = [] } = {}) {
  const { startScratchPostgres } = await import('../../packages/server/dist/db/scratch-postgres.js')
  const pg = await startScratchPostgres({ tmpPrefix, flags: extraFlags })
  const postmaster = Number(readFileSync(join(pg.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
  return { url: pg.url, cpuUs: () => processTreeCpuUs(postmaster), pin: (core) => pinProcessTree(postmaster, core), stop: () => pg.stop() }
}

/**
 * Pins `pid` and its direct children (every thread) to `core` (a taskset core list). Backends
 * forked later inherit the postmaster's affinity. Returns false where taskset is missing.
 */
function pinProcessTree(pid, core) {
  return processTree(pid).every(({ pid: p }) => pinRunning(p, core))
}

/** utime + stime (µs) of `pid` and its direct children, from /proc (0 where unreadable). */
function processTreeCpuUs(pid) {
  const total = processTree(pid).reduce((sum, { cpu }) => sum + cpu, 0)
  return (total * 1e6) / CLOCK_TICKS
}

/** `pid` and its direct children, each with its CPU ticks so far (utime + stime), from /proc. */
function processTree(pid) {
  const tree = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1].split(' ')
      if (Number(entry) === pid || Number(fields[1]) === pid) tree.push({ pid: Number(entry), cpu: Number(fields[11]) + Number(fields[12]) })
    } catch { /* exited meanwhile */ }
  }
  return tree
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100
