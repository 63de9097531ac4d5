/**
 * Authentication of the REST endpoints: a JWT in `Authorization: Bearer …` (preferred), the
 * `apikey` header, or the `apikey` query parameter realtime-js appends to its fallback URL.
 */
import type { FastifyRequest } from 'fastify'
import { createAuthContext, type AuthContext } from '../auth/auth-context.js'
import type { JwtVerifier } from '../auth/jwt-verifier.js'

export async function authenticateRequest(request: FastifyRequest, verifier: JwtVerifier): Promise<AuthContext | null> {
  const authorization = request.headers.authorization
  const bearer = authorization?.toLowerCase().startsWith('bearer ') ? authorization.slice(7).trim() : undefined
  const header = request.headers.apikey
  const query = (request.query as Record<string, unknown> | undefined)?.apikey
  const token = bearer || (Array.isArray(header) ? header[0] : header) || (typeof query === 'string' ? query : undefined)
  if (!token || token.startsWith('sb_')) return null
  try {
    return createAuthContext(await verifier.verify(token))
  } catch {
    return null
  }
}
