/**
 * A table's SELECT policies for one role, compiled into one SQL boolean expression over the
 * table's columns and a per-context row of claims, so that ONE statement checks all auth
 * contexts of a batch (rls-authorizer.ts) instead of one policy evaluation per context.
 *
 * Why: a policy that tells users apart (`owner = auth.uid()`) cannot be shared between users
 * (policy-claims.ts), so 1,000 users are 1,000 checks per batch. Under the role, each check
 * needs its own `set_config` and its own execution of the table query: ~25 µs each in the
 * plpgsql loop, ~25 ms of Postgres time per batch (measured, 2026-12-02). Set-based, with the
 * claims as a column, the same batch takes ~3 ms.
 *
 * What Postgres does for `SELECT … FROM t` under role R (src/backend/rewrite/rowsecurity.c),
 * and what the compiled expression reproduces:
 *  - the policies are those for SELECT or ALL whose roles include PUBLIC or a role R has the
 *    privileges of (`pg_has_role(R, role, 'USAGE')`): the catalog query selects them;
 *  - permissive USING expressions are ORed, restrictive ones ANDed to that; no permissive
 *    policy means no row (this module answers null then: the caller keeps Postgres's own path);
 *  - `auth.jwt()`, `auth.uid()` and `auth.role()` read the settings the checker would set per
 *    context (`request.jwt.claims`, `.claim.sub`, `.claim.role`): each call is replaced by its
 *    body, reading the context's row instead of the setting. Only the exact Supabase bodies are
 *    replaced (`STANDARD_BODIES`); a redefined function gives null.
 *
 * The expression is evaluated as the connecting user, not as R, so it is used ONLY when the
 * difference cannot show (otherwise null, and the table keeps the per-context path):
 *  - every node of every policy's stored tree (`pg_policy.polqual`) is a plain expression node
 *    (`SAFE_NODES`): no CURRENT_USER, no subquery except the `( SELECT auth.uid() AS uid)`
 *    wrapper, no system or whole-row column;
 *  - every function it calls (directly or as an operator) is an IMMUTABLE function in
 *    `pg_catalog` or one of the three auth functions, and R may EXECUTE it (else Postgres
 *    would raise, which quarantines the subscriber);
 *  - R has USAGE on the table's schema (same reason), and RLS is not active for the connecting
 *    user on the table (it reads the rows as they are);
 *  - policy-claims.ts knows every claim path the expressions read, so each context passes only
 *    those claims (`prunedClaimsJson`): `auth.jwt()` is then never used whole.
 * A policy that raises for some context (e.g. `auth.uid()` of a non-uuid `sub`) fails the
 * statement; the authorizer then retries per context with Postgres's own RLS, which decides.
 * Pure; the facts come from Catalog.inlinePolicy.
 */
import { claimPathsOfPolicies, type ClaimPaths } from './policy-claims.js'

/** One applicable SELECT/ALL policy as stored: deparsed USING expression and node tree. */
export interface InlinePolicyRow {
  permissive: boolean
  qual: string | null
  tree: string | null
}

/** A function an expression calls (by `funcid`, `opfuncid` or an operator's `oprcode`). */
export interface InlineFunctionRow {
  oid: number
  /** `jwt`, `uid` or `role` for the auth functions, else null. */
  auth: 'jwt' | 'uid' | 'role' | null
  inPgCatalog: boolean
  immutable: boolean
  /** The subscriber role may EXECUTE it. */
  executable: boolean
  /** `language sql` body (auth functions only). */
  source: string | null
}

export interface InlineFacts {
  policies: InlinePolicyRow[]
  functions: InlineFunctionRow[]
  /** The subscriber role has USAGE on the table's schema. */
  schemaUsage: boolean
  /** `row_security_active(table)` for the connecting user. */
  rlsActiveForChecker: boolean
  columns: readonly string[]
}

export interface InlinePolicy {
  /** SQL boolean over the table's columns (unqualified) and `__sb_c` (see CONTEXT_COLUMNS). */
  expression: string
  /** Claim paths the expression reads (the contexts pass only these). */
  claimPaths: ClaimPaths
}

/**
 * The context row the expression reads, one per auth context (rls-authorizer.ts `inlineCall`
 * computes it): what each auth function gives for that context without the row, so that it is
 * computed once per context, not once per (context, row) pair:
 *  - `__sb_c.__sb_jwt`: `auth.jwt()`, the pruned claims as jsonb;
 *  - `__sb_c.__sb_uid`: the text `auth.uid()` casts (`request.jwt.claim.sub`, else the `sub`
 *    claim). The `::uuid` cast stays per row, where Postgres's own RLS evaluates it, so a
 *    non-uuid `sub` raises only where the policy reaches the call, as it would under RLS;
 *  - `__sb_c.__sb_rl`: `auth.role()`.
 * Table columns starting with RESERVED_PREFIX would be ambiguous: such a table gets null.
 */
export const CONTEXT_COLUMNS = { jwt: '__sb_jwt', uid: '__sb_uid', role: '__sb_rl' } as const

export const RESERVED_PREFIX = '__sb_'

/** The function bodies replaced, whitespace outside literals removed, and what replaces a call. */
const STANDARD_BODIES: Record<'jwt' | 'uid' | 'role', { body: string; inline: string }> = {
  jwt: {
    body: "selectcoalesce(nullif(current_setting('request.jwt.claim',true),''),nullif(current_setting('request.jwt.claims',true),''))::jsonb",
    inline: `__sb_c.${CONTEXT_COLUMNS.jwt}`,
  },
  uid: {
    body: "selectcoalesce(nullif(current_setting('request.jwt.claim.sub',true),''),(nullif(current_setting('request.jwt.claims',true),'')::jsonb->>'sub'))::uuid",
    inline: `(__sb_c.${CONTEXT_COLUMNS.uid}::uuid)`,
  },
  role: {
    body: "selectcoalesce(nullif(current_setting('request.jwt.claim.role',true),''),(nullif(current_setting('request.jwt.claims',true),'')::jsonb->>'role'))::text",
    inline: `(__sb_c.${CONTEXT_COLUMNS.role})`,
  },
}

/** Expression nodes that compute from their inputs only (plus the auth-call wrapper's nodes). */
const SAFE_NODES = new Set([
  'OPEXPR', 'FUNCEXPR', 'VAR', 'CONST', 'BOOLEXPR', 'RELABELTYPE', 'COERCEVIAIO', 'SCALARARRAYOPEXPR',
  'NULLTEST', 'BOOLEANTEST', 'CASEEXPR', 'CASEWHEN', 'CASETESTEXPR', 'COALESCEEXPR', 'ARRAYEXPR',
  'DISTINCTEXPR', 'NULLIFEXPR', 'COLLATEEXPR',
  // `( SELECT auth.uid() AS uid)`: checked below to be that wrapper and nothing more.
  'SUBLINK', 'QUERY', 'FROMEXPR', 'TARGETENTRY',
])

/** Splits SQL text into unquoted parts (even indexes) and quoted literals/identifiers (odd). */
function splitQuoted(text: string): string[] {
  return text.split(/('(?:[^']|'')*'|"(?:[^"]|"")*")/)
}

/** Whitespace removed outside literals, lowercased outside literals. */
export function normalizeBody(source: string): string {
  return splitQuoted(source).map((part, i) => (i % 2 === 0 ? part.replace(/\s+/g, '').toLowerCase() : part)).join('')
}

const WRAPPED = /\(\s*SELECT\s+auth\.(jwt|uid|role)\(\)\s+AS\s+"?\w+"?\s*\)/gi
const CALL = /\bauth\.(jwt|uid|role)\(\)/g

/** One policy expression with the auth calls replaced, or null when it is not inlinable. */
function rewriteQual(qual: string, tree: string): string | null {
  let wrapped = 0
  const parts = splitQuoted(qual).map((part, i) => {
    if (i % 2 === 1) return part
    const out = part
      .replace(WRAPPED, (_m, fn: 'jwt' | 'uid' | 'role') => { wrapped++; return `(${STANDARD_BODIES[fn].inline})` })
      .replace(CALL, (_m, fn: 'jwt' | 'uid' | 'role') => `(${STANDARD_BODIES[fn].inline})`)
    return out
  })
  // Every subquery of the tree must be one of the wrappers just replaced.
  if ((tree.match(/\{SUBLINK /g) ?? []).length !== wrapped) return null
  const rewritten = parts.join('')
  for (const [i, part] of splitQuoted(rewritten).entries()) {
    if (i % 2 === 0 && (/\bauth\./i.test(part) || /\b(select|from)\b/i.test(part))) return null
  }
  return rewritten
}

/** Node types named in a stored tree (`{OPEXPR :opno …}`), and whether they are all safe. */
function treeIsSafe(tree: string): boolean {
  for (const [, node] of tree.matchAll(/\{([A-Z_]+)/g)) if (!SAFE_NODES.has(node!)) return false
  // System columns (negative attno) and whole-row references (0) are not in `t.*`.
  for (const [, attno] of tree.matchAll(/:varattno (-?\d+)/g)) if (Number(attno) <= 0) return false
  for (const [, level] of tree.matchAll(/:varlevelsup (\d+)/g)) if (level !== '0') return false
  return true
}

/**
 * The compiled check for one role on one table, or null when it must stay Postgres's own
 * (see the header for every condition).
 */
export function compileInlinePolicy(facts: InlineFacts): InlinePolicy | null {
  if (!facts.schemaUsage || facts.rlsActiveForChecker) return null
  if (facts.columns.some((c) => c.startsWith(RESERVED_PREFIX))) return null
  for (const f of facts.functions) {
    if (!f.executable) return null
    if (f.auth !== null) {
      if (f.source === null || normalizeBody(f.source) !== STANDARD_BODIES[f.auth].body) return null
    } else if (!f.inPgCatalog || !f.immutable) {
      return null
    }
  }
  const permissive: string[] = []
  const restrictive: string[] = []
  for (const p of facts.policies) {
    if (p.qual === null || p.tree === null || !treeIsSafe(p.tree)) return null
    const expression = rewriteQual(p.qual, p.tree)
    if (expression === null) return null
    ;(p.permissive ? permissive : restrictive).push(`(${expression})`)
  }
  // No permissive policy: Postgres shows nothing. Rare; left to Postgres rather than special-cased.
  if (permissive.length === 0) return null
  const claimPaths = claimPathsOfPolicies(facts.policies.map((p) => p.qual))
  if (claimPaths === null) return null
  return { expression: [`(${permissive.join(' OR ')})`, ...restrictive].join(' AND '), claimPaths }
}

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k)
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * The claims as JSON, keeping only `paths` (the `->`/`->>` chains the policies read): every
 * such chain yields the same value on the pruned object as on the full one (a chain through
 * a missing key or a non-object is NULL on both). Null when Postgres could not parse the
 * result as jsonb (`\u0000`): that context keeps the per-context path, which raises as before.
 */
export function prunedClaimsJson(claims: Readonly<Record<string, unknown>>, paths: ClaimPaths): string | null {
  const out: Record<string, unknown> = Object.create(null)
  // Shorter paths first: a value copied whole is never descended into (nor mutated) by a longer one.
  const whole = new Set<string>()
  for (const path of [...paths].sort((a, b) => a.length - b.length)) {
    if (path.some((_, i) => whole.has(JSON.stringify(path.slice(0, i + 1))))) continue
    let from: unknown = claims
    let to = out
    for (let i = 0; i < path.length; i++) {
      const key = path[i]!
      if (!isObject(from) || !hasOwn(from, key)) break
      const value = from[key]
      if (i === path.length - 1) {
        to[key] = value
        whole.add(JSON.stringify(path))
        break
      }
      if (!isObject(value)) break
      if (!isObject(to[key])) to[key] = Object.create(null)
      to = to[key] as Record<string, unknown>
      from = value
    }
  }
  const json = JSON.stringify(out)
  return json.includes('\\u0000') ? null : json
}
