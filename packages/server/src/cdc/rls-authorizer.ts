/**
 * Row-level-security checks for a batch of changes, once per distinct auth context and table
 * (not once per subscriber, which is what caps Supabase at ~3,000–4,000 deliveries/s).
 *
 * One transaction per batch; per context one `set_config` statement (role + claims, LOCAL),
 * then per table at most two queries, all in ONE simple-protocol message. Postgres runs a
 * multi-statement simple query as one implicit transaction, so the LOCAL settings last until its
 * end and are undone even when a statement fails: without old rows to stage, the batch is a
 * single round trip, with no BEGIN and COMMIT around it (three round trips before; each one a
 * wake-up of the backend, which costs most when the cores are busy). That script also starts
 * with the visibility test of the batch's transactions (`#awaitVisible`); only when one is not
 * visible yet are its answers dropped, and the batch checked again after waiting.
 *
 *  - CURRENT rows (INSERT/UPDATE): which changed primary keys are visible now —
 *      select k.i from unnest($1::int4[], $2::text[]) k(i, c0)
 *        cross join lateral (select from <table> t where t.pk = k.c0::<type> limit 1) v
 *    (the same "is the row selectable now" rule as Supabase's `apply_rls`).
 *
 *  - OLD rows (DELETE, and UPDATE's old_record, with REPLICA IDENTITY FULL): the row no longer
 *    exists, and RLS only applies to real tables, so before switching role we copy the old
 *    rows into a temp table `(like <table>) on commit drop`, enable RLS on it and recreate the
 *    table's SELECT/ALL policies on it from `pg_policies` (same roles, permissive/restrictive,
 *    USING expression). Selecting from it under the subscriber's role and claims evaluates the
 *    real policies against the old values. Limits (documented): a policy that reads the row's
 *    own table by name sees the table as it is now; unchanged-TOAST old values are NULL.
 *
 *  - CURRENT rows, single-column key (the common case), checked by a per-table function:
 *    the script above costs one statement per context (parse, plan, execute, reply): ~0.1 ms
 *    each, ~10–14 ms for a batch of 100 contexts whose policy tells users apart. Instead, per
 *    table ONE statement calls `realtime.switchboard_rls_<hash>(roles, claims, subs, lo, hi,
 *    keys)`, a plpgsql function created on demand (checkFunction) that loops over the
 *    contexts: per context `set_config` (role when it changes, claims, sub; LOCAL) and one
 *    STATIC query `select … from <table> t where t.pk = any(<keys slice>)`, whose plan plpgsql
 *    keeps for the session: each context is one execution, no parse or plan (100 contexts:
 *    ~3 ms). Each iteration is a new execution, so stable functions and initPlans such as
 *    `(select auth.uid())` are evaluated per context; a role switch re-plans (Postgres ties
 *    an RLS plan to the role). The function sets `plan_cache_mode = force_generic_plan`: left
 *    to itself, plpgsql judged custom plans cheaper and planned every iteration (~8 ms for
 *    100 contexts). The plan changes the speed, never the answer.
 *    The function is SECURITY INVOKER, owned and called by the connecting user, and switches
 *    to each subscriber's role itself (as Supabase's `apply_rls` does), so subscriber roles
 *    need no privilege on it; EXECUTE is revoked from PUBLIC. It resets the settings it made
 *    before returning. Its name hashes everything its body depends on (schema, table, key
 *    column and type), so changed facts (a Relation message reloads them) name a new one.
 *
 *  - CURRENT rows, set-based, when the role's policies compile (policy-inline.ts: policies made
 *    of plain expressions and the auth claim readers): the function above still costs one
 *    execution and two set_config calls per context, ~25 µs each, ~25 ms for the 1,000
 *    contexts of a batch whose policy tells 1,000 users apart. Instead ONE statement per table
 *    and role reads the batch's rows once by primary key, joins them to the contexts (their
 *    claims a column, parsed once each) and evaluates the compiled policy per (context, row):
 *    ~3 ms for 1,000 contexts, ~1 µs per more (context, row) pair (inlineCall). Contexts pass
 *    only the claims the policies read. If the statement raises (a policy that fails for some
 *    claims), the retry below runs Postgres's own RLS per context, which decides.
 *
 * If the batch transaction fails, each (context, table) is retried alone with the script (no
 * function): a check that raises again is that context's failure (its policy raises for its
 * claims): nothing is visible to it (fail closed) and its result carries the failure, which
 * quarantines its subscribers (rls-quarantine.ts). A database that is unavailable fails the
 * whole call instead (rls-check-failure.ts), so the batch is processed again later. A function
 * that cannot be created (no CREATE on schema `realtime`) leaves its table on the script.
 */
import { createHash } from 'node:crypto'
import type { Sql, TransactionSql } from 'postgres'
import type { AuthContext } from '../auth/auth-context.js'
import type { Logger } from '../logger.js'
import type { TableFacts } from './catalog.js'
import type { Change } from './change.js'
import { CONTEXT_COLUMNS, prunedClaimsJson, type InlinePolicy } from './policy-inline.js'
import { checkFailure, isDatabaseUnavailable, type CheckFailure } from './rls-check-failure.js'

export interface VisibilityRequest {
  context: AuthContext
  table: TableFacts
  /** Changes whose current row (by primary key) must be visible. */
  current: Change[]
  /** Changes whose old row values must pass the SELECT policies. */
  old: Change[]
  /**
   * The context role's policies on the table compiled for a set-based check
   * (policy-inline.ts), when they can be: then its current rows are checked together with all
   * other contexts of the batch in one statement.
   */
  inline?: InlinePolicy | null
}

export interface VisibilityResult {
  current: Set<Change>
  old: Set<Change>
  /** The check raised for this context (nothing is visible; rls-quarantine.ts takes it off). */
  failure?: CheckFailure
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`
const tableName = (t: TableFacts) => `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`
const tempName = (t: TableFacts) => quoteIdent(`sb_old_${t.oid}`)

/** A SQL string literal (standard_conforming_strings: only quotes need doubling). */
function literal(value: string | null): string {
  return value === null ? 'NULL' : `'${value.replace(/'/g, "''")}'`
}

/**
 * The distinct primary-key values of `changes` and a string naming them, once per list: the
 * dispatcher hands contexts that check the same changes one shared list (change-dispatcher.ts),
 * so with 1,000 users this runs once per chunk, not once per context. The per-context script
 * (currentQuery) reads its keys here too.
 */
const listKeys = new WeakMap<readonly Change[], { pk: string; keys: string[]; id: string }>()
function keysOf(changes: readonly Change[], pk: string): { keys: string[]; id: string } {
  const memo = listKeys.get(changes)
  if (memo !== undefined && memo.pk === pk) return memo
  const keys = [...new Set(changes.map((c) => c.value(pk) ?? null).filter((v): v is string => v !== null))]
  const entry = { pk, keys, id: JSON.stringify(keys) }
  listKeys.set(changes, entry)
  return entry
}

/**
 * Which of these changes' rows (by primary key) are visible now. Returns rows `{ i }`, the
 * index of the change in `changes`.
 *
 * A single-column key (the common case) is one `= any(array)` index scan whose keys come back
 * as text and are mapped to their changes; measured on a 100k-row table with 100 contexts it
 * is ~20× faster than a per-key lateral probe once a batch has many rows (the lateral form
 * costs about 0.1 ms per key per context). Composite keys use the lateral probe.
 */
function currentQuery(table: TableFacts, changes: readonly Change[]): string {
  const pk = table.primaryKey
  if (pk.length === 1) {
    const name = pk[0]!
    const type = table.columns.find((c) => c.name === name)!.sqlType
    const { keys } = keysOf(changes, name)
    return `select t.${quoteIdent(name)}::text as k from ${tableName(table)} t ` +
      `where t.${quoteIdent(name)} = any(array[${keys.map(literal).join(',')}]::${type}[])`
  }
  return lateralQuery(table, changes)
}

function lateralQuery(table: TableFacts, changes: readonly Change[]): string {
  const pk = table.primaryKey
  const types = pk.map((name) => table.columns.find((c) => c.name === name)!.sqlType)
  const arrays = [`array[${changes.map((_, i) => i).join(',')}]::int4[]`]
  for (const name of pk) arrays.push(`array[${changes.map((c) => literal(c.value(name) ?? null)).join(',')}]::text[]`)
  // LATERAL … LIMIT 1, not a plain join: under RLS the planner estimates the policy-filtered
  // table as a few rows and picks a hash join over a SEQUENTIAL scan that evaluates the policy
  // on every row of the table, once per context (measured: 100 contexts on a 100k-row table,
  // 24 s per batch). The lateral probe is one primary-key index lookup per changed row.
  return `select k.i from unnest(${arrays.join(', ')}) as k(i, ${pk.map((_, j) => `c${j}`).join(', ')}) ` +
    `cross join lateral (select from ${tableName(table)} t where ${pk.map((name, j) => `t.${quoteIdent(name)} = k.c${j}::${types[j]}`).join(' and ')} limit 1) as v`
}

/**
 * The changes of `changes` whose key is in `visible`, as a Set shared by every context that
 * checked the same list and saw the same (`seen` names what a context saw, as Postgres returned
 * it: within one statement, equal names are equal visibility).
 */
function visibleChanges(memo: Map<readonly Change[], Map<string, Set<Change>>>, changes: readonly Change[], pk: string, seen: string, visible: () => Set<string>): Set<Change> {
  let bySeen = memo.get(changes)
  if (bySeen === undefined) memo.set(changes, (bySeen = new Map()))
  let out = bySeen.get(seen)
  if (out === undefined) {
    const keys = visible()
    out = new Set()
    for (const change of changes) if (keys.has(change.value(pk) ?? '')) out.add(change)
    bySeen.set(seen, out)
  }
  return out
}

/** A table's check function (see the header): its qualified name and its creation script. */
interface CheckFunction { name: string; create: string; pk: string }

/** Bump when the function body changes, so servers do not call an older body of the same name. */
const CHECK_FUNCTION_VERSION = 2

/**
 * The check function for `table`'s current rows, or null when the table takes the script: a
 * composite key, or an array-typed key (whose text[] → type[] cast would not round-trip).
 *
 * `#variable_conflict use_variable` and the `sb_` names keep the plpgsql variables apart from
 * the table's columns; the query names the table's columns only through the alias `t`.
 */
function checkFunction(table: TableFacts): CheckFunction | null {
  if (table.primaryKey.length !== 1) return null
  const pk = table.primaryKey[0]!
  const type = table.columns.find((c) => c.name === pk)?.sqlType
  if (type === undefined || type.endsWith(']')) return null
  const hash = createHash('sha256').update(JSON.stringify([CHECK_FUNCTION_VERSION, table.schema, table.table, pk, type])).digest('hex').slice(0, 24)
  const name = `realtime.${quoteIdent(`switchboard_rls_${hash}`)}`
  const body = `#variable_conflict use_variable
declare
  sb_typed ${type}[] := sb_keys::${type}[];
  sb_role text;
begin
  for sb_i in 1 .. coalesce(array_length(sb_claims, 1), 0) loop
    if sb_role is distinct from sb_roles[sb_i] then
      sb_role := sb_roles[sb_i];
      perform pg_catalog.set_config('role', sb_role, true), pg_catalog.set_config('request.jwt.claim.role', sb_role, true);
    end if;
    perform pg_catalog.set_config('request.jwt.claims', sb_claims[sb_i], true), pg_catalog.set_config('request.jwt.claim.sub', sb_subs[sb_i], true);
    return query select sb_i, t.${quoteIdent(pk)}::text from ${tableName(table)} t
      where t.${quoteIdent(pk)} = any(sb_typed[sb_lo[sb_i]:sb_hi[sb_i]]);
  end loop;
  perform pg_catalog.set_config('role', 'none', true), pg_catalog.set_config('request.jwt.claims', '', true),
    pg_catalog.set_config('request.jwt.claim.sub', '', true), pg_catalog.set_config('request.jwt.claim.role', '', true);
end`
  const params = 'sb_roles text[], sb_claims text[], sb_subs text[], sb_lo int4[], sb_hi int4[], sb_keys text[]'
  return {
    name,
    pk,
    create: `create function ${name}(${params}) returns table (sb_n int4, sb_k text) language plpgsql volatile security invoker\n` +
      `set plan_cache_mode = force_generic_plan as ${literal(body)};\n` +
      `comment on function ${name}(${params}) is ${literal(`Switchboard: RLS visibility of ${table.schema}.${table.table} rows by primary key, per auth context (created on demand)`)};\n` +
      `revoke all on function ${name}(${params}) from public`,
  }
}

/**
 * One call of a table's check function for all of `requests` (the batch's contexts on that
 * table), contexts grouped by role; contexts asking for the same keys share one slice.
 */
function checkCall(fn: CheckFunction, requests: VisibilityRequest[]): string {
  const roles: string[] = []
  const claims: string[] = []
  const subs: string[] = []
  const lo: number[] = []
  const hi: number[] = []
  const keys: string[] = []
  const slices = new Map<string, [number, number]>()
  for (const r of requests) {
    const { keys: own, id } = keysOf(r.current, fn.pk)
    let slice = slices.get(id)
    if (!slice) {
      slices.set(id, (slice = [keys.length + 1, keys.length + own.length]))
      keys.push(...own)
    }
    roles.push(r.context.role)
    claims.push(r.context.claimsJson)
    subs.push(r.context.sub ?? '')
    lo.push(slice[0])
    hi.push(slice[1])
  }
  const texts = (values: string[]) => `array[${values.map(literal).join(',')}]::text[]`
  return `select sb_n as i, sb_k as k from ${fn.name}(${texts(roles)}, ${texts(claims)}, ${texts(subs)}, ` +
    `array[${lo.join(',')}]::int4[], array[${hi.join(',')}]::int4[], ${texts(keys)})`
}

/** Pruned claims per context and claim paths (the compiled policy's, compared by identity). */
const pruned = new WeakMap<AuthContext, { paths: unknown; json: string | null }>()

/** Whether `r`'s current rows are checked set-based (its claims pruned, or null). */
function inlineClaims(r: VisibilityRequest): string | null {
  if (!r.inline || r.current.length === 0 || r.table.primaryKey.length !== 1) return null
  return prunedClaims(r, r.inline)
}

function prunedClaims(r: VisibilityRequest, policy: InlinePolicy): string | null {
  const memo = pruned.get(r.context)
  if (memo?.paths === policy.claimPaths) return memo.json
  const json = prunedClaimsJson(r.context.claims, policy.claimPaths)
  pruned.set(r.context, { paths: policy.claimPaths, json })
  return json
}

/**
 * One set-based check of `requests` (contexts of one role on one table, all sharing the
 * compiled `policy`): which of their current rows each context sees. Returns rows `{ i, k }`,
 * `k` comma-separated 1-based indexes into `keys`: the row `i = 0` lists the keys whose row
 * exists now; a row `i > 0` (the context, 1-based in `requests`) lists the existing rows of its
 * slice that its policy HIDES. A context sees the existing rows of its slice minus those.
 *
 * The rows are read once, by primary key, as the connecting user (no RLS for it: checked by
 * policy-inline.ts), joined to the contexts that asked for them (contexts asking for the same
 * keys share one slice), and the compiled policy decides each (context, row) pair. What a
 * context's claims give (`auth.jwt()`, the text of `auth.uid()` and `auth.role()`) is computed
 * once per context, not per pair (policy-inline.ts's CONTEXT_COLUMNS).
 *
 * Why the hidden rows and not the visible ones: a change stream's rows are usually visible to
 * everyone who subscribed, so listing the visible ones aggregated one text per (context, row)
 * pair and sent a row per context; listing the exceptions aggregates almost nothing and sends
 * one row. `node bench/cdc/inline-statement.js` times the shapes (1,000 contexts of the CDC
 * bench's per-user policy, every row shared): bench/README.md, "Postgres Changes".
 */
function inlineCall(table: TableFacts, pk: string, policy: InlinePolicy, requests: readonly VisibilityRequest[], claims: readonly string[]):
  { sql: string; keys: string[] } {
  const type = table.columns.find((c) => c.name === pk)!.sqlType
  const keys: string[] = []
  const keyIndex = new Map<string, number>()
  const slices = new Map<string, number>()
  const sliceOf: number[] = []
  const memberSlice: number[] = []
  const memberKey: number[] = []
  for (const r of requests) {
    const { keys: own, id } = keysOf(r.current, pk)
    let slice = slices.get(id)
    if (slice === undefined) {
      slices.set(id, (slice = slices.size + 1))
      for (const key of own) {
        let g = keyIndex.get(key)
        if (g === undefined) { keys.push(key); keyIndex.set(key, (g = keys.length)) }
        memberSlice.push(slice)
        memberKey.push(g)
      }
    }
    sliceOf.push(slice)
  }
  const texts = (values: readonly string[]) => `array[${values.map(literal).join(',')}]::text[]`
  const ints = (values: readonly number[]) => `array[${values.join(',')}]::int4[]`
  // Only what the expression reads is sent (the statement is parsed per batch): the slice when
  // contexts differ in keys, `sub` and `role` when auth.uid() or auth.role() is called.
  const reads = (column: string) => policy.expression.includes(`__sb_c.${column}`)
  const columns: [string, string][] = [['__sb_claims', texts(claims)]]
  if (slices.size > 1) columns.push(['__sb_s', ints(sliceOf)])
  if (reads(CONTEXT_COLUMNS.uid)) columns.push(['__sb_sub', texts(requests.map((r) => r.context.sub ?? ''))])
  if (reads(CONTEXT_COLUMNS.role)) columns.push(['__sb_role', texts(requests.map((r) => r.context.role))])
  // The context row: what each auth function gives for the context (its body, minus the
  // per-row part), computed here once per context.
  const contextColumns = [
    `u.__sb_n::int4`,
    slices.size > 1 ? 'u.__sb_s' : '1 as __sb_s',
    ...(reads(CONTEXT_COLUMNS.jwt) ? [`coalesce(nullif(current_setting('request.jwt.claim', true), '')::jsonb, u.__sb_claims::jsonb) as ${CONTEXT_COLUMNS.jwt}`] : []),
    ...(reads(CONTEXT_COLUMNS.uid) ? [`coalesce(nullif(u.__sb_sub, ''), (u.__sb_claims::jsonb ->> 'sub')) as ${CONTEXT_COLUMNS.uid}`] : []),
    ...(reads(CONTEXT_COLUMNS.role) ? [`coalesce(nullif(u.__sb_role, ''), (u.__sb_claims::jsonb ->> 'role')) as ${CONTEXT_COLUMNS.role}`] : []),
  ]
  const names = columns.map(([name]) => name)
  // `is not true`: a policy that gives NULL hides the row, as under RLS.
  const sql = `with __sb_c as materialized (
  select ${contextColumns.join(', ')}
  from unnest(${columns.map(([, values]) => values).join(', ')}) with ordinality as u(${names.join(', ')}, __sb_n)),
__sb_t as materialized (
  select k.__sb_g::int4, t.* from unnest(${texts(keys)}) with ordinality as k(__sb_key, __sb_g)
  cross join lateral (select t.* from ${tableName(table)} t where t.${quoteIdent(pk)} = k.__sb_key::${type}) t),
__sb_r as (select m.__sb_s, __sb_t.* from unnest(${ints(memberSlice)}, ${ints(memberKey)}) as m(__sb_s, __sb_m) join __sb_t on __sb_t.__sb_g = m.__sb_m)
select 0 as i, string_agg(__sb_t.__sb_g::text, ',') as k from __sb_t
union all
select __sb_c.__sb_n as i, string_agg(__sb_r.__sb_g::text, ',') as k
from __sb_c join __sb_r on __sb_r.__sb_s = __sb_c.__sb_s
where (${policy.expression}) is not true
group by __sb_c.__sb_n`
  return { sql, keys }
}

interface PolicyRow { permissive: string; roles: string[]; qual: string | null }

/**
 * Which of `xids` (32-bit, from the stream) are not visible to a new snapshot: each is widened
 * to the xid8 of the snapshot's epoch (the one before, when it would be ahead of xmax).
 */
function invisibleQuery(xids: readonly number[]): string {
  return `with s as (select pg_current_snapshot() as snap, pg_snapshot_xmax(pg_current_snapshot())::text::int8 as xmax)
select x::text as xid from s, unnest(array[${xids.map((x) => Math.trunc(x)).join(',')}]::int8[]) as x
where not pg_visible_in_snapshot(
  (case when ((s.xmax >> 32) << 32) + x > s.xmax then (((s.xmax >> 32) - 1) << 32) + x
        else ((s.xmax >> 32) << 32) + x end)::text::xid8, s.snap)`
}

/** The transactions of the requests' current rows (each shared change list read once). */
function transactionIds(requests: readonly VisibilityRequest[]): number[] {
  const lists = new Set<readonly Change[]>()
  const xids = new Set<number>()
  for (const r of requests) {
    if (lists.has(r.current)) continue
    lists.add(r.current)
    for (const c of r.current) if (c.xid > 0) xids.add(c.xid)
  }
  return [...xids]
}

/**
 * The empty set of a result that no reader adds to: `old` without old rows to check, `current`
 * of a request checked set-based (its reader replaces it whole). Two sets per request and batch
 * were ~7 % of the bytes the server allocated with 1,000 distinct users (CDC bench, heap
 * sampling). Adding to it is a bug, and throws.
 */
class NoChanges extends Set<Change> {
  override add(): this {
    throw new Error('rls-authorizer: added to the shared empty result')
  }
}
const NO_CHANGES: Set<Change> = new NoChanges()

/** A request's result before its check: nothing visible. */
function unchecked(r: VisibilityRequest): VisibilityResult {
  return { current: inlineClaims(r) !== null ? NO_CHANGES : new Set(), old: r.old.length > 0 ? new Set() : NO_CHANGES }
}

/** Visibility probes before giving up waiting for a transaction (~0.3 s in all). */
const VISIBILITY_ATTEMPTS = 40

export class RlsAuthorizer {
  /**
   * Number of authorization queries whose answers were used (for metrics and the benchmark):
   * a script dropped because a transaction was not visible yet is not counted.
   */
  queries = 0
  /** Check functions known to exist (created or found by this process). */
  readonly #functions = new Set<string>()
  /** Check functions that could not be created: their tables take the script. */
  readonly #unavailable = new Set<string>()

  constructor(private readonly sql: Sql, private readonly logger: Logger) {}

  async authorize(requests: readonly VisibilityRequest[]): Promise<Map<VisibilityRequest, VisibilityResult>> {
    const results = new Map<VisibilityRequest, VisibilityResult>()
    for (const r of requests) results.set(r, unchecked(r))
    if (requests.length === 0) return results
    const xids = transactionIds(requests)
    try {
      const functions = await this.#checkFunctions(requests)
      if (requests.some((r) => r.old.length > 0)) {
        await this.#awaitVisible(xids)
        await this.sql.begin((tx) => this.#run(tx, requests, results, functions, true, []))
      } else if (!(await this.#run(this.sql, requests, results, functions, true, xids))) {
        // Optimistic: the script tested visibility first (one round trip for both, not two) and
        // found a transaction not yet visible: its answers may miss rows. Wait, then check again.
        for (const r of requests) results.set(r, unchecked(r))
        await this.#awaitVisible(xids)
        await this.#run(this.sql, requests, results, functions, true, [])
      }
    } catch (error) {
      // Nothing can be checked: fail the batch, so that it is processed again, and blame nobody.
      if (isDatabaseUnavailable(error)) throw error
      this.logger.warn({ err: error }, 'cdc: batch authorization failed; retrying per context and table')
      await this.#awaitVisible(xids)
      // A function may be gone (dropped by hand, database restored): look again next batch.
      this.#functions.clear()
      for (const r of requests) {
        const single = { current: new Set<Change>(), old: new Set<Change>() }
        try {
          await this.sql.begin((tx) => this.#run(tx, [r], new Map([[r, single]]), new Map(), false, []))
          results.set(r, single)
        } catch (err) {
          if (isDatabaseUnavailable(err)) throw err
          // This context's check raises (its policy fails for its claims): nothing is visible
          // to it, and the dispatcher quarantines its subscribers (rls-check-failure.ts).
          this.logger.warn({ err, table: `${r.table.schema}.${r.table.table}`, role: r.context.role }, 'cdc: RLS check raised for one auth context')
          results.set(r, { current: new Set(), old: new Set(), failure: checkFailure(r.table, err) })
        }
      }
    }
    return results
  }

  /**
   * Waits until the transactions whose rows are checked are visible to new snapshots.
   *
   * Why: Postgres streams a transaction once its commit record is flushed, but other sessions
   * see its rows only a moment later (after it leaves the proc array). A check in that window
   * finds no row and would silently drop the change for every subscriber (measured: ~3 % of
   * rows under load). The stream gives each transaction's 32-bit xid; it is widened to the
   * xid8 of the current epoch and tested with `pg_visible_in_snapshot`, retried briefly.
   */
  async #awaitVisible(xids: readonly number[]): Promise<void> {
    let pending = [...xids]
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt === VISIBILITY_ATTEMPTS) {
        this.logger.warn({ xids: pending }, 'cdc: transactions still invisible; checking anyway')
        return
      }
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(attempt, 10)))
      const rows = await this.sql.unsafe<{ xid: string }[]>(invisibleQuery(pending))
      pending = rows.map((row) => Number(row.xid))
    }
  }

  /**
   * The check functions for the tables of these requests' current rows, by table oid, created
   * when missing (as the connecting user, before the batch). A table whose function cannot be
   * created is left out (it takes the script).
   */
  async #checkFunctions(requests: readonly VisibilityRequest[]): Promise<Map<number, CheckFunction>> {
    const out = new Map<number, CheckFunction>()
    for (const r of requests) {
      if (r.current.length === 0 || out.has(r.table.oid) || inlineClaims(r) !== null) continue
      const fn = checkFunction(r.table)
      if (fn === null || this.#unavailable.has(fn.name)) continue
      if (!this.#functions.has(fn.name)) {
        try {
          await this.sql.unsafe(fn.create).simple()
        } catch (error) {
          // 42723 duplicate_function, 23505 unique_violation (another server created it meanwhile).
          const code = (error as { code?: string }).code
          if (code !== '42723' && code !== '23505') {
            this.#unavailable.add(fn.name)
            this.logger.warn({ err: error, table: `${r.table.schema}.${r.table.table}` }, 'cdc: could not create the RLS check function; using per-context queries')
            continue
          }
        }
        this.#functions.add(fn.name)
      }
      out.set(r.table.oid, fn)
    }
    return out
  }

  /**
   * `tx` is a transaction when old rows are staged; otherwise the pool (one implicit
   * transaction). `functions`: tables whose current rows are checked by their check function.
   * `inline`: requests carrying a compiled policy are checked set-based (off when retrying).
   * `xids`: transactions whose visibility the script tests first (statements run in order, each
   * with a newer snapshot, so when they are visible to the first they are to the checks);
   * returns false when one is not visible yet (the answers may then miss its rows).
   */
  async #run(tx: Sql | TransactionSql, requests: readonly VisibilityRequest[], results: Map<VisibilityRequest, VisibilityResult>,
    functions: ReadonlyMap<number, CheckFunction>, inline: boolean, xids: readonly number[]): Promise<boolean> {
    // 1. Old rows into policy-carrying temp tables, as the connecting (owner) user.
    const oldByTable = new Map<number, { table: TableFacts; changes: Change[] }>()
    for (const r of requests) {
      if (r.old.length === 0) continue
      let entry = oldByTable.get(r.table.oid)
      if (!entry) oldByTable.set(r.table.oid, (entry = { table: r.table, changes: [] }))
      for (const c of r.old) if (!entry.changes.includes(c)) entry.changes.push(c)
    }
    for (const { table, changes } of oldByTable.values()) await this.#prepareOldRows(tx as TransactionSql, table, changes)

    // 2. One simple-protocol script, one round trip for the whole batch: first one call per
    //    table with a check function (current rows of all its contexts), then per context
    //    `set_config` (role + claims, LOCAL) and its remaining queries. Each context's statement
    //    sets all four settings, so what a function left behind does not leak into it.
    //    (Pipelined extended-protocol queries do not work here: postgres.js describes a new
    //    statement before binding it, so its execution could slip past the next context's
    //    set_config.) Values are inlined as SQL literals.
    const statements: string[] = []
    const readers: ((rows: { i: number }[]) => void)[] = []
    let queries = 0
    // Set-based first: per table and compiled policy, one statement for all its contexts.
    const byPolicy = new Map<InlinePolicy, { list: VisibilityRequest[]; claims: string[] }>()
    const inlined = new Set<VisibilityRequest>()
    for (const r of requests) {
      const claims = inline ? inlineClaims(r) : null
      if (claims === null) continue
      let group = byPolicy.get(r.inline!)
      if (!group) byPolicy.set(r.inline!, (group = { list: [], claims: [] }))
      group.list.push(r)
      group.claims.push(claims)
      inlined.add(r)
    }
    for (const [policy, { list, claims }] of byPolicy) {
      const table = list[0]!.table
      const pk = table.primaryKey[0]!
      const call = inlineCall(table, pk, policy, list, claims)
      statements.push(call.sql)
      readers.push((rows) => {
        // Row 0: the keys whose row exists; the others: per context, the existing rows it may not see.
        const keysAt = (list: string | null) => (list === null ? [] : list.split(',').map((g) => call.keys[Number(g) - 1]!))
        let existing = new Set<string>()
        const hidden = new Map<number, string>()
        for (const row of rows as unknown as { i: number; k: string | null }[]) {
          if (row.i === 0) existing = new Set(keysAt(row.k))
          else hidden.set(row.i, row.k!)
        }
        const shared = new Map<readonly Change[], Map<string, Set<Change>>>()
        list.forEach((r, n) => {
          const seen = hidden.get(n + 1)
          // Nothing else checks this request's current rows: its result may be the shared set.
          results.get(r)!.current = visibleChanges(shared, r.current, pk, seen ?? '', () => {
            if (seen === undefined) return existing
            const visible = new Set(existing)
            for (const key of keysAt(seen)) visible.delete(key)
            return visible
          })
        })
      })
      queries += list.length
    }
    const byFunction = new Map<number, VisibilityRequest[]>()
    for (const r of requests) {
      if (r.current.length === 0 || inlined.has(r) || !functions.has(r.table.oid)) continue
      const list = byFunction.get(r.table.oid)
      if (list) list.push(r)
      else byFunction.set(r.table.oid, [r])
    }
    for (const [oid, list] of byFunction) {
      const fn = functions.get(oid)!
      list.sort((a, b) => (a.context.role < b.context.role ? -1 : a.context.role > b.context.role ? 1 : 0))
      statements.push(checkCall(fn, list))
      readers.push((rows) => {
        const visible = list.map(() => new Set<string>())
        for (const row of rows as unknown as { i: number; k: string }[]) visible[row.i - 1]!.add(row.k)
        list.forEach((r, n) => {
          const result = results.get(r)!
          for (const change of r.current) if (visible[n]!.has(change.value(fn.pk) ?? '')) result.current.add(change)
        })
      })
      queries += list.length
    }
    const byContext = new Map<string, VisibilityRequest[]>()
    // Whether some statement above already checks this request's current rows.
    const checked = (r: VisibilityRequest) => inlined.has(r) || byFunction.has(r.table.oid)
    for (const r of requests) {
      if (r.old.length === 0 && checked(r)) continue
      const list = byContext.get(r.context.key)
      if (list) list.push(r)
      else byContext.set(r.context.key, [r])
    }
    for (const list of byContext.values()) {
      const ctx = list[0]!.context
      statements.push(`select set_config('role', ${literal(ctx.role)}, true), set_config('request.jwt.claims', ${literal(ctx.claimsJson)}, true), ` +
        `set_config('request.jwt.claim.sub', ${literal(ctx.sub ?? '')}, true), set_config('request.jwt.claim.role', ${literal(ctx.role)}, true)`)
      readers.push(() => {})
      const first = statements.length
      for (const r of list) {
        const result = results.get(r)!
        if (r.current.length > 0 && !checked(r)) {
          statements.push(currentQuery(r.table, r.current))
          if (r.table.primaryKey.length === 1) {
            const name = r.table.primaryKey[0]!
            readers.push((rows) => {
              const visible = new Set((rows as unknown as { k: string }[]).map((row) => row.k))
              for (const change of r.current) if (visible.has(change.value(name) ?? '')) result.current.add(change)
            })
          } else {
            readers.push((rows) => { for (const row of rows) result.current.add(r.current[row.i]!) })
          }
        }
        if (r.old.length > 0) {
          const all = oldByTable.get(r.table.oid)!.changes
          statements.push(`select "__sb_i" as i from ${tempName(r.table)} where "__sb_i" = any(array[${r.old.map((c) => all.indexOf(c)).join(',')}]::int4[])`)
          readers.push((rows) => { for (const row of rows) result.old.add(all[row.i]!) })
        }
      }
      queries += statements.length - first
      if (statements.length === first) { statements.pop(); readers.pop() } // nothing of this context's to check
    }
    if (readers.length === 0) return true // nothing to check
    let visible = true
    if (xids.length > 0) {
      statements.unshift(invisibleQuery(xids))
      readers.unshift((rows) => { visible = rows.length === 0 })
    }
    const reply = (await tx.unsafe(statements.join(';\n')).simple()) as unknown
    // A lone statement's reply is its rows, not a list of result sets.
    const sets = (statements.length === 1 ? [reply] : reply) as { i: number }[][]
    sets.forEach((rows, n) => readers[n]!(rows))
    if (visible) this.queries += queries
    return visible
  }

  async #prepareOldRows(tx: TransactionSql, table: TableFacts, changes: Change[]): Promise<void> {
    const temp = tempName(table)
    const policies = await tx<PolicyRow[]>`
      select permissive, roles::text[] as roles, qual from pg_policies
      where schemaname = ${table.schema} and tablename = ${table.table} and cmd in ('SELECT', 'ALL')`
    // CTAS, not LIKE: LIKE copies NOT NULL, and an old row may lack unchanged-TOAST values.
    await tx.unsafe(`create temp table ${temp} on commit drop as select *, 0::int4 as "__sb_i" from ${tableName(table)} with no data`)
    await tx.unsafe(`alter table ${temp} enable row level security`)
    await tx.unsafe(`grant select on ${temp} to public`)
    let n = 0
    for (const p of policies) {
      if (p.qual === null) continue
      const roles = p.roles.map((r) => (r === 'public' ? 'public' : quoteIdent(r))).join(', ')
      await tx.unsafe(`create policy ${quoteIdent(`p${n++}`)} on ${temp} as ${p.permissive === 'RESTRICTIVE' ? 'restrictive' : 'permissive'} for select to ${roles} using (${p.qual})`)
    }
    // json/jsonb values go in parsed, so json_populate_recordset stores the value, not a JSON string.
    const jsonColumns = changes[0]!.relation.columns.filter((c) => c.type.kind === 'json').map((c) => c.name)
    const rows = changes.map((c, i) => {
      const row: Record<string, unknown> = { ...c.oldText(), __sb_i: i }
      for (const name of jsonColumns) if (typeof row[name] === 'string') row[name] = JSON.parse(row[name] as string)
      return row
    })
    await tx.unsafe(`insert into ${temp} select * from json_populate_recordset(null::${temp}, $1::text::json)`, [JSON.stringify(rows)])
  }
}
