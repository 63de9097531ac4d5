/**
 * Who may use the inspector API, and on which tenants: the admin key (`--admin-key`) sees every
 * tenant; a tenant's `service_role` JWT sees only that tenant. Anything else (no key, a wrong
 * key, an `anon` or user token) sees nothing.
 *
 * The key comes in `Authorization: Bearer …` or the `apikey` header, never in the URL (URLs end
 * up in logs and browser history; the page reads its live stream with fetch, which can send
 * headers). With several tenants, a service_role key must name its tenant (`x-tenant-id` or the
 * `tenant` parameter), so a wrong key costs one verification, not one per tenant.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { Inspector } from '../inspect/inspector.js'

export type InspectScope = { kind: 'admin' } | { kind: 'tenant'; tenant: string }

function presentedKey(request: FastifyRequest): string | null {
  const authorization = request.headers.authorization
  if (authorization?.toLowerCase().startsWith('bearer ')) return authorization.slice(7).trim() || null
  const apikey = request.headers.apikey
  return (Array.isArray(apikey) ? apikey[0] : apikey) || null
}

/** Constant-time comparison of two secrets of any lengths (compared as SHA-256 digests). */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
}

/** The tenant the request names, if any (`x-tenant-id` header or `tenant` query parameter). */
export function namedTenant(request: FastifyRequest): string | undefined {
  const header = request.headers['x-tenant-id']
  const fromHeader = Array.isArray(header) ? header[0] : header
  const query = (request.query as Record<string, unknown> | undefined)?.tenant
  return fromHeader || (typeof query === 'string' && query !== '' ? query : undefined)
}

export async function inspectScope(request: FastifyRequest, inspector: Inspector, adminKey: string | null): Promise<InspectScope | null> {
  const key = presentedKey(request)
  if (!key) return null
  if (adminKey !== null && sameSecret(key, adminKey)) return { kind: 'admin' }
  const named = namedTenant(request)
  const candidates = named !== undefined ? [inspector.tenant(named)] : inspector.tenants.length === 1 ? inspector.tenants : []
  for (const candidate of candidates) {
    if (!candidate) continue
    try {
      const claims = await candidate.tenant.verifier.verify(key)
      if (claims.role === 'service_role') return { kind: 'tenant', tenant: candidate.id }
    } catch {
      // not this tenant's key
    }
  }
  return null
}

export function canSee(scope: InspectScope, tenant: string): boolean {
  return scope.kind === 'admin' || scope.tenant === tenant
}
