import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { parseSecretsKey, SecretBox, SecretsKeyError } from '../../src/tenant/secret-box.js'

describe('SecretBox (AES-256-GCM)', () => {
  const box = new SecretBox(randomBytes(32))

  it('round-trips, with a fresh IV each time (no plaintext in the stored text)', () => {
    const a = box.seal('postgres://app:hunter2@db/acme', 'acme/database_url')
    const b = box.seal('postgres://app:hunter2@db/acme', 'acme/database_url')
    expect(a).not.toBe(b)
    expect(a.startsWith('v1:')).toBe(true)
    expect(a).not.toContain('hunter2')
    expect(box.open(a, 'acme/database_url')).toBe('postgres://app:hunter2@db/acme')
  })

  it('binds a value to its tenant and field: copied elsewhere, it does not decrypt', () => {
    const sealed = box.seal('s3cret', 'acme/jwt_secret')
    expect(() => box.open(sealed, 'globex/jwt_secret')).toThrow(SecretsKeyError)
    expect(() => box.open(sealed, 'acme/previous_jwt_secret')).toThrow(/cannot decrypt/)
  })

  it('refuses an altered value and another key', () => {
    const sealed = box.seal('s3cret', 'acme/jwt_secret')
    const bytes = Buffer.from(sealed.slice(3), 'base64url')
    bytes[bytes.length - 1]! ^= 1
    expect(() => box.open(`v1:${bytes.toString('base64url')}`, 'acme/jwt_secret')).toThrow(/wrong secrets key, or the value was altered/)
    expect(() => new SecretBox(randomBytes(32)).open(sealed, 'acme/jwt_secret')).toThrow(SecretsKeyError)
    expect(() => box.open('plain text', 'acme/jwt_secret')).toThrow(/not an encrypted value/)
  })

  it('takes the key as 64 hex characters or base64 of 32 bytes, and says how to make one otherwise', () => {
    const key = randomBytes(32)
    expect(parseSecretsKey(key.toString('hex'))).toEqual(key)
    expect(parseSecretsKey(key.toString('base64'))).toEqual(key)
    expect(parseSecretsKey(` ${key.toString('base64url')}\n`)).toEqual(key)
    for (const bad of ['', 'too-short', randomBytes(16).toString('base64'), randomBytes(31).toString('hex')]) {
      expect(() => parseSecretsKey(bad)).toThrow(/32 bytes.*openssl rand -base64 32/)
    }
  })
})
