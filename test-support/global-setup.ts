/**
 * Starts ONE embedded Postgres for the whole test run and hands its admin URL to every
 * test file (through `inject('adminDatabaseUrl')`). Each file then creates its own database
 * with `createTestDatabase()`, so files stay isolated without paying ~1 s of Postgres start
 * per file. Replication slots are cluster-wide, which is why the cluster allows many.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { loadEmbeddedPostgres } from '../packages/server/src/db/embedded-postgres.js'
import { freePort } from './free-port.js'

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string
  }
}

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-test-pg-'))
  // As root, embedded-postgres runs Postgres as the 'postgres' user, which must reach the folder.
  chmodSync(dir, 0o777)
  const port = await freePort()
  // Loaded without the exit hooks the package installs: they call process.exit(0) on
  // beforeExit, which would turn a failed test run into exit code 0.
  const EmbeddedPostgres = await loadEmbeddedPostgres()
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: false,
    createPostgresUser: true,
    postgresFlags: [
      '-c', 'wal_level=logical',
      '-c', 'max_replication_slots=100',
      '-c', 'max_wal_senders=100',
      '-c', 'max_connections=400',
      '-c', 'fsync=off',
    ],
    onLog: () => {},
    onError: () => {},
  })
  await pg.initialise()
  await pg.start()
  project.provide('adminDatabaseUrl', `postgres://postgres:postgres@127.0.0.1:${port}/postgres`)
  return async () => {
    await pg.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
