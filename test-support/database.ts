/**
 * Per-file databases on the run's shared embedded Postgres (see global-setup.ts).
 */
import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { inject } from 'vitest'

export interface TestDatabase {
  /** Connection string of the new, empty database. */
  url: string
  name: string
  /** Drops the database (terminating its connections and replication slots). */
  drop(): Promise<void>
}

export async function createTestDatabase(prefix = 'sb'): Promise<TestDatabase> {
  const adminUrl = inject('adminDatabaseUrl')
  const name = `${prefix}_${randomBytes(5).toString('hex')}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`create database ${name}`)
  } finally {
    await admin.end()
  }
  const url = adminUrl.replace(/\/postgres$/, `/${name}`)
  return {
    url,
    name,
    async drop() {
      const sql = postgres(adminUrl, { max: 1, onnotice: () => {} })
      try {
        await sql`select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = ${name} and not active`
        await sql.unsafe(`drop database if exists ${name} with (force)`)
      } catch {
        // A slot still active at teardown is dropped with the database; nothing to leak.
      } finally {
        await sql.end()
      }
    },
  }
}
