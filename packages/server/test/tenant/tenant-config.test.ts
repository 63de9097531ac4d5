import { describe, expect, it } from 'vitest'
import { DEFAULT_LIMITS } from '../../src/limits.js'
import {
  applyPatch,
  applyRotation,
  parseNewTenant,
  parseRotation,
  parseTenantPatch,
  tenantLimits,
  tenantView,
  type TenantConfig,
} from '../../src/tenant/tenant-config.js'

const NOW = Date.parse('2026-12-01T12:00:00Z')
const valid = { external_id: 'acme', database_url: 'postgres://app:hunter2@db:5432/acme', jwt_secret: 'a-secret-of-at-least-16' }

function config(overrides: Partial<TenantConfig> = {}): TenantConfig {
  return {
    externalId: 'acme', name: null, databaseUrl: valid.database_url, jwtSecret: valid.jwt_secret, jwks: null,
    previousJwtSecret: null, previousJwtSecretValidUntil: null, limits: {}, privateOnly: false, suspended: false,
    insertedAt: NOW, updatedAt: NOW, ...overrides,
  }
}

describe('parseNewTenant', () => {
  it('accepts a complete tenant', () => {
    const parsed = parseNewTenant({ ...valid, name: 'Acme', limits: { max_concurrent_users: 10 }, private_only: true })
    expect(parsed).toEqual({ ok: true, value: { externalId: 'acme', name: 'Acme', databaseUrl: valid.database_url, jwtSecret: valid.jwt_secret, jwks: null, limits: { max_concurrent_users: 10 }, privateOnly: true, suspended: false } })
  })

  it('reports every problem at once, by field', () => {
    const parsed = parseNewTenant({ external_id: 'Not_A_Label', database_url: 'mysql://x', jwt_secret: 'short', limits: { max_users: 1, max_events_per_second: -1 }, colour: 'red' })
    expect(parsed.ok).toBe(false)
    if (parsed.ok) return
    expect(Object.keys(parsed.errors).sort()).toEqual(['colour', 'database_url', 'external_id', 'jwt_secret', 'limits'])
    expect(parsed.errors.limits).toEqual([expect.stringContaining('unknown limit "max_users"'), 'max_events_per_second must be a positive integer'])
  })

  it('needs a secret or a JWKS, and keeps `default` for the flags tenant', () => {
    expect(parseNewTenant({ external_id: 'acme', database_url: valid.database_url })).toMatchObject({ ok: false, errors: { jwt_secret: ['a jwt_secret or a jwt_jwks is required'] } })
    expect(parseNewTenant({ ...valid, external_id: 'default' })).toMatchObject({ ok: false, errors: { external_id: [expect.stringContaining('flags')] } })
    const jwks = { keys: [{ kty: 'EC', kid: 'k1', crv: 'P-256', x: 'x', y: 'y' }] }
    expect(parseNewTenant({ external_id: 'acme', database_url: valid.database_url, jwt_jwks: jwks })).toMatchObject({ ok: true, value: { jwtSecret: null, jwks } })
    expect(parseNewTenant({ ...valid, jwt_jwks: { keys: [{ kty: 'EC', kid: 'k1', d: 'private' }] } })).toMatchObject({ ok: false, errors: { jwt_jwks: [expect.stringContaining('public keys only')] } })
    expect(parseNewTenant('nope')).toEqual({ ok: false, errors: { body: ['must be a JSON object'] } })
  })
})

describe('patches and rotations', () => {
  it('a patch merges limits (null removes one) and cannot rename', () => {
    const patch = parseTenantPatch({ limits: { max_concurrent_users: 5, max_events_per_second: null }, suspended: true })
    expect(patch.ok).toBe(true)
    if (!patch.ok) return
    const next = applyPatch(config({ limits: { max_events_per_second: 100, max_joins_per_second: 7 } }), patch.value, NOW + 1)
    expect(next.limits).toEqual({ max_joins_per_second: 7, max_concurrent_users: 5 })
    expect(next).toMatchObject({ suspended: true, updatedAt: NOW + 1 })
    expect(parseTenantPatch({ external_id: 'other' })).toMatchObject({ ok: false, errors: { external_id: [expect.stringContaining('cannot be changed')] } })
    expect(parseTenantPatch({})).toMatchObject({ ok: false, errors: { body: [expect.stringContaining('nothing to change')] } })
  })

  it('a secret set outright ends a rotation in progress', () => {
    const rotating = config({ previousJwtSecret: 'old-secret-0123456789', previousJwtSecretValidUntil: NOW + 1000 })
    const patch = parseTenantPatch({ jwt_secret: 'brand-new-secret-0123' })
    if (!patch.ok) throw new Error('patch refused')
    expect(applyPatch(rotating, patch.value, NOW)).toMatchObject({ jwtSecret: 'brand-new-secret-0123', previousJwtSecret: null, previousJwtSecretValidUntil: null })
  })

  it('a rotation keeps the old secret until the given time (an hour by default; 0 retires it now)', () => {
    expect(parseRotation({ jwt_secret: 'brand-new-secret-0123' }, NOW)).toEqual({ ok: true, value: { jwtSecret: 'brand-new-secret-0123', oldSecretValidUntil: NOW + 3_600_000 } })
    expect(parseRotation({ jwt_secret: 'brand-new-secret-0123', old_secret_valid_until: '2026-12-01T13:00:00Z' }, NOW)).toMatchObject({ ok: true, value: { oldSecretValidUntil: NOW + 3_600_000 } })
    expect(parseRotation({ jwt_secret: 'brand-new-secret-0123', old_secret_valid_until: '2026-12-01T11:00:00Z' }, NOW)).toMatchObject({ ok: false, errors: { old_secret_valid_until: [expect.stringContaining('in the past')] } })
    expect(parseRotation({ jwt_secret: 'x', old_secret_valid_for_seconds: -1 }, NOW)).toMatchObject({ ok: false, errors: { jwt_secret: [expect.any(String)], old_secret_valid_for_seconds: [expect.any(String)] } })
    const rotated = applyRotation(config(), { jwtSecret: 'brand-new-secret-0123', oldSecretValidUntil: NOW + 5_000 }, NOW)
    expect(rotated).toMatchObject({ jwtSecret: 'brand-new-secret-0123', previousJwtSecret: valid.jwt_secret, previousJwtSecretValidUntil: NOW + 5_000 })
    expect(applyRotation(config(), { jwtSecret: 'brand-new-secret-0123', oldSecretValidUntil: NOW }, NOW)).toMatchObject({ previousJwtSecret: null, previousJwtSecretValidUntil: null })
  })
})

describe('tenant limits and the admin view', () => {
  it('maps Supabase’s limit names onto the server’s limits, over the server’s own', () => {
    const limits = tenantLimits({ ...DEFAULT_LIMITS, maxChannelsPerSocket: 7 }, { max_concurrent_users: 3, max_events_per_second: 50, max_payload_size_in_kb: 256 })
    expect(limits).toMatchObject({ maxConnections: 3, maxTenantEventsPerSecond: 50, maxPayloadBytes: 256_000, maxChannelsPerSocket: 7, maxJoinsPerSecond: DEFAULT_LIMITS.maxJoinsPerSecond })
  })

  it('shows no secret and no password', () => {
    const view = tenantView(config({ previousJwtSecret: 'old-secret-0123456789', previousJwtSecretValidUntil: NOW + 1000, jwks: { keys: [{ kty: 'oct', kid: 'k', k: 'c2VjcmV0' }] } }))
    const text = JSON.stringify(view)
    for (const secret of ['hunter2', valid.jwt_secret, 'old-secret-0123456789', 'c2VjcmV0']) expect(text).not.toContain(secret)
    expect(view).toMatchObject({ database_url: 'postgres://app:***@db:5432/acme', jwt_secret_set: true, jwt_jwks: { keys: [{ kty: 'oct', kid: 'k' }] }, old_secret_valid_until: '2026-12-01T12:00:01.000Z' })
  })
})
