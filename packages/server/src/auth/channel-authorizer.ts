/**
 * Private-channel authorization, the Supabase way (protocol notes §3.4): RLS policies on
 * `realtime.messages` decide, evaluated with the channel's role, claims and topic.
 *
 *   read:  begin ─► insert probe rows (as the owner, bypassing RLS) ─► switch to the token's
 *          role + claims + topic ─► select the probe ids: visible ⇒ may read ─► ROLLBACK
 *   write: begin ─► switch context ─► insert a row: accepted ⇒ may write,
 *          42501 (RLS WITH CHECK) ⇒ may not ─► ROLLBACK
 *
 * Nothing is ever committed. Ported from supabase/realtime `lib/realtime/tenants/authorization.ex`.
 * `service_role` is allowed everything without a query, as on Supabase (it bypasses RLS).
 */
import { randomUUID } from 'node:crypto'
import type postgres from 'postgres'
import type { Logger } from '../logger.js'
import { DatabaseError } from '../db/connect.js'
import { isServiceRole, type AuthContext } from './auth-context.js'

/** The Realtime features a private channel authorizes separately. */
export type ChannelExtension = 'broadcast' | 'presence'

/** What a channel may receive. */
export interface ReadPermissions {
  broadcast: boolean
  presence: boolean
}

// SQLSTATEs that mean "this role cannot act here", not "the database is broken":
// 42501 insufficient_privilege (RLS WITH CHECK, missing GRANT, SET ROLE not permitted),
// 22023 invalid_parameter_value (set_config('role', …) with a role that does not exist),
// 42704 undefined_object (same, reported by some paths).
const DENIED = new Set(['42501', '22023', '42704'])

/** Thrown inside a transaction to roll it back while carrying the result out. */
class Rollback<T> {
  constructor(readonly value: T) {}
}

/** Checks private-channel access with RLS on `realtime.messages`. One instance per database. */
export class ChannelAuthorizer {
  constructor(
    private readonly sql: postgres.Sql,
    private readonly logger: Logger,
  ) {}

  /**
   * Which of `extensions` the context may read on `topic` (the sub-topic, without
   * `realtime:`). Extensions not asked for come back false.
   *
   * @throws DatabaseError (code `'DatabaseError'`) when the check itself fails.
   * @example
   * const { broadcast, presence } = await authorizer.authorizeRead('room1', auth, ['broadcast', 'presence'])
   */
  async authorizeRead(topic: string, auth: AuthContext, extensions: readonly ChannelExtension[]): Promise<ReadPermissions> {
    const wanted = [...new Set(extensions)]
    if (isServiceRole(auth)) return { broadcast: wanted.includes('broadcast'), presence: wanted.includes('presence') }
    const result: ReadPermissions = { broadcast: false, presence: false }
    if (wanted.length === 0) return result
    const probes = wanted.map((extension) => ({ extension, id: randomUUID() }))
    return this.rolledBack('read', topic, auth, async (tx) => {
      // Probe rows first, as the connection user: it owns the table, so RLS does not apply.
      await tx`
        insert into realtime.messages (id, topic, extension)
        select * from unnest(${probes.map((p) => p.id)}::uuid[], ${wanted.map(() => topic)}::text[], ${wanted}::text[])`
      if (!(await this.setContext(tx, topic, auth))) return result
      const visible = await tx<{ id: string }[]>`
        select id from realtime.messages where id = any(${probes.map((p) => p.id)}::uuid[])`
      const ids = new Set(visible.map((row) => row.id))
      for (const probe of probes) result[probe.extension] = ids.has(probe.id)
      return result
    })
  }

  /**
   * Whether the context may send on `topic` with `extension` (broadcast, or presence track).
   *
   * @throws DatabaseError (code `'DatabaseError'`) when the check itself fails.
   * @example
   * if (!(await authorizer.authorizeWrite('room1', auth, 'broadcast'))) return
   */
  async authorizeWrite(topic: string, auth: AuthContext, extension: ChannelExtension): Promise<boolean> {
    if (isServiceRole(auth)) return true
    return this.rolledBack('write', topic, auth, async (tx) => {
      if (!(await this.setContext(tx, topic, auth))) return false
      try {
        // No RETURNING: it would also need a SELECT policy, and this asks about INSERT only.
        // No savepoint either (Supabase uses one per extension because it checks two in one
        // transaction): this checks one, and the transaction is rolled back right after.
        await tx`insert into realtime.messages (topic, extension) values (${topic}, ${extension})`
        return true
      } catch (error) {
        if (sqlState(error) === '42501') return false
        throw error
      }
    })
  }

  /**
   * Switches the transaction to the channel's identity. Returns false (deny) when the role
   * cannot be assumed: it does not exist, or the connection user is not a member of it.
   */
  private async setContext(tx: postgres.TransactionSql, topic: string, auth: AuthContext): Promise<boolean> {
    try {
      await tx`
        select set_config('role', ${auth.role}, true),
               set_config('realtime.topic', ${topic}, true),
               set_config('request.jwt.claims', ${auth.claimsJson}, true),
               set_config('request.jwt.claim.sub', ${auth.sub ?? ''}, true),
               set_config('request.jwt.claim.role', ${auth.role}, true)`
      return true
    } catch (error) {
      const code = sqlState(error)
      if (code === undefined || !DENIED.has(code)) throw error
      // 42501 here is the operator's to fix (the connection user lacks membership in a role
      // that exists); a role that does not exist comes from the token, so only debug.
      if (code === '42501') this.logger.warn({ role: auth.role }, 'channel authorization: the database user cannot SET ROLE to this role; denying')
      else this.logger.debug({ role: auth.role, code }, 'channel authorization: role does not exist; denying')
      return false
    }
  }

  /** Runs `check` in a transaction that is always rolled back, and maps failures. */
  private async rolledBack<T>(
    kind: 'read' | 'write',
    topic: string,
    auth: AuthContext,
    check: (tx: postgres.TransactionSql) => Promise<T>,
  ): Promise<T> {
    try {
      await this.sql.begin(async (tx) => {
        throw new Rollback(await check(tx))
      })
    } catch (outcome) {
      if (outcome instanceof Rollback) return outcome.value as T
      this.logger.warn({ err: outcome, topic, role: auth.role, kind }, 'channel authorization query failed')
      throw new DatabaseError(`channel ${kind} authorization failed: ${(outcome as Error)?.message ?? String(outcome)}`, { cause: outcome })
    }
    // Unreachable: the callback always throws. Kept for the type checker.
    throw new DatabaseError(`channel ${kind} authorization did not complete`)
  }
}

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}
