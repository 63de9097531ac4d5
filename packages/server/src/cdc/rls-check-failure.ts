/**
 * Why an RLS visibility check failed, told apart the way the change path must treat it:
 *
 *  - the DATABASE is unavailable (connection lost, server shutting down, out of connections or
 *    memory): every check would fail, nobody is at fault. The batch fails and is processed
 *    again later; nobody is quarantined.
 *  - the CHECK raised for one auth context: its policy divided by zero for its claims, cast a
 *    claim that is not a number, raised an exception, timed out. Only the subscribers with
 *    that context are affected (rls-quarantine.ts); everyone else keeps receiving.
 *
 * Supabase realtime#2093: one subscriber whose claims made a policy raise stopped delivery for
 * a whole project for 2.5 hours, because the failure was treated as the database's.
 */
import type { TableFacts } from './catalog.js'

/** A check that raised for one auth context on one table. */
export interface CheckFailure {
  /** `schema.table`. */
  table: string
  /** SQLSTATE of the Postgres error. */
  code: string
  /** The `system` message the context's subscribers get. */
  message: string
}

/** SQLSTATE classes of an unavailable database rather than a failing query (Postgres appendix A). */
const UNAVAILABLE_CLASSES = new Set([
  '08', // connection exception
  '53', // insufficient resources (too many connections, out of memory, disk full)
  '57', // operator intervention (admin/crash shutdown, cannot connect now), but see 57014
  '58', // system error (I/O)
  'XX', // internal error
])

/**
 * True when `error` says the database cannot be used at all, not that one check raised: not a
 * Postgres error (postgres.js's CONNECTION_CLOSED, ECONNREFUSED, …) or one of
 * UNAVAILABLE_CLASSES. A cancelled statement (57014, statement_timeout) is the check's own.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true
  if (code === '57014') return false
  return UNAVAILABLE_CLASSES.has(code.slice(0, 2))
}

/**
 * The failure of a check that raised. The message names the table and carries Postgres's
 * message and SQLSTATE only: no policy text, no query, no other subscriber's claims (Postgres
 * may quote the failing value, which is this subscriber's own claim).
 */
export function checkFailure(table: TableFacts, error: unknown): CheckFailure {
  const code = String((error as { code?: unknown }).code)
  const name = `${table.schema}.${table.table}`
  const reason = error instanceof Error ? error.message : String(error)
  return {
    table: name,
    code,
    message: `Row level security check on ${name} failed for this token: ${reason} (SQLSTATE ${code}). ` +
      'Changes are no longer delivered to this channel; rejoin it or refresh the token.',
  }
}
