/**
 * The SELECT policies behind a "not authorized" verdict, from `pg_policies`, so the trace says
 * which policy text decided (`own tenant: tenant_id = (auth.jwt() ->> 'tenant_id')`). One query
 * per table per trace request, on the tenant's database; a failed lookup leaves the verdict as it
 * is.
 */
import type { Sql } from 'postgres'
import type { TraceReport } from './api-types.js'

interface PolicyRow {
  name: string
  roles: string[]
  using: string | null
}

export async function attachPolicies(sql: Sql, reports: readonly TraceReport[]): Promise<void> {
  const byTable = new Map<string, Promise<PolicyRow[]>>()
  for (const report of reports) {
    for (const verdict of report.verdicts) {
      const policy = verdict.policy
      if (!policy?.table) continue
      const { schema, table } = policy.table
      const key = `${schema}.${table}`
      let rows = byTable.get(key)
      if (!rows) byTable.set(key, (rows = selectPolicies(sql, schema, table)))
      const applicable = (await rows).filter((p) => p.roles.includes(policy.role) || p.roles.includes('public'))
      policy.policies = applicable.map((p) => ({ name: p.name, using: p.using }))
    }
  }
}

async function selectPolicies(sql: Sql, schema: string, table: string): Promise<PolicyRow[]> {
  try {
    return await sql<PolicyRow[]>`
      select policyname::text as name, roles::text[] as roles, qual as using from pg_policies
      where schemaname = ${schema} and tablename = ${table} and cmd in ('SELECT', 'ALL')
      order by policyname`
  } catch {
    return []
  }
}
