/**
 * The verifier's keys: a secret rotated out stays valid until it retires, JWKS keys by `kid`
 * (asymmetric, and `oct` for HS*), and keys replaced while in use.
 */
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import { describe, expect, it } from 'vitest'
import { JwtVerifier } from '../../src/auth/jwt-verifier.js'
import type { Clock } from '../../src/clock.js'

function clockAt(ms: number): Clock & { set(ms: number): void } {
  let now = ms
  return { now: () => now, set: (value) => void (now = value), setTimeout: (cb, delay) => setTimeout(cb, delay), clearTimeout: (t) => clearTimeout(t) }
}

const NOW = Date.parse('2026-12-01T12:00:00Z')
const sign = (key: Uint8Array | CryptoKey, header: { alg: string; kid?: string }, claims: Record<string, unknown> = { role: 'anon' }) =>
  new SignJWT(claims).setProtectedHeader(header).setIssuedAt(NOW / 1000).setExpirationTime(NOW / 1000 + 3600).sign(key)
const bytes = (s: string) => new TextEncoder().encode(s)

describe('JwtVerifier keys', () => {
  it('accepts the previous secret of a rotation until it retires, then refuses it', async () => {
    const clock = clockAt(NOW)
    const verifier = new JwtVerifier({ secret: 'new-secret-0123456789', previous: { secret: 'old-secret-0123456789', retiresAt: NOW + 1000 } }, clock)
    const old = await sign(bytes('old-secret-0123456789'), { alg: 'HS256' })
    const fresh = await sign(bytes('new-secret-0123456789'), { alg: 'HS384' })
    await expect(verifier.verify(old)).resolves.toMatchObject({ role: 'anon' })
    await expect(verifier.verify(fresh)).resolves.toMatchObject({ role: 'anon' })
    clock.set(NOW + 1000)
    await expect(verifier.verify(old)).rejects.toMatchObject({ code: 'JwtSignatureError', message: 'Failed to validate JWT signature' })
    await expect(verifier.verify(fresh)).resolves.toMatchObject({ role: 'anon' })
  })

  it('verifies asymmetric tokens with the JWKS key of their kid, and says which kid it lacks', async () => {
    const clock = clockAt(NOW)
    const { privateKey, publicKey } = await generateKeyPair('ES256')
    const jwk = { ...(await exportJWK(publicKey)), kid: 'es-1' }
    const verifier = new JwtVerifier({ secret: null, jwks: { keys: [jwk] } }, clock)
    await expect(verifier.verify(await sign(privateKey, { alg: 'ES256', kid: 'es-1' }))).resolves.toMatchObject({ role: 'anon' })
    await expect(verifier.verify(await sign(privateKey, { alg: 'ES256', kid: 'other' }))).rejects.toMatchObject({
      code: 'JwtSignerError',
      message: 'Failed to generate JWT signer for key ID (kid) "other", check your JWT secret or JWKS configuration',
    })
    // No secret: an HS256 token has no signer.
    await expect(verifier.verify(await sign(bytes('whatever-0123456789'), { alg: 'HS256' }))).rejects.toMatchObject({ code: 'JwtSignerError' })
  })

  it('uses an oct JWKS key for HS tokens that name it, the secret otherwise; keys can be replaced live', async () => {
    const clock = clockAt(NOW)
    const octSecret = 'oct-key-secret-0123456789'
    const verifier = new JwtVerifier({ secret: 'tenant-secret-0123456789', jwks: { keys: [{ kty: 'oct', kid: 'hs-1', k: Buffer.from(octSecret).toString('base64url') }] } }, clock)
    await expect(verifier.verify(await sign(bytes(octSecret), { alg: 'HS256', kid: 'hs-1' }))).resolves.toMatchObject({ role: 'anon' })
    const plain = await sign(bytes('tenant-secret-0123456789'), { alg: 'HS256' })
    await expect(verifier.verify(plain)).resolves.toMatchObject({ role: 'anon' })
    verifier.setKeys({ secret: 'another-secret-0123456789' })
    await expect(verifier.verify(plain)).rejects.toMatchObject({ code: 'JwtSignatureError' })
  })
})
