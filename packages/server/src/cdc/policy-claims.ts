/**
 * Which JWT claims a table's row-level-security policies read, so that auth contexts which
 * agree on those claims share one visibility check.
 *
 * Why: a call board has many users per tenant, and its policy reads only `tenant_id`. Checking
 * once per distinct *(role, tenant_id)* instead of once per distinct token turns a hundred
 * checks into one, with the same answer, because the policy cannot tell those users apart.
 *
 * Safety first: this reads the policies' deparsed expressions (`pg_policies.qual`) and only
 * answers when every applicable policy is built from columns, constants, operators, a short
 * list of pure built-ins, and the claim accessors Supabase policies use:
 *   auth.jwt() ->> 'k'   auth.jwt() -> 'a' ->> 'b'   auth.uid() (claim `sub`)   auth.role()
 * (also wrapped as `(select auth.uid())`). Anything else (a subquery, which would apply other
 * tables' policies; a user function, which may read any claim; `auth.jwt()` used whole;
 * `current_setting`) gives null, and the caller falls back to the full auth context. Pure.
 */

/** Claim paths (e.g. `[['tenant_id'], ['app_metadata', 'org']]`), or null when unknown. */
export type ClaimPaths = string[][]

const PURE_CALLS = new Set([
  'and', 'or', 'not', 'any', 'all', 'in', 'coalesce', 'nullif', 'greatest', 'least', 'lower', 'upper',
  'length', 'btrim', 'ltrim', 'rtrim', 'split_part', 'substring', 'position', 'abs', 'is', 'array',
])

const WRAPPED_CALL = /\(\s*SELECT\s+(auth\.(?:jwt|uid|role))\(\)\s+AS\s+\w+\s*\)/gi
const JWT = /auth\.jwt\(\)/g
const STEP = /JWT<([^>]*)>\s*->\s*'((?:[^']|'')*)'::text/g
const LEAF = /JWT<([^>]*)>\s*->>\s*'((?:[^']|'')*)'::text/g
const PARENS = /\(\s*((?:JWT|CLAIM)<[^>]*>)\s*\)/g

function rewrite(text: string, pattern: RegExp, replace: (...groups: string[]) => string): string {
  return text.replace(pattern, (_match, ...groups: string[]) => replace(...groups))
}

/** The claim paths one policy expression reads, or null when it may read anything else. */
export function claimPathsOfExpression(qual: string): ClaimPaths | null {
  let text = qual.replace(WRAPPED_CALL, '$1()')
  text = text.replace(/auth\.uid\(\)/g, 'CLAIM<sub>').replace(/auth\.role\(\)/g, 'CLAIM<role>').replace(JWT, 'JWT<>')
  // Fold `->` steps and the final `->>` into one token per path, dropping parentheses the
  // deparser puts around each step, until nothing changes.
  for (let previous = ''; previous !== text; ) {
    previous = text
    text = rewrite(text, PARENS, (token) => token!)
    text = rewrite(text, STEP, (path, key) => `JWT<${path ? `${path}\u0001` : ''}${key!.replace(/''/g, "'")}>`)
    text = rewrite(text, LEAF, (path, key) => `CLAIM<${path ? `${path}\u0001` : ''}${key!.replace(/''/g, "'")}>`)
  }
  if (/JWT</.test(text)) return null // the claims object used whole (or a `->` value compared as json)
  if (/\b(select|from|current_setting)\b|auth\./i.test(text.replace(/'(?:[^']|'')*'/g, "''"))) return null
  for (const [, name] of text.replace(/'(?:[^']|'')*'/g, "''").matchAll(/([A-Za-z_][\w.]*)\s*\(/g)) {
    if (!PURE_CALLS.has(name!.toLowerCase())) return null
  }
  const paths: ClaimPaths = []
  for (const [, path] of text.matchAll(/CLAIM<([^>]*)>/g)) paths.push(path!.split('\u0001'))
  return paths
}

/**
 * The claim paths all `quals` read together, or null if any is unknown. A policy without an
 * expression (`qual` null) is unknown too.
 */
export function claimPathsOfPolicies(quals: readonly (string | null)[]): ClaimPaths | null {
  const seen = new Map<string, string[]>()
  for (const qual of quals) {
    if (qual === null) return null
    const paths = claimPathsOfExpression(qual)
    if (paths === null) return null
    for (const path of paths) seen.set(path.join('\u0001'), path)
  }
  return [...seen.values()].sort((a, b) => a.join('.').localeCompare(b.join('.')))
}

/** The values of `paths` in `claims`, as a stable key part. */
export function claimValuesKey(claims: Readonly<Record<string, unknown>>, paths: ClaimPaths): string {
  return JSON.stringify(paths.map((path) => {
    let value: unknown = claims
    for (const key of path) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined
    return value === undefined ? null : value
  }))
}

/**
 * Whether the `auth.jwt()`, `auth.uid()` and `auth.role()` definitions (`pg_proc.prosrc`) are
 * the claim readers this module assumes: they read `request.jwt.claim*` settings and nothing
 * else (no table, no other setting). A project that redefined them gets no grouping.
 */
export function isStandardClaimReader(source: string): boolean {
  const settings = [...source.matchAll(/current_setting\(\s*'([^']*)'/gi)].map((m) => m[1]!)
  return settings.length > 0 && settings.every((name) => /^request\.jwt\.claims?(\.(sub|role))?$/.test(name)) && !/\bfrom\b/i.test(source)
}
