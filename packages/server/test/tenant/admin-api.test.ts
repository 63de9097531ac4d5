/**
 * The tenants admin API against a real server and control database: only the admin key opens
 * it (never a tenant's key), bad input gets clear 4xx errors and creates nothing, secrets are
 * encrypted at rest, and the secrets key is required and checked.
 */
import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { signToken } from '../../src/auth/dev-keys.js'
import { startSwitchboard, type RunningSwitchboard } from '../../src/server.js'
import { createTestDatabase, type TestDatabase } from '../../../../test-support/database.js'
import { freePort } from '../../../../test-support/free-port.js'

const ADMIN_KEY = 'admin-key-of-this-test-0123456789'
const SECRET = 'acme-secret-0123456789abcdef'

let control: TestDatabase
let tenantDb: TestDatabase
let server: RunningSwitchboard
const secretsKey = randomBytes(32).toString('hex')

beforeAll(async () => {
  control = await createTestDatabase('control')
  tenantDb = await createTestDatabase('tenant')
  server = await startSwitchboard({ port: 0, databaseUrl: tenantDb.url, postgresChanges: false, adminKey: ADMIN_KEY, controlDatabaseUrl: control.url, secretsKey })
})
afterAll(async () => {
  await server?.close()
  await tenantDb?.drop()
  await control?.drop()
})

async function call(method: string, path: string, body?: unknown, authorization: string | null = `Bearer ${ADMIN_KEY}`): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = {}
  if (authorization) headers.authorization = authorization
  if (body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(`${server.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) })
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : null }
}

const acme = () => ({ external_id: 'acme', database_url: tenantDb.url, jwt_secret: SECRET, limits: { max_concurrent_users: 5 } })

describe('authorization', () => {
  test('only the admin key opens the API: no key, a wrong key and tenant keys get 401', async () => {
    const tenantKeys = [server.serviceRoleKey, server.anonKey, await signToken(SECRET, { role: 'service_role' })]
    for (const authorization of [null, 'Bearer nope', `Basic ${ADMIN_KEY}`, ...tenantKeys.map((key) => `Bearer ${key}`)]) {
      const answer = await call('GET', '/api/tenants', undefined, authorization)
      expect(answer.status).toBe(401)
      expect(answer.body.error).toMatch(/^Unauthorized: the admin API takes the server admin key/)
    }
    // The apikey header a tenant's client sends does not open it either.
    const withApikey = await fetch(`${server.url}/api/tenants`, { headers: { apikey: server.serviceRoleKey } })
    expect(withApikey.status).toBe(401)
    expect((await call('GET', '/api/tenants')).status).toBe(200)
  })
})

describe('bad input: clear errors, nothing half-created', () => {
  test('create: malformed JSON, missing and invalid fields, unknown limits', async () => {
    const cases: [unknown, number, Record<string, unknown>][] = [
      ['{"external_id":', 400, { error: expect.stringContaining('bad request') }],
      [[], 400, { error: 'invalid tenant', errors: { body: ['must be a JSON object'] } }],
      [{}, 400, { error: 'invalid tenant', errors: { external_id: ["can't be blank"], database_url: [expect.any(String)], jwt_secret: ['a jwt_secret or a jwt_jwks is required'] } }],
      [{ ...acme(), external_id: 'Acme_Corp' }, 400, { errors: { external_id: [expect.stringContaining('DNS label')] } }],
      [{ ...acme(), external_id: 'default' }, 400, { errors: { external_id: [expect.stringContaining('flags')] } }],
      [{ ...acme(), jwt_secret: 'short' }, 400, { errors: { jwt_secret: ['must be a string of at least 16 characters'] } }],
      [{ ...acme(), limits: { max_users: 3 } }, 400, { errors: { limits: [expect.stringContaining('unknown limit "max_users"')] } }],
      [{ ...acme(), suspended: 'yes' }, 400, { errors: { suspended: ['must be true or false'] } }],
    ]
    for (const [body, status, expected] of cases) {
      const answer = await call('POST', '/api/tenants', body)
      expect(answer.status, JSON.stringify(body)).toBe(status)
      expect(answer.body).toMatchObject(expected)
    }
    expect((await call('GET', '/api/tenants')).body).toEqual([])
  })

  test('create: a database that does not answer is refused (422) and nothing is stored', async () => {
    const port = await freePort()
    const answer = await call('POST', '/api/tenants', { ...acme(), database_url: `postgres://u:hunter2@127.0.0.1:${port}/nope` })
    expect(answer.status).toBe(422)
    expect(answer.body).toMatchObject({ error: 'the tenant database does not answer', errors: { database_url: [expect.stringContaining(`cannot connect to database at 127.0.0.1:${port}/nope`)] } })
    expect(JSON.stringify(answer.body)).not.toContain('hunter2')
    expect((await call('GET', '/api/tenants')).body).toEqual([])
  })

  test('create, then: duplicate 409; bad patches and rotations 400 and the tenant unchanged; unknown ids 404', async () => {
    const created = await call('POST', '/api/tenants', acme())
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ external_id: 'acme', jwt_secret_set: true, limits: { max_concurrent_users: 5 }, private_only: false, suspended: false })
    expect(created.body.database_url).not.toContain('postgres:postgres@') // password masked
    expect((await call('POST', '/api/tenants', acme())).status).toBe(409)

    const before = (await call('GET', '/api/tenants/acme')).body
    const patches: [unknown, Record<string, unknown>][] = [
      [{ external_id: 'other' }, { external_id: [expect.stringContaining('cannot be changed')] }],
      [{ limits: { max_concurrent_users: 0 } }, { limits: ['max_concurrent_users must be a positive integer'] }],
      [{ colour: 'red' }, { colour: [expect.stringContaining('unknown field')] }],
      [{}, { body: [expect.stringContaining('nothing to change')] }],
    ]
    for (const [body, errors] of patches) {
      const answer = await call('PATCH', '/api/tenants/acme', body)
      expect(answer.status, JSON.stringify(body)).toBe(400)
      expect(answer.body.errors).toMatchObject(errors)
    }
    const rotations: unknown[] = [{}, { jwt_secret: 'new-secret-0123456789', old_secret_valid_until: '2001-01-01T00:00:00Z' }, { jwt_secret: 'new-secret-0123456789', old_secret_valid_for_seconds: 10, old_secret_valid_until: '2099-01-01T00:00:00Z' }]
    for (const body of rotations) expect((await call('POST', '/api/tenants/acme/rotate-secret', body)).status).toBe(400)
    const after = (await call('GET', '/api/tenants/acme')).body
    expect({ ...after, updated_at: null }).toEqual({ ...before, updated_at: null })

    for (const [method, path] of [['GET', '/api/tenants/nobody'], ['PATCH', '/api/tenants/nobody'], ['DELETE', '/api/tenants/nobody'], ['POST', '/api/tenants/nobody/rotate-secret']] as const) {
      const body = method === 'PATCH' ? { suspended: true } : method === 'POST' ? { jwt_secret: 'new-secret-0123456789' } : undefined
      expect((await call(method, path, body)).status, `${method} ${path}`).toBe(404)
    }
    expect((await call('GET', '/api/tenants/Bad_Id')).status).toBe(400)
  })

  test('secrets and passwords are encrypted at rest in the control database', async () => {
    const sql = postgres(control.url, { max: 1, onnotice: () => {} })
    try {
      const rows = await sql`select * from switchboard.tenants`
      const text = JSON.stringify(rows)
      expect(rows.length).toBe(1)
      expect(text).not.toContain(SECRET)
      expect(text).not.toContain(new URL(tenantDb.url).password)
      expect(rows[0]!.jwt_secret).toMatch(/^v1:/)
      expect(rows[0]!.database_url).toMatch(/^v1:/)
    } finally {
      await sql.end()
    }
  })
})

describe('the secrets key', () => {
  test('a server without one cannot store tenants, and says why', async () => {
    const otherControl = await createTestDatabase('control')
    const bare = await startSwitchboard({ port: 0, databaseUrl: tenantDb.url, postgresChanges: false, adminKey: ADMIN_KEY, controlDatabaseUrl: otherControl.url })
    try {
      const response = await fetch(`${bare.url}/api/tenants`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(acme()) })
      expect(response.status).toBe(503)
      expect((await response.json()).error).toContain('--secrets-key')
    } finally {
      await bare.close()
      await otherControl.drop()
    }
  })

  test('starting on a control database with tenants needs the key they were stored with', async () => {
    await expect(startSwitchboard({ port: 0, databaseUrl: tenantDb.url, postgresChanges: false, controlDatabaseUrl: control.url })).rejects.toThrow(/holds 1 tenant\(s\) with encrypted secrets: start the server with --secrets-key/)
    await expect(startSwitchboard({ port: 0, databaseUrl: tenantDb.url, postgresChanges: false, controlDatabaseUrl: control.url, secretsKey: randomBytes(32).toString('hex') })).rejects.toThrow(/does not match the one the stored tenants were encrypted with/)
  })
})
