/**
 * Dropping a tenant's replication slot when the tenant is removed: a slot nobody reads keeps
 * its database's WAL forever. Best effort: a slot still in use (another node stopping it) or an
 * unreachable database is reported, and the operator drops it by hand (docs/operations.md).
 */
import postgres from 'postgres'

/** Drops slot `name` on the database of `url` if it exists and is inactive; says what happened. */
export async function dropReplicationSlot(url: string, name: string): Promise<'dropped' | 'absent' | 'active'> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 })
  try {
    const [slot] = await sql<{ active: boolean }[]>`select active from pg_replication_slots where slot_name = ${name}`
    if (!slot) return 'absent'
    if (slot.active) return 'active'
    await sql`select pg_drop_replication_slot(${name})`
    // Its recorded resume floor (cdc/postgres-changes-service.ts) goes with it.
    await sql`delete from realtime.switchboard_slots where slot_name = ${name}`.catch(() => {})
    return 'dropped'
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {})
  }
}
