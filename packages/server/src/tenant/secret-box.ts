/**
 * Encryption at rest of tenant secrets (JWT secrets, JWKS, database URLs with their password)
 * in the control database: AES-256-GCM from node:crypto, a random 96-bit IV per value, the
 * 128-bit tag checked on the way back. The tenant id and the field name are authenticated data,
 * so a ciphertext copied into another row or column does not decrypt.
 *
 *   stored text: "v1:" + base64url(iv ‖ tag ‖ ciphertext)
 *
 * The key is 32 bytes given as 64 hex characters or base64 (`openssl rand -base64 32`), from
 * `--secrets-key` / SECRETS_KEY. A check value stored next to the tenants tells a wrong key
 * apart from corrupted data at start, and `--previous-secrets-key` rotates to a new key
 * (tenant/secrets-rekey.ts).
 *
 * @example
 * const box = new SecretBox(parseSecretsKey(process.env.SECRETS_KEY!))
 * const stored = box.seal('s3cret', 'acme/jwt_secret')
 * box.open(stored, 'acme/jwt_secret') // 's3cret'
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

const VERSION = 'v1:'
const IV_BYTES = 12
const TAG_BYTES = 16

/** A secrets key that is missing or malformed, or a value it cannot decrypt. */
export class SecretsKeyError extends Error {
  readonly code = 'SecretsKeyError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'SecretsKeyError'
  }
}

/** The 32 key bytes of `text` (64 hex characters, or base64 of 32 bytes); throws SecretsKeyError. */
export function parseSecretsKey(text: string): Buffer {
  const trimmed = text.trim()
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex')
  if (/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(trimmed)) {
    const bytes = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
    if (bytes.length === 32) return bytes
  }
  throw new SecretsKeyError('the secrets key must be 32 bytes, as 64 hex characters or base64 (generate one with: openssl rand -base64 32)')
}

export class SecretBox {
  readonly #key: Buffer

  constructor(key: Buffer) {
    if (key.length !== 32) throw new SecretsKeyError('the secrets key must be 32 bytes')
    this.#key = key
  }

  /** Encrypts `plain`, bound to `context` (e.g. `acme/jwt_secret`). */
  seal(plain: string, context: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv)
    cipher.setAAD(Buffer.from(context, 'utf8'))
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
    return VERSION + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
  }

  /** Decrypts what `seal` produced for the same `context`; throws SecretsKeyError otherwise. */
  open(stored: string, context: string): string {
    if (!stored.startsWith(VERSION)) throw new SecretsKeyError(`${context}: not an encrypted value`)
    const bytes = Buffer.from(stored.slice(VERSION.length), 'base64url')
    if (bytes.length < IV_BYTES + TAG_BYTES) throw new SecretsKeyError(`${context}: encrypted value is truncated`)
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, IV_BYTES))
      decipher.setAAD(Buffer.from(context, 'utf8'))
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
      return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8')
    } catch (cause) {
      throw new SecretsKeyError(`${context}: cannot decrypt (wrong secrets key, or the value was altered)`, { cause })
    }
  }
}
