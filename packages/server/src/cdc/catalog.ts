/**
 * What the CDC engine needs to know about the database, read from the Postgres catalog and
 * cached: types (for rendering), tables (primary key, RLS, owner), per-role column privileges,
 * publication membership, and filter-value casting.
 *
 * Cache invalidation: a pgoutput Relation message is sent again after any relcache
 * invalidation of the table (ALTER TABLE, ENABLE RLS, GRANT, CREATE POLICY, …), so the stream
 * calls `invalidateTable` on every Relation message. A TTL (`factsTtlMs`) is the safety net for
 * changes no Relation message announces (e.g. a role granted BYPASSRLS).
 */
import type { Sql } from 'postgres'
import type { Clock } from '../clock.js'
import { renderKindOf, type TypeInfo } from './value-renderer.js'
import { claimPathsOfPolicies, isStandardClaimReader, type ClaimPaths } from './policy-claims.js'
import { compileInlinePolicy, type InlineFunctionRow, type InlinePolicy, type InlinePolicyRow } from './policy-inline.js'

export interface TableFacts {
  oid: number
  schema: string
  table: string
  rlsEnabled: boolean
  rlsForced: boolean
  owner: string
  /** Primary-key column names in key order (empty when the table has none). */
  primaryKey: string[]
  /** All (non-dropped) columns in attnum order, with `format_type` names for casts. */
  columns: { name: string; typeOid: number; sqlType: string }[]
}

export interface RoleTableFacts {
  /** The role reads past RLS: superuser, BYPASSRLS, or owner of a table without FORCE RLS. */
  bypassRls: boolean
  /** Columns the role may SELECT (table or column privilege). */
  selectable: ReadonlySet<string>
}

interface Cached<T> { value: T; at: number }

/** What a catalog lookup that went to the database looked up (the `kind` of `onLoad`). */
export type CatalogLoadKind = 'types' | 'table' | 'role' | 'claims' | 'inline' | 'auth functions' | 'role exists'

export interface CatalogOptions {
  /** How long cached facts are trusted without a Relation message (default 30 s). */
  factsTtlMs?: number
  /** Called once per lookup that queries the database (a cache miss not shared with one under way). */
  onLoad?: (kind: CatalogLoadKind) => void
}

export class Catalog {
  readonly #sql: Sql
  readonly #clock: Clock
  readonly #ttlMs: number
  readonly #types = new Map<number, TypeInfo>()
  readonly #tables = new Map<string, Cached<TableFacts>>()
  readonly #roleFacts = new Map<string, Cached<RoleTableFacts>>()
  readonly #roles = new Map<string, Cached<boolean>>()
  readonly #policyClaims = new Map<string, Cached<ClaimPaths | null>>()
  readonly #inlinePolicies = new Map<string, Cached<InlinePolicy | null>>()
  #standardAuth: Cached<boolean> | undefined
  /**
   * Lookups under way, by what they look up: callers that miss the cache together share one
   * query. After a restart every resuming channel validates its bindings against a cold
   * catalog at the same moment, and 20 copies of each query queued in the pool.
   */
  readonly #inFlight = new Map<string, Promise<unknown>>()

  readonly #onLoad: (kind: CatalogLoadKind) => void

  constructor(sql: Sql, clock: Clock, options: CatalogOptions = {}) {
    this.#sql = sql
    this.#clock = clock
    this.#ttlMs = options.factsTtlMs ?? 30_000
    this.#onLoad = options.onLoad ?? (() => {})
  }

  #fresh<T>(entry: Cached<T> | undefined): entry is Cached<T> {
    return entry !== undefined && this.#clock.now() - entry.at < this.#ttlMs
  }

  /** Runs `load` unless a lookup of `key` is already under way; then its result is shared. */
  #once<T>(kind: CatalogLoadKind, key: string, load: () => Promise<T>): Promise<T> {
    const running = this.#inFlight.get(key)
    if (running) return running as Promise<T>
    this.#onLoad(kind)
    const loading = load().finally(() => {
      if (this.#inFlight.get(key) === loading) this.#inFlight.delete(key)
    })
    this.#inFlight.set(key, loading)
    return loading
  }

  /** Loads (and caches) rendering info for the given type oids, arrays with their elements. */
  async types(oids: readonly number[]): Promise<Map<number, TypeInfo>> {
    const missing = [...new Set(oids)].filter((oid) => !this.#types.has(oid))
    if (missing.length > 0) {
      this.#onLoad('types')
      const rows = await this.#sql<{ oid: number; typname: string; elem: number; elemname: string | null; elembase: number | null; base: number; delim: string }[]>`
        select t.oid::int as oid, t.typname, t.typelem::int as elem, e.typname as elemname,
               coalesce(nullif(e.typbasetype, 0), e.oid)::int as elembase,
               coalesce(nullif(t.typbasetype, 0), t.oid)::int as base,
               coalesce(e.typdelim, ',') as delim
        from pg_type t left join pg_type e on e.oid = t.typelem and t.typcategory = 'A'
        where t.oid = any(${missing as number[]}::oid[])`
      for (const row of rows) {
        const element: TypeInfo | null = row.elemname === null ? null : {
          oid: row.elem, name: row.elemname, kind: renderKindOf(row.elembase ?? row.elem), element: null, delimiter: ',',
        }
        this.#types.set(row.oid, {
          oid: row.oid, name: row.typname, kind: element ? 'array' : renderKindOf(row.base), element, delimiter: row.delim,
        })
      }
      for (const oid of missing) if (!this.#types.has(oid)) this.#types.set(oid, { oid, name: String(oid), kind: 'text', element: null, delimiter: ',' })
    }
    const out = new Map<number, TypeInfo>()
    for (const oid of oids) out.set(oid, this.#types.get(oid)!)
    return out
  }

  /**
   * Table facts by name; null when the table does not exist. `expectedOid` (from a live
   * catalog read such as `publicationTables`) refuses cached facts of an older table of the
   * same name: a dropped and re-created table gets no Relation message until its first change.
   * A missing table is never cached: it can be created at any moment, and nothing announces it.
   */
  async table(schema: string, table: string, expectedOid?: number): Promise<TableFacts | null> {
    const key = `${schema}.${table}`
    const cached = this.#tables.get(key)
    const replaced = cached !== undefined && expectedOid !== undefined && cached.value.oid !== expectedOid
    if (replaced) this.invalidateTable(schema, table)
    else if (this.#fresh(cached)) return cached.value
    return this.#once('table', `table\u0000${key}`, () => this.#loadTable(schema, table))
  }

  async #loadTable(schema: string, table: string): Promise<TableFacts | null> {
    const key = `${schema}.${table}`
    const [row] = await this.#sql<{ oid: number; rls: boolean; forced: boolean; owner: string; pk: string[] | null; columns: TableFacts['columns'] }[]>`
      select c.oid::int as oid, c.relrowsecurity as rls, c.relforcerowsecurity as forced, pg_get_userbyid(c.relowner) as owner,
        (select array_agg(a.attname::text order by array_position(i.indkey::int2[], a.attnum))
           from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
           where i.indrelid = c.oid and i.indisprimary) as pk,
        (select coalesce(json_agg(json_build_object('name', a.attname, 'typeOid', a.atttypid::int, 'sqlType', format_type(a.atttypid, null)) order by a.attnum), '[]')
           from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ${schema} and c.relname = ${table} and c.relkind in ('r', 'p')`
    const facts: TableFacts | null = row ? {
      oid: row.oid, schema, table, rlsEnabled: row.rls, rlsForced: row.forced, owner: row.owner, primaryKey: row.pk ?? [], columns: row.columns,
    } : null
    if (facts) this.#tables.set(key, { value: facts, at: this.#clock.now() })
    return facts
  }

  /**
   * Loads side by side what delivering `table`'s changes to `role` needs: its read rights, the
   * claims its policies read and its compiled policy. Called when a channel's bindings are
   * validated, so its first delivery (a replay after a restart, or the next live batch, which
   * every other subscriber waits for) does not make three round trips in a row on a cold catalog.
   */
  async warmDelivery(role: string, table: TableFacts): Promise<void> {
    await Promise.all([this.roleFacts(role, table), this.policyClaimPaths(role, table), this.inlinePolicy(role, table)])
  }

  /** What `role` may read of `table`. */
  async roleFacts(role: string, table: TableFacts): Promise<RoleTableFacts> {
    const key = `${role}\u0000${table.oid}`
    const cached = this.#roleFacts.get(key)
    if (this.#fresh(cached)) return cached.value
    return this.#once('role', `role\u0000${key}`, () => this.#loadRoleFacts(key, role, table))
  }

  async #loadRoleFacts(key: string, role: string, table: TableFacts): Promise<RoleTableFacts> {
    const [row] = await this.#sql<{ bypass: boolean; cols: string[] | null }[]>`
      select (r.rolsuper or r.rolbypassrls or (pg_has_role(r.oid, ${table.owner}, 'USAGE') and not ${table.rlsForced})) as bypass,
        (select array_agg(a.attname::text) from pg_attribute a
          where a.attrelid = ${table.oid} and a.attnum > 0 and not a.attisdropped
            and has_column_privilege(r.oid, ${table.oid}::oid, a.attnum, 'SELECT')) as cols
      from pg_roles r where r.rolname = ${role}`
    const facts: RoleTableFacts = { bypassRls: row?.bypass ?? false, selectable: new Set(row?.cols ?? []) }
    this.#roleFacts.set(key, { value: facts, at: this.#clock.now() })
    return facts
  }

  /**
   * The JWT claims that `role`'s SELECT policies on `table` read (policy-claims.ts), or null
   * when they may read anything: contexts equal on these claims see the same rows.
   */
  async policyClaimPaths(role: string, table: TableFacts): Promise<ClaimPaths | null> {
    const key = `${role}\u0000${table.oid}`
    const cached = this.#policyClaims.get(key)
    if (this.#fresh(cached)) return cached.value
    return this.#once('claims', `claims\u0000${key}`, () => this.#loadPolicyClaimPaths(key, role, table))
  }

  async #loadPolicyClaimPaths(key: string, role: string, table: TableFacts): Promise<ClaimPaths | null> {
    let paths: ClaimPaths | null = null
    if (await this.#authFunctionsStandard()) {
      // The policies Postgres applies to the role: PUBLIC ones and those of any role whose
      // privileges it has (membership), not only those naming it (a policy `to members` read a
      // claim the grouping did not know of, and users of a member role shared one check).
      const rows = await this.#sql<{ qual: string | null }[]>`
        select pg_get_expr(p.polqual, p.polrelid) as qual from pg_policy p
        where p.polrelid = ${table.oid}::oid and p.polcmd in ('r', '*')
          and ('{0}'::oid[] && p.polroles or exists (
            select from pg_roles r, unnest(p.polroles) pr where r.rolname = ${role} and pg_has_role(r.oid, pr, 'USAGE')))`
      paths = claimPathsOfPolicies(rows.map((r) => r.qual))
    }
    this.#policyClaims.set(key, { value: paths, at: this.#clock.now() })
    return paths
  }

  async #authFunctionsStandard(): Promise<boolean> {
    if (this.#fresh(this.#standardAuth)) return this.#standardAuth.value
    return this.#once('auth functions', 'auth functions', () => this.#loadAuthFunctionsStandard())
  }

  async #loadAuthFunctionsStandard(): Promise<boolean> {
    const rows = await this.#sql<{ src: string }[]>`
      select p.prosrc as src from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'auth' and p.proname in ('jwt', 'uid', 'role')`
    const standard = rows.every((r) => isStandardClaimReader(r.src))
    this.#standardAuth = { value: standard, at: this.#clock.now() }
    return standard
  }

  /**
   * `role`'s SELECT policies on `table` compiled into one set-based check (policy-inline.ts),
   * or null when Postgres must evaluate them itself. The policies applicable to the role are
   * chosen as Postgres does (PUBLIC, or a role whose privileges `role` has); the functions
   * their stored trees call are looked up by oid (operators through `oprcode`).
   */
  async inlinePolicy(role: string, table: TableFacts): Promise<InlinePolicy | null> {
    const key = `${role}\u0000${table.oid}`
    const cached = this.#inlinePolicies.get(key)
    if (this.#fresh(cached)) return cached.value
    return this.#once('inline', `inline\u0000${key}`, () => this.#loadInlinePolicy(key, role, table))
  }

  async #loadInlinePolicy(key: string, role: string, table: TableFacts): Promise<InlinePolicy | null> {
    const [row] = await this.#sql<{ policies: InlinePolicyRow[]; functions: InlineFunctionRow[]; usage: boolean | null; active: boolean }[]>`
      with r as (select oid from pg_roles where rolname = ${role}),
      pol as (
        select p.polpermissive as permissive, pg_get_expr(p.polqual, p.polrelid) as qual, p.polqual::text as tree
        from pg_policy p
        where p.polrelid = ${table.oid}::oid and p.polcmd in ('r', '*')
          and ('{0}'::oid[] && p.polroles or exists (select from r, unnest(p.polroles) pr where pg_has_role(r.oid, pr, 'USAGE')))),
      fn as (
        select m[2]::oid as oid from pol, regexp_matches(pol.tree, ':(funcid|opfuncid|hashfuncid|negfuncid) (\\d+)', 'g') m
        union select o.oprcode::oid from pol, regexp_matches(pol.tree, ':opno (\\d+)', 'g') m join pg_operator o on o.oid = m[1]::oid)
      select
        (select coalesce(json_agg(pol), '[]') from pol) as policies,
        (select coalesce(json_agg(json_build_object(
            'oid', f.oid::int8,
            'auth', case when f.oid = to_regprocedure('auth.jwt()') then 'jwt' when f.oid = to_regprocedure('auth.uid()') then 'uid'
                         when f.oid = to_regprocedure('auth.role()') then 'role' end,
            'inPgCatalog', f.pronamespace = 'pg_catalog'::regnamespace,
            'immutable', f.provolatile = 'i' and not f.proretset,
            'executable', coalesce((select has_function_privilege(r.oid, f.oid, 'EXECUTE') from r), false),
            'source', case when f.prolang = (select oid from pg_language where lanname = 'sql') and f.proconfig is null then f.prosrc end)), '[]')
          from fn join pg_proc f on f.oid = fn.oid where fn.oid <> 0) as functions,
        (select has_schema_privilege(r.oid, ${table.schema}, 'USAGE') from r) as usage,
        row_security_active(${table.oid}::oid) as active`
    // An unknown role gets null `usage`: nothing compiled (the dispatcher never checks it anyway).
    const policy = row ? compileInlinePolicy({
      policies: row.policies,
      functions: row.functions,
      schemaUsage: row.usage === true,
      rlsActiveForChecker: row.active,
      columns: table.columns.map((c) => c.name),
    }) : null
    this.#inlinePolicies.set(key, { value: policy, at: this.#clock.now() })
    return policy
  }

  /**
   * Cached compiled check only (hot path), undefined when missing or older than the TTL: what
   * it rests on (role membership, EXECUTE grants, the auth functions' bodies) changes without
   * a Relation message, so the TTL is what bounds how long a stale answer can be used.
   */
  cachedInlinePolicy(role: string, tableOid: number): InlinePolicy | null | undefined {
    const cached = this.#inlinePolicies.get(`${role}\u0000${tableOid}`)
    return this.#fresh(cached) ? cached.value : undefined
  }

  /** Cached policy facts only (hot path, after `policyClaimPaths` warmed the cache). */
  cachedPolicyClaimPaths(role: string, tableOid: number): ClaimPaths | null | undefined {
    return this.#policyClaims.get(`${role}\u0000${tableOid}`)?.value
  }

  /** Cached facts only (the hot path uses this after `roleFacts` warmed the cache). */
  cachedRoleFacts(role: string, tableOid: number): RoleTableFacts | undefined {
    return this.#roleFacts.get(`${role}\u0000${tableOid}`)?.value
  }

  async roleExists(role: string): Promise<boolean> {
    const cached = this.#roles.get(role)
    if (this.#fresh(cached)) return cached.value
    this.#onLoad('role exists')
    const rows = await this.#sql`select 1 from pg_roles where rolname = ${role}`
    this.#roles.set(role, { value: rows.length > 0, at: this.#clock.now() })
    return rows.length > 0
  }

  /** Tables of the publications (live: subscribe-time only). */
  async publicationTables(publications: readonly string[]): Promise<{ schema: string; table: string; oid: number }[]> {
    return await this.#sql<{ schema: string; table: string; oid: number }[]>`
      select p.schemaname::text as schema, p.tablename::text as table, c.oid::int as oid
      from pg_publication_tables p
        join pg_namespace n on n.nspname = p.schemaname
        join pg_class c on c.relnamespace = n.oid and c.relname = p.tablename
      where p.pubname = any(${publications as string[]})`
  }

  /**
   * Casts a filter value to the column's type and returns Postgres's canonical text for it
   * (what pgoutput will send for an equal value), or the cast error message.
   */
  async castValues(sqlType: string, values: readonly string[]): Promise<{ ok: true; texts: string[] } | { ok: false; error: string }> {
    try {
      const rows = await this.#sql.unsafe<{ v: string }[]>(
        `select (x::${sqlType})::text as v from unnest($1::text[]) with ordinality as u(x, n) order by n`, [values as string[]])
      return { ok: true, texts: rows.map((r) => r.v) }
    } catch (err) {
      return { ok: false, error: (err as Error).message }
    }
  }

  /**
   * Postgres's error for a pattern filter's value (`'' ~ pattern`, `'' like pattern`, …), or
   * null when Postgres accepts it. Matching the empty string only compiles the pattern.
   */
  async patternError(op: 'like' | 'ilike' | 'match' | 'imatch', pattern: string): Promise<string | null> {
    const operator = { like: 'like', ilike: 'ilike', match: '~', imatch: '~*' }[op]
    try {
      await this.#sql.unsafe(`select ''::text ${operator} $1::text`, [pattern])
      return null
    } catch (err) {
      return (err as Error).message
    }
  }

  /** Forgets what we know of a table (a Relation message arrived for it). */
  invalidateTable(schema: string, table: string): void {
    this.#inFlight.clear() // a lookup under way may have read the table before it changed
    const facts = this.#tables.get(`${schema}.${table}`)?.value
    this.#tables.delete(`${schema}.${table}`)
    if (!facts) return
    for (const key of this.#roleFacts.keys()) if (key.endsWith(`\u0000${facts.oid}`)) this.#roleFacts.delete(key)
    for (const key of this.#policyClaims.keys()) if (key.endsWith(`\u0000${facts.oid}`)) this.#policyClaims.delete(key)
    for (const key of this.#inlinePolicies.keys()) if (key.endsWith(`\u0000${facts.oid}`)) this.#inlinePolicies.delete(key)
  }

  /** Forgets a type (a pgoutput Type message announced it, e.g. after ALTER TYPE). */
  invalidateType(oid: number): void {
    this.#types.delete(oid)
  }
}
