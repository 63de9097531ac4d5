/**
 * Who a channel acts as: the Postgres role from the token's `role` claim plus the full claim
 * set, which becomes `request.jwt.claims` so `auth.uid()` and `auth.jwt()` work in policies.
 *
 * Authorization of Postgres Changes runs once per *distinct* context, not per subscriber, so
 * contexts carry a stable key. The key leaves out the claims that differ between two tokens
 * of the same session (`exp`, `iat`, `nbf`, `jti`): a policy reading those would see the
 * values of whichever token created the context (documented in docs/postgres-changes.md).
 */
export interface AuthContext {
  role: string
  claims: Readonly<Record<string, unknown>>
  /** JSON of `claims`, computed once. */
  claimsJson: string
  /** `sub` claim if present (for `request.jwt.claim.sub`). */
  sub: string | null
  /** Expiry in ms since epoch. */
  expiresAt: number
  /** Stable identity of the authorization context (role + claims minus per-token fields). */
  key: string
}

const PER_TOKEN_CLAIMS = new Set(['exp', 'iat', 'nbf', 'jti'])

export function createAuthContext(claims: Record<string, unknown>): AuthContext {
  const role = String(claims.role)
  const stable: Record<string, unknown> = {}
  for (const name of Object.keys(claims).sort()) if (!PER_TOKEN_CLAIMS.has(name)) stable[name] = claims[name]
  return {
    role,
    claims,
    claimsJson: JSON.stringify(claims),
    sub: typeof claims.sub === 'string' ? claims.sub : null,
    expiresAt: Number(claims.exp) * 1000,
    key: `${role}\u0000${JSON.stringify(stable)}`,
  }
}

/** `service_role` bypasses channel authorization and RLS, as in Supabase. */
export function isServiceRole(context: AuthContext): boolean {
  return context.role === 'service_role'
}
