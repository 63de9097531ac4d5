/**
 * Migrations the server applies to the app database at every start.
 *
 *   start ──► begin ──► advisory lock ──► version table ──► apply missing, in order ──► commit
 *
 * - Idempotent twice over: each migration runs once (recorded in
 *   `realtime.switchboard_migrations`), and each migration's SQL itself only creates what is
 *   missing, so a database already prepared by Supabase is left as it is.
 * - Safe to run concurrently (several servers starting on one database): a transaction-level
 *   advisory lock serialises them; the second one finds the versions recorded and does nothing.
 * - All or nothing: one transaction, so a failed start leaves no half-made schema.
 *
 * To change the schema later, APPEND a migration with the next version; never edit a released
 * one (databases that applied it would not see the edit).
 */
import type postgres from 'postgres'
import type { Logger } from '../logger.js'
import { AUTH_SQL } from './sql/auth.js'
import { REALTIME_SQL } from './sql/realtime.js'
import { ROLES_SQL } from './sql/roles.js'

/** One schema step. `sql` may hold several statements (it runs through the simple protocol). */
export interface Migration {
  version: number
  name: string
  sql: string
}

/** The ordered list of migrations. Append only. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'roles', sql: ROLES_SQL },
  { version: 2, name: 'auth-functions', sql: AUTH_SQL },
  { version: 3, name: 'realtime-schema', sql: REALTIME_SQL },
  {
    version: 4,
    name: 'broadcast-epochs',
    // Which topics had ephemeral (not persisted) broadcasts in which log epoch: after a restart,
    // a resume from an epoch whose topic had none lost nothing (hub/topic-marks.ts).
    sql: `create table if not exists realtime.switchboard_broadcast_epochs (
      epoch text not null,
      topic_key text not null,
      inserted_at timestamptz not null default now(),
      primary key (epoch, topic_key)
    )`,
  },
  {
    version: 5,
    name: 'slot-state',
    // The stream point of the newest change a slot was acknowledged past (cdc/postgres-changes-service.ts):
    // after a restart, a resume from a point at or after it lost no change, however far the slot moved.
    sql: `create table if not exists realtime.switchboard_slots (
      slot_name text primary key,
      evicted_point text not null,
      updated_at timestamptz not null default now()
    )`,
  },
]

/** Publication the CDC stream reads (the app adds its tables to it, as on Supabase). */
export const CHANGES_PUBLICATION = 'supabase_realtime'
/** Publication of `realtime.messages` inserts, read for database-originated broadcast. */
export const MESSAGES_PUBLICATION = 'switchboard_messages'

// Any constant works; hashing a name keeps it readable and unlikely to collide with the app's.
const LOCK_SQL = `select pg_advisory_xact_lock(hashtext('switchboard.migrations'))`

const VERSION_TABLE_SQL = /* sql */ `
create schema if not exists realtime;
create table if not exists realtime.switchboard_migrations (
  version integer primary key,
  name text not null,
  applied_at timestamptz not null default now()
);
`

/**
 * Brings the database's Switchboard objects up to date (roles, `auth.*` helpers, schema
 * `realtime`, publications). Runs in one transaction under an advisory lock.
 *
 * The connecting user needs CREATEROLE (the first time, to create the roles), CREATE on the
 * database (schemas, publications) and ownership of `realtime.messages` (so its probe rows in
 * channel authorization bypass RLS): a superuser or Supabase's `postgres` user qualifies.
 *
 * @example
 * const sql = await connectDatabase(url, { logger })
 * await migrate(sql, logger)
 */
export async function migrate(sql: postgres.Sql, logger: Logger): Promise<void> {
  const applied = await sql.begin(async (tx) => {
    await tx.unsafe(LOCK_SQL)
    await tx.unsafe(VERSION_TABLE_SQL).simple()
    const rows = await tx<{ version: number }[]>`select version from realtime.switchboard_migrations`
    const done = new Set(rows.map((row) => row.version))
    const names: string[] = []
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue
      try {
        await tx.unsafe(migration.sql).simple()
      } catch (error) {
        throw new Error(`migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`, { cause: error })
      }
      await tx`insert into realtime.switchboard_migrations (version, name) values (${migration.version}, ${migration.name})`
      names.push(`${migration.version}-${migration.name}`)
    }
    return names
  })
  if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated')
  else logger.debug('database schema up to date')
}

/**
 * Deletes `realtime.messages` rows older than `olderThanMs` (retention; Supabase drops
 * partitions older than about 72 hours). Returns the number of rows deleted.
 *
 * @example
 * await pruneMessages(sql, 72 * 3600_000)
 */
export async function pruneMessages(sql: postgres.Sql, olderThanMs: number): Promise<number> {
  // inserted_at is `timestamp without time zone` filled by now() in the session time zone, so
  // compare with now() on the server too, never with a client-side Date.
  const result = await sql`
    delete from realtime.messages
    where inserted_at < now() - make_interval(secs => ${olderThanMs / 1000})`
  return result.count
}
