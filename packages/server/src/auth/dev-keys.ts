/**
 * Development keys: an `anon` and a `service_role` JWT signed with the server's secret, the
 * same two keys a local Supabase stack prints, so `createClient(url, anonKey)` works at once.
 */
import { SignJWT } from 'jose'

/** Supabase CLI's local default; printed with a warning when no secret is configured. */
export const DEV_JWT_SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long'

const TEN_YEARS_SECONDS = 10 * 365 * 24 * 3600

export async function signToken(secret: string, claims: Record<string, unknown>, ttlSeconds = TEN_YEARS_SECONDS, nowMs = Date.now()): Promise<string> {
  const now = Math.floor(nowMs / 1000)
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer('switchboard')
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .sign(new TextEncoder().encode(secret))
}

export async function createDevKeys(secret: string): Promise<{ anonKey: string; serviceRoleKey: string }> {
  const [anonKey, serviceRoleKey] = await Promise.all([
    signToken(secret, { role: 'anon' }),
    signToken(secret, { role: 'service_role' }),
  ])
  return { anonKey, serviceRoleKey }
}
