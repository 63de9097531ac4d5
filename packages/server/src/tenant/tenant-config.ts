/**
 * A stored tenant: its configuration as the registry uses it, the admin API's JSON for it, and
 * the validation of what the admin API accepts (pure functions: typed values or a map of
 * field errors, never a half-checked object).
 *
 * JSON shapes (snake_case, close to Supabase's `_realtime.tenants`):
 *
 *   create  { external_id, database_url, jwt_secret?, jwt_jwks?, name?, limits?, private_only?, suspended? }
 *           (a `jwt_secret` or a `jwt_jwks` is required)
 *   update  any of: database_url, jwt_secret, jwt_jwks (null removes), name, limits (merged; a
 *           null value removes one), private_only, suspended
 *   rotate  { jwt_secret, old_secret_valid_until? (ISO time) | old_secret_valid_for_seconds? }
 *           (default: the old secret stays valid for an hour)
 *
 * Limits use Supabase's names where there is one; `TENANT_LIMIT_FIELDS` maps them onto
 * limits.ts. What is not set falls back to the server's limits.
 */
import type { JWK } from 'jose'
import type { Jwks } from '../auth/jwt-verifier.js'
import { resolveLimits, type Limits } from '../limits.js'

/** The id the flags-configured tenant has; stored tenants cannot take it. */
export const DEFAULT_TENANT_ID = 'default'
/** A DNS label in lower case: what the first label of a Host can carry. */
export const TENANT_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/
/** How long the old secret stays valid after a rotation when the request does not say. */
export const DEFAULT_ROTATION_GRACE_SECONDS = 3_600
const MIN_SECRET_LENGTH = 16
const MAX_JWKS_KEYS = 20
const MAX_LIMIT_VALUE = 1e12

/** Tenant limit names (admin API, storage) → the server limit each sets, with a unit factor. */
export const TENANT_LIMIT_FIELDS = {
  max_concurrent_users: { field: 'maxConnections', scale: 1 },
  max_channels_per_client: { field: 'maxChannelsPerSocket', scale: 1 },
  max_events_per_second: { field: 'maxTenantEventsPerSecond', scale: 1 },
  max_joins_per_second: { field: 'maxTenantJoinsPerSecond', scale: 1 },
  max_bytes_per_second: { field: 'maxTenantBytesPerSecond', scale: 1 },
  max_payload_size_in_kb: { field: 'maxPayloadBytes', scale: 1_000 },
  max_client_events_per_second: { field: 'maxEventsPerSecond', scale: 1 },
  max_client_joins_per_second: { field: 'maxJoinsPerSecond', scale: 1 },
  max_presence_calls_per_window: { field: 'maxPresenceCallsPerWindow', scale: 1 },
  presence_window_ms: { field: 'presenceWindowMs', scale: 1 },
  max_db_events_per_second: { field: 'maxDbEventsPerSecond', scale: 1 },
  max_rest_batch_messages: { field: 'maxRestBatchMessages', scale: 1 },
} as const satisfies Record<string, { field: keyof Limits; scale: number }>

export type TenantLimitName = keyof typeof TENANT_LIMIT_FIELDS
export type TenantLimitSettings = Partial<Record<TenantLimitName, number>>

/** A tenant as the registry uses it (secrets decrypted). Times in ms since epoch. */
export interface TenantConfig {
  externalId: string
  name: string | null
  databaseUrl: string
  jwtSecret: string | null
  jwks: Jwks | null
  /** The secret before the last rotation, accepted until `previousJwtSecretValidUntil`. */
  previousJwtSecret: string | null
  previousJwtSecretValidUntil: number | null
  limits: TenantLimitSettings
  privateOnly: boolean
  suspended: boolean
  insertedAt: number
  updatedAt: number
}

/** What creating a tenant takes. */
export type NewTenant = Omit<TenantConfig, 'insertedAt' | 'updatedAt' | 'previousJwtSecret' | 'previousJwtSecretValidUntil'>

/** A change to a tenant; `limits` entries set to null are removed. */
export interface TenantPatch {
  name?: string | null
  databaseUrl?: string
  jwtSecret?: string
  jwks?: Jwks | null
  limits?: Partial<Record<TenantLimitName, number | null>>
  privateOnly?: boolean
  suspended?: boolean
}

export interface SecretRotation {
  jwtSecret: string
  /** When the old secret stops being accepted (ms since epoch). */
  oldSecretValidUntil: number
}

export type FieldErrors = Record<string, string[]>
export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: FieldErrors }

/** The server limits of a tenant: the server's, overridden by what the tenant sets. */
export function tenantLimits(base: Limits, settings: TenantLimitSettings): Limits {
  const overrides: Partial<Limits> = {}
  for (const [name, value] of Object.entries(settings) as [TenantLimitName, number][]) {
    const mapping = TENANT_LIMIT_FIELDS[name]
    if (mapping && value !== undefined) overrides[mapping.field] = value * mapping.scale
  }
  return resolveLimits({ ...base, ...overrides })
}

/** The next tenant after `patch` (pure; `updatedAt` set to `now`). */
export function applyPatch(config: TenantConfig, patch: TenantPatch, now: number): TenantConfig {
  const limits: TenantLimitSettings = { ...config.limits }
  for (const [name, value] of Object.entries(patch.limits ?? {}) as [TenantLimitName, number | null][]) {
    if (value === null) delete limits[name]
    else limits[name] = value
  }
  return {
    ...config,
    ...(patch.name !== undefined ? { name: patch.name } : {}),
    ...(patch.databaseUrl !== undefined ? { databaseUrl: patch.databaseUrl } : {}),
    // Setting a secret outright (not a rotation) ends any rotation in progress.
    ...(patch.jwtSecret !== undefined ? { jwtSecret: patch.jwtSecret, previousJwtSecret: null, previousJwtSecretValidUntil: null } : {}),
    ...(patch.jwks !== undefined ? { jwks: patch.jwks } : {}),
    ...(patch.privateOnly !== undefined ? { privateOnly: patch.privateOnly } : {}),
    ...(patch.suspended !== undefined ? { suspended: patch.suspended } : {}),
    limits,
    updatedAt: now,
  }
}

/** The tenant after a rotation: the new secret current, the old one valid until the given time. */
export function applyRotation(config: TenantConfig, rotation: SecretRotation, now: number): TenantConfig {
  const expired = rotation.oldSecretValidUntil <= now
  return {
    ...config,
    jwtSecret: rotation.jwtSecret,
    previousJwtSecret: expired ? null : config.jwtSecret,
    previousJwtSecretValidUntil: expired || config.jwtSecret === null ? null : rotation.oldSecretValidUntil,
    updatedAt: now,
  }
}

/** Whether a tenant must be stopped for a change to apply (a new database). */
export function needsRestart(before: TenantConfig, after: TenantConfig): boolean {
  return before.databaseUrl !== after.databaseUrl
}

// ─── the admin API's JSON ─────────────────────────────────────────────────────────────────

/** A tenant as the admin API shows it: no secret, no password, only what identifies keys. */
export function tenantView(config: TenantConfig): Record<string, unknown> {
  return {
    external_id: config.externalId,
    name: config.name,
    database_url: maskPassword(config.databaseUrl),
    jwt_secret_set: config.jwtSecret !== null,
    jwt_jwks: config.jwks ? { keys: config.jwks.keys.map((key) => pick(key, ['kid', 'kty', 'alg', 'use', 'crv'])) } : null,
    old_secret_valid_until: config.previousJwtSecretValidUntil === null ? null : new Date(config.previousJwtSecretValidUntil).toISOString(),
    limits: config.limits,
    private_only: config.privateOnly,
    suspended: config.suspended,
    inserted_at: new Date(config.insertedAt).toISOString(),
    updated_at: new Date(config.updatedAt).toISOString(),
  }
}

/** A connection URL with its password masked. */
export function maskPassword(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@')
}

function pick(object: JWK, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key of keys) if ((object as Record<string, unknown>)[key] !== undefined) out[key] = (object as Record<string, unknown>)[key]
  return out
}

// ─── parsing the admin API's input ────────────────────────────────────────────────────────

const CREATE_FIELDS = new Set(['external_id', 'name', 'database_url', 'jwt_secret', 'jwt_jwks', 'limits', 'private_only', 'suspended'])
const UPDATE_FIELDS = new Set(['name', 'database_url', 'jwt_secret', 'jwt_jwks', 'limits', 'private_only', 'suspended'])
const ROTATE_FIELDS = new Set(['jwt_secret', 'old_secret_valid_until', 'old_secret_valid_for_seconds'])

class Errors {
  readonly map: FieldErrors = {}
  add(field: string, message: string): void {
    ;(this.map[field] ??= []).push(message)
  }
  get empty(): boolean {
    return Object.keys(this.map).length === 0
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function checkFields(body: Record<string, unknown>, allowed: Set<string>, errors: Errors): void {
  for (const key of Object.keys(body)) if (!allowed.has(key)) errors.add(key, `unknown field (allowed: ${[...allowed].join(', ')})`)
}

/** A tenant id from a URL or body; null (with errors) when it is not one. */
export function checkTenantId(value: unknown, errors: FieldErrors = {}): string | null {
  const add = (message: string) => (errors.external_id ??= []).push(message)
  if (typeof value !== 'string' || value.length === 0) return add("can't be blank"), null
  if (!TENANT_ID_PATTERN.test(value)) return add('must be a DNS label: lower-case letters, digits and hyphens, at most 63 characters'), null
  if (value === DEFAULT_TENANT_ID) return add(`"${DEFAULT_TENANT_ID}" is the tenant configured by the server's flags`), null
  return value
}

function parseDatabaseUrl(value: unknown, errors: Errors): string | undefined {
  if (typeof value !== 'string' || !/^postgres(ql)?:\/\//.test(value)) return errors.add('database_url', 'must be a postgres:// or postgresql:// URL'), undefined
  try {
    const url = new URL(value)
    if (!url.hostname) return errors.add('database_url', 'must name a host'), undefined
    if (!url.pathname.replace(/^\//, '')) return errors.add('database_url', 'must name a database'), undefined
  } catch {
    return errors.add('database_url', 'is not a valid URL'), undefined
  }
  return value
}

function parseSecret(field: string, value: unknown, errors: Errors): string | undefined {
  if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH) return errors.add(field, `must be a string of at least ${MIN_SECRET_LENGTH} characters`), undefined
  return value
}

const KEY_TYPES = new Set(['RSA', 'EC', 'OKP', 'oct'])

function parseJwks(value: unknown, errors: Errors): Jwks | undefined {
  if (!isObject(value) || !Array.isArray(value.keys) || value.keys.length === 0) return errors.add('jwt_jwks', 'must be a JSON Web Key Set: {"keys": [ … ]} with at least one key'), undefined
  if (value.keys.length > MAX_JWKS_KEYS) return errors.add('jwt_jwks', `at most ${MAX_JWKS_KEYS} keys`), undefined
  const keys: JWK[] = []
  value.keys.forEach((key: unknown, index: number) => {
    if (!isObject(key) || typeof key.kty !== 'string' || !KEY_TYPES.has(key.kty)) return errors.add('jwt_jwks', `keys[${index}]: kty must be one of ${[...KEY_TYPES].join(', ')}`)
    if (typeof key.kid !== 'string' || key.kid.length === 0) return errors.add('jwt_jwks', `keys[${index}]: kid is required (tokens name their key by kid)`)
    if (key.kty === 'oct' && typeof key.k !== 'string') return errors.add('jwt_jwks', `keys[${index}]: an oct key needs k`)
    if (key.kty !== 'oct' && key.d !== undefined) return errors.add('jwt_jwks', `keys[${index}]: give public keys only (no d)`)
    keys.push(key as JWK)
  })
  return { keys }
}

function parseLimits(value: unknown, errors: Errors, allowNull: boolean): Partial<Record<TenantLimitName, number | null>> | undefined {
  if (!isObject(value)) return errors.add('limits', 'must be an object'), undefined
  const limits: Partial<Record<TenantLimitName, number | null>> = {}
  for (const [name, raw] of Object.entries(value)) {
    if (!(name in TENANT_LIMIT_FIELDS)) {
      errors.add('limits', `unknown limit ${JSON.stringify(name)} (known: ${Object.keys(TENANT_LIMIT_FIELDS).join(', ')})`)
      continue
    }
    if (raw === null && allowNull) {
      limits[name as TenantLimitName] = null
      continue
    }
    if (typeof raw !== 'number' || !Number.isInteger(raw) || raw <= 0 || raw > MAX_LIMIT_VALUE) {
      errors.add('limits', `${name} must be a positive integer`)
      continue
    }
    limits[name as TenantLimitName] = raw
  }
  return limits
}

function parseBoolean(field: string, value: unknown, errors: Errors): boolean | undefined {
  if (typeof value !== 'boolean') return errors.add(field, 'must be true or false'), undefined
  return value
}

function parseName(value: unknown, errors: Errors): string | null | undefined {
  if (value === null) return null
  if (typeof value !== 'string' || value.length > 200) return errors.add('name', 'must be a string of at most 200 characters, or null'), undefined
  return value
}

/** The body of `POST /api/tenants`. */
export function parseNewTenant(body: unknown): Parsed<NewTenant> {
  const errors = new Errors()
  if (!isObject(body)) return { ok: false, errors: { body: ['must be a JSON object'] } }
  checkFields(body, CREATE_FIELDS, errors)
  const externalId = checkTenantId(body.external_id, errors.map)
  const databaseUrl = parseDatabaseUrl(body.database_url, errors)
  const jwtSecret = body.jwt_secret === undefined || body.jwt_secret === null ? null : parseSecret('jwt_secret', body.jwt_secret, errors)
  const jwks = body.jwt_jwks === undefined || body.jwt_jwks === null ? null : parseJwks(body.jwt_jwks, errors)
  if (jwtSecret === null && jwks === null) errors.add('jwt_secret', 'a jwt_secret or a jwt_jwks is required')
  const limits = body.limits === undefined ? {} : parseLimits(body.limits, errors, false)
  const name = body.name === undefined ? null : parseName(body.name, errors)
  const privateOnly = body.private_only === undefined ? false : parseBoolean('private_only', body.private_only, errors)
  const suspended = body.suspended === undefined ? false : parseBoolean('suspended', body.suspended, errors)
  if (!errors.empty) return { ok: false, errors: errors.map }
  return {
    ok: true,
    value: {
      externalId: externalId!,
      name: name!,
      databaseUrl: databaseUrl!,
      jwtSecret: jwtSecret!,
      jwks: jwks!,
      limits: limits as TenantLimitSettings,
      privateOnly: privateOnly!,
      suspended: suspended!,
    },
  }
}

/** The body of `PATCH /api/tenants/:id`. */
export function parseTenantPatch(body: unknown): Parsed<TenantPatch> {
  const errors = new Errors()
  if (!isObject(body)) return { ok: false, errors: { body: ['must be a JSON object'] } }
  if ('external_id' in body) errors.add('external_id', 'cannot be changed (remove the tenant and add it again)')
  checkFields(body, new Set([...UPDATE_FIELDS, 'external_id']), errors)
  const patch: TenantPatch = {}
  if ('name' in body) {
    const name = parseName(body.name, errors)
    if (name !== undefined) patch.name = name
  }
  if ('database_url' in body) {
    const url = parseDatabaseUrl(body.database_url, errors)
    if (url !== undefined) patch.databaseUrl = url
  }
  if ('jwt_secret' in body) {
    const secret = parseSecret('jwt_secret', body.jwt_secret, errors)
    if (secret !== undefined) patch.jwtSecret = secret
  }
  if ('jwt_jwks' in body) {
    const jwks = body.jwt_jwks === null ? null : parseJwks(body.jwt_jwks, errors)
    if (jwks !== undefined) patch.jwks = jwks
  }
  if ('limits' in body) {
    const limits = parseLimits(body.limits, errors, true)
    if (limits !== undefined) patch.limits = limits
  }
  if ('private_only' in body) {
    const value = parseBoolean('private_only', body.private_only, errors)
    if (value !== undefined) patch.privateOnly = value
  }
  if ('suspended' in body) {
    const value = parseBoolean('suspended', body.suspended, errors)
    if (value !== undefined) patch.suspended = value
  }
  if (errors.empty && Object.keys(patch).length === 0) errors.add('body', `nothing to change (fields: ${[...UPDATE_FIELDS].join(', ')})`)
  return errors.empty ? { ok: true, value: patch } : { ok: false, errors: errors.map }
}

/** The body of `POST /api/tenants/:id/rotate-secret`. */
export function parseRotation(body: unknown, now: number): Parsed<SecretRotation> {
  const errors = new Errors()
  if (!isObject(body)) return { ok: false, errors: { body: ['must be a JSON object'] } }
  checkFields(body, ROTATE_FIELDS, errors)
  const jwtSecret = parseSecret('jwt_secret', body.jwt_secret, errors)
  let until = now + DEFAULT_ROTATION_GRACE_SECONDS * 1000
  if (body.old_secret_valid_until !== undefined && body.old_secret_valid_for_seconds !== undefined) {
    errors.add('old_secret_valid_until', 'give old_secret_valid_until or old_secret_valid_for_seconds, not both')
  } else if (body.old_secret_valid_until !== undefined) {
    const parsed = typeof body.old_secret_valid_until === 'string' ? Date.parse(body.old_secret_valid_until) : NaN
    if (!Number.isFinite(parsed)) errors.add('old_secret_valid_until', 'must be an ISO 8601 time, e.g. 2026-12-01T12:00:00Z')
    else if (parsed < now) errors.add('old_secret_valid_until', 'is in the past (use old_secret_valid_for_seconds: 0 to retire the old secret now)')
    else until = parsed
  } else if (body.old_secret_valid_for_seconds !== undefined) {
    const seconds = body.old_secret_valid_for_seconds
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0 || seconds > 366 * 86_400) errors.add('old_secret_valid_for_seconds', 'must be a number of seconds from 0 to 31622400')
    else until = now + seconds * 1000
  }
  return errors.empty ? { ok: true, value: { jwtSecret: jwtSecret!, oldSecretValidUntil: until } } : { ok: false, errors: errors.map }
}
