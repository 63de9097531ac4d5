/**
 * Verifies the JWTs that identify sockets and channels: HS256/384/512 signed with the tenant's
 * secret, `role` and `exp` required (supabase-protocol.md §6.2). Failures carry Supabase's
 * codes and messages so the official client shows what the Supabase server would.
 */
import { errors as joseErrors, jwtVerify, decodeProtectedHeader } from 'jose'
import { ErrorCode, RealtimeError } from '@switchboard/protocol'
import type { Clock } from '../clock.js'

export type Claims = Record<string, unknown> & { role: string; exp: number }

const HMAC_ALGORITHMS = new Set(['HS256', 'HS384', 'HS512'])

/** Supabase cleans tokens before use: URL-decoded, whitespace and newlines removed. */
export function cleanToken(token: string): string {
  let cleaned = token
  try {
    cleaned = decodeURIComponent(token)
  } catch {
    // Not URL-encoded: keep as is.
  }
  return cleaned.replace(/\s+/g, '')
}

export class JwtVerifier {
  readonly #key: Uint8Array
  readonly #clock: Clock

  constructor(secret: string, clock: Clock) {
    if (secret.length === 0) throw new RangeError('JWT secret must not be empty')
    this.#key = new TextEncoder().encode(secret)
    this.#clock = clock
  }

  /** Resolves to the claims, or rejects with a RealtimeError carrying Supabase's reason. */
  async verify(rawToken: string): Promise<Claims> {
    const token = cleanToken(rawToken)
    let alg: string | undefined
    try {
      alg = decodeProtectedHeader(token).alg
    } catch (cause) {
      throw new RealtimeError(ErrorCode.MalformedJWT, 'The token provided is not a valid JWT', { cause })
    }
    if (!alg || !HMAC_ALGORITHMS.has(alg)) {
      // Covers `alg: none` and asymmetric algorithms this tenant has no key for.
      throw new RealtimeError(ErrorCode.JwtSignerError, `Failed to generate JWT signer for algorithm ${alg ?? 'none'}`)
    }
    let payload: Record<string, unknown>
    try {
      const result = await jwtVerify(token, this.#key, {
        algorithms: [alg],
        currentDate: new Date(this.#clock.now()),
      })
      payload = result.payload
    } catch (cause) {
      throw this.#translate(cause)
    }
    return this.#checkClaims(payload)
  }

  #translate(cause: unknown): RealtimeError {
    if (cause instanceof joseErrors.JWSSignatureVerificationFailed) {
      return new RealtimeError(ErrorCode.JwtSignatureError, 'Failed to validate JWT signature', { cause })
    }
    if (cause instanceof joseErrors.JWTExpired) {
      const exp = Number((cause.payload as { exp?: unknown }).exp)
      return expiredError(exp, this.#clock.now())
    }
    if (cause instanceof joseErrors.JWTClaimValidationFailed && cause.claim === 'exp') {
      return new RealtimeError(ErrorCode.InvalidJWTToken, 'Token expiration time is invalid', { cause })
    }
    return new RealtimeError(ErrorCode.MalformedJWT, 'The token provided is not a valid JWT', { cause })
  }

  #checkClaims(payload: Record<string, unknown>): Claims {
    if (payload.role === undefined || payload.exp === undefined) {
      throw new RealtimeError(ErrorCode.InvalidJWTToken, 'Fields `role` and `exp` are required in JWT')
    }
    if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) {
      throw new RealtimeError(ErrorCode.InvalidJWTToken, 'Token expiration time is invalid')
    }
    if (typeof payload.role !== 'string' || payload.role.length === 0) {
      throw new RealtimeError(ErrorCode.InvalidJWTToken, 'Fields `role` and `exp` are required in JWT')
    }
    return payload as Claims
  }
}

export function expiredError(expSeconds: number, nowMs: number): RealtimeError {
  const ago = Math.max(0, Math.round(nowMs / 1000 - expSeconds))
  return new RealtimeError(ErrorCode.InvalidJWTToken, `Token has expired ${ago} seconds ago`)
}

/**
 * The message the WebSocket upgrade answers with (HTTP 401 `{"error": …}`), which Supabase
 * words differently from the join reasons (§6.4).
 */
export function connectErrorMessage(error: RealtimeError): string {
  if (error.message.startsWith('Token has expired')) return 'Token has expired'
  return error.message
}
