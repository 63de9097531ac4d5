/**
 * A throwaway Postgres for test runs and benchmarks: a fresh cluster in a temp folder, a free
 * port, `wal_level=logical` (the change stream needs it) and `fsync=off` (nothing here must
 * survive a crash); `stop()` removes it again. The product's persistent database is
 * `startEmbeddedPostgres` (embedded-postgres.ts).
 *
 * @example
 * const pg = await startScratchPostgres({ flags: ['-c', 'max_replication_slots=100'] })
 * // … pg.url …
 * await pg.stop()
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadEmbeddedPostgres } from './embedded-postgres.js'
import { freePort } from './free-port.js'

export interface ScratchPostgres {
  /** Superuser URL of the `postgres` database. */
  url: string
  port: number
  /** The cluster's data folder (its `postmaster.pid` names the server process). */
  dataDir: string
  stop(): Promise<void>
}

export async function startScratchPostgres(options: { tmpPrefix?: string; flags?: readonly string[] } = {}): Promise<ScratchPostgres> {
  const EmbeddedPostgres = await loadEmbeddedPostgres()
  const dir = mkdtempSync(join(tmpdir(), options.tmpPrefix ?? 'switchboard-scratch-pg-'))
  // As root, embedded-postgres runs Postgres as the OS user 'postgres', which must reach the folder.
  chmodSync(dir, 0o777)
  const port = await freePort()
  const dataDir = join(dir, 'data')
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'wal_level=logical', '-c', 'fsync=off', ...(options.flags ?? [])],
    onLog: () => {},
    onError: () => {},
  })
  await pg.initialise()
  await pg.start()
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    async stop() {
      await pg.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
