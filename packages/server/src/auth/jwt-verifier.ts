/**
 * Verifies the JWTs that identify sockets and channels (supabase-protocol.md §6.2): `role` and
 * `exp` required; failures carry Supabase's codes and messages so the official client shows
 * what the Supabase server would.
 *
 * Keys, as Supabase picks them from the token header:
 *   HS256/384/512  the tenant's secret; with a `kid` naming an `oct` key of the JWKS, that key.
 *                  During a secret rotation the previous secret is accepted too, until it
 *                  retires (channels verified with it end then: tenant/tenant-slot.ts).
 *   RS*, PS*, ES*, EdDSA  the JWKS key with the token's `kid`.
 * Keys can be replaced while the verifier is in use (`setKeys`): a rotation or a new JWKS
 * applies to the next token verified.
 */
import { errors as joseErrors, jwtVerify, decodeProtectedHeader, importJWK, type JWK, type CryptoKey } from 'jose'
import { ErrorCode, RealtimeError } from '@switchboard/protocol'
import type { Clock } from '../clock.js'

export type Claims = Record<string, unknown> & { role: string; exp: number }

/** A JSON Web Key Set as stored for a tenant (`{"keys": [...]}`). */
export interface Jwks {
  keys: JWK[]
}

export interface VerifierKeys {
  /** The HS256/384/512 secret (raw string bytes, as Supabase). Null: JWKS only. */
  secret: string | null
  /** The secret before the last rotation, accepted until `retiresAt` (ms since epoch). */
  previous?: { secret: string; retiresAt: number } | null
  jwks?: Jwks | null
}

const HMAC_ALGORITHMS = new Set(['HS256', 'HS384', 'HS512'])
/** Asymmetric algorithms and the key type (`kty`) each needs. */
const ASYMMETRIC_KTY: Record<string, string> = {
  RS256: 'RSA', RS384: 'RSA', RS512: 'RSA', PS256: 'RSA', PS384: 'RSA', PS512: 'RSA',
  ES256: 'EC', ES384: 'EC', ES512: 'EC', EdDSA: 'OKP', Ed25519: 'OKP',
}
const SIGNER_HINT = 'check your JWT secret or JWKS configuration'

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

type Candidate = Uint8Array | CryptoKey

export class JwtVerifier {
  readonly #clock: Clock
  #secret: Uint8Array | null = null
  #previous: { key: Uint8Array; retiresAt: number } | null = null
  #jwks: Jwks | null = null
  /** Imported asymmetric keys by `kid` + `alg` (a JWKS holds a handful). */
  #imported = new Map<string, Promise<CryptoKey | Uint8Array>>()
  /**
   * The HMAC secrets imported once per algorithm: jose imports a raw secret again on every
   * verification (WebCrypto `importKey`), which doubled the cost of each one (measured ~100 µs
   * against ~50 µs per HS256 token), paid on every join, reconnect and REST request.
   */
  #hmacKeys = new Map<Uint8Array, Map<string, Promise<CryptoKey>>>()

  constructor(keys: string | VerifierKeys, clock: Clock) {
    this.#clock = clock
    this.setKeys(typeof keys === 'string' ? { secret: keys } : keys)
  }

  /** Replaces the keys; tokens verified from now on use the new ones. */
  setKeys(keys: VerifierKeys): void {
    if (keys.secret !== null && keys.secret.length === 0) throw new RangeError('JWT secret must not be empty')
    if (keys.secret === null && !keys.jwks?.keys.length) throw new RangeError('a JWT secret or a JWKS is required')
    const encoder = new TextEncoder()
    this.#secret = keys.secret === null ? null : encoder.encode(keys.secret)
    this.#previous = keys.previous ? { key: encoder.encode(keys.previous.secret), retiresAt: keys.previous.retiresAt } : null
    this.#jwks = keys.jwks ?? null
    this.#imported = new Map()
    this.#hmacKeys = new Map()
  }

  /** Resolves to the claims, or rejects with a RealtimeError carrying Supabase's reason. */
  async verify(rawToken: string): Promise<Claims> {
    const token = cleanToken(rawToken)
    let header: { alg?: string; kid?: string }
    try {
      header = decodeProtectedHeader(token)
    } catch (cause) {
      throw new RealtimeError(ErrorCode.MalformedJWT, 'The token provided is not a valid JWT', { cause })
    }
    const alg = header.alg
    const candidates = alg ? await this.#candidates(alg, header.kid) : []
    if (candidates.length === 0) {
      // `alg: none`, an unknown algorithm, or no key of that kind for this tenant.
      const kid = typeof header.kid === 'string' ? header.kid : null
      const message = kid === null ? `Failed to generate JWT signer, ${SIGNER_HINT}` : `Failed to generate JWT signer for key ID (kid) ${JSON.stringify(kid)}, ${SIGNER_HINT}`
      throw new RealtimeError(ErrorCode.JwtSignerError, message)
    }
    for (let i = 0; ; i++) {
      const candidate = candidates[i]!
      let payload: Record<string, unknown>
      try {
        const result = await jwtVerify(token, candidate, { algorithms: [alg!], currentDate: new Date(this.#clock.now()) })
        payload = result.payload
      } catch (cause) {
        // A signature that another candidate (the previous secret) may verify: try it.
        if (cause instanceof joseErrors.JWSSignatureVerificationFailed && i + 1 < candidates.length) continue
        throw this.#translate(cause)
      }
      return this.#checkClaims(payload)
    }
  }

  async #candidates(alg: string, kid: unknown): Promise<Candidate[]> {
    const jwk = typeof kid === 'string' ? this.#jwks?.keys.find((k) => k.kid === kid) : undefined
    if (HMAC_ALGORITHMS.has(alg)) {
      if (jwk && jwk.kty === 'oct') return [await this.#import(jwk, alg)]
      const candidates: Candidate[] = []
      if (this.#secret) candidates.push(await this.#hmacKey(this.#secret, alg))
      const previous = this.#previous
      if (previous && this.#clock.now() < previous.retiresAt) candidates.push(await this.#hmacKey(previous.key, alg))
      return candidates
    }
    const kty = ASYMMETRIC_KTY[alg]
    if (!kty || !jwk || jwk.kty !== kty) return []
    return [await this.#import(jwk, alg)]
  }

  #hmacKey(secret: Uint8Array, alg: string): Promise<CryptoKey> {
    let byAlg = this.#hmacKeys.get(secret)
    if (!byAlg) this.#hmacKeys.set(secret, (byAlg = new Map()))
    let key = byAlg.get(alg)
    if (!key) {
      key = crypto.subtle.importKey('raw', new Uint8Array(secret), { name: 'HMAC', hash: `SHA-${alg.slice(2)}` }, false, ['verify'])
      byAlg.set(alg, key)
    }
    return key
  }

  #import(jwk: JWK, alg: string): Promise<CryptoKey | Uint8Array> {
    const id = `${jwk.kid}\u0000${alg}`
    let key = this.#imported.get(id)
    if (!key) {
      key = importJWK(jwk, alg)
      // A key that does not import is a signer problem, reported per token (not cached).
      key.catch(() => this.#imported.delete(id))
      this.#imported.set(id, key)
    }
    return key.catch((cause: unknown) => {
      throw new RealtimeError(ErrorCode.JwtSignerError, `Failed to generate JWT signer for key ID (kid) ${JSON.stringify(jwk.kid ?? null)}, ${SIGNER_HINT}`, { cause })
    })
  }

  #translate(cause: unknown): RealtimeError {
    if (cause instanceof RealtimeError) return cause
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
