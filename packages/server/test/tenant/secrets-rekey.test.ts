/**
 * Rotating the secrets key (`--previous-secrets-key`) on a real control database: values are
 * re-encrypted in one transaction at start, a wrong key or an unreadable value changes nothing
 * and says what to do, stores opening at once rotate once, and a sealed value stays bound to
 * its tenant and field.
 */
import { randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import postgres from 'postgres'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { createLogger, silentLogger, type Logger } from '../../src/logger.js'
import { startSwitchboard } from '../../src/server.js'
import { PostgresTenantStore } from '../../src/tenant/postgres-tenant-store.js'
import { SecretsKeyError } from '../../src/tenant/secret-box.js'
import type { NewTenant, TenantConfig } from '../../src/tenant/tenant-config.js'
import { createTestDatabase, type TestDatabase } from '../../../../test-support/database.js'

const OLD_KEY = randomBytes(32)
const NEW_KEY = randomBytes(32)
const ADMIN_KEY = 'admin-key-of-this-test-0123456789'

const acme: NewTenant = {
  externalId: 'acme', name: 'Acme', databaseUrl: 'postgres://app:hunter2@db:5432/acme', jwtSecret: 'acme-secret-0123456789abcdef',
  jwks: null, limits: { max_concurrent_users: 50 }, privateOnly: false, suspended: false,
}
const globex: NewTenant = {
  externalId: 'globex', name: null, databaseUrl: 'postgres://app:pw@db:5432/globex', jwtSecret: null,
  jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', kid: 'k1' }] },
  limits: {}, privateOnly: true, suspended: false,
}
// acme: database_url, jwt_secret, previous_jwt_secret; globex: database_url, jwt_jwks.
const SEALED_VALUES = 5

let control: TestDatabase
let sql: postgres.Sql
const opened: PostgresTenantStore[] = []

async function open(secretsKey: Buffer | null, previousSecretsKey: Buffer | null = null, logger: Logger = silentLogger): Promise<PostgresTenantStore> {
  const store = await PostgresTenantStore.open(control.url, { secretsKey, previousSecretsKey, logger })
  opened.push(store)
  return store
}

/** Two tenants stored under OLD_KEY (acme after a JWT secret rotation), as a running server left them. */
async function seed(): Promise<TenantConfig[]> {
  const store = await open(OLD_KEY)
  await store.create(acme)
  await store.create(globex)
  await store.update('acme', (current) => ({ ...current, jwtSecret: 'acme-secret-2-0123456789abcdef', previousJwtSecret: current.jwtSecret, previousJwtSecretValidUntil: Date.now() + 3_600_000 }))
  const tenants = await store.list()
  await store.close()
  return tenants
}

async function rawRows(): Promise<Record<string, unknown>[]> {
  return sql`select t.*, s.value as key_check from switchboard.tenants t, switchboard.settings s where s.name = 'secrets_key_check' order by external_id`
}

function logLines(): { logger: Logger; lines: () => string[] } {
  const sink = new PassThrough()
  const chunks: string[] = []
  sink.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')))
  return { logger: createLogger({ level: 'info', destination: sink }), lines: () => chunks.join('').split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { msg: string }).msg) }
}

beforeEach(async () => {
  control = await createTestDatabase('rekey')
  sql = postgres(control.url, { max: 2, onnotice: () => {} })
})
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close().catch(() => {})
  await sql.end()
  await control.drop()
})

describe('rotating the secrets key at start', () => {
  test('re-encrypts every value under the new key, in one go, and says how many', async () => {
    const before = await seed()
    const rawBefore = await rawRows()
    const { logger, lines } = logLines()
    const rotated = await open(NEW_KEY, OLD_KEY, logger)
    expect(rotated.rekey).toEqual({ reencrypted: SEALED_VALUES, tenants: 2, checkRotated: true })
    expect(lines()).toContainEqual(expect.stringMatching(/secrets key rotated: re-encrypted 5 value\(s\) of 2 tenant\(s\) under the current key; drop --previous-secrets-key/))
    expect(await rotated.list()).toEqual(before)
    const rawAfter = await rawRows()
    for (const [index, row] of rawAfter.entries()) {
      for (const column of ['database_url', 'jwt_secret', 'jwt_jwks', 'previous_jwt_secret', 'key_check']) {
        if (row[column] === null) continue
        expect(row[column]).not.toBe(rawBefore[index]![column]) // re-sealed
        expect(String(row[column])).not.toContain('hunter2')
      }
      expect(row.updated_at).toEqual(rawBefore[index]!.updated_at) // the tenant itself did not change
    }
    await rotated.close()

    // Afterwards the new key alone opens everything, and the old one alone is refused.
    const fresh = await open(NEW_KEY)
    expect(await fresh.list()).toEqual(before)
    await expect(open(OLD_KEY)).rejects.toThrow(/does not match the one the stored tenants were encrypted with/)
  })

  test('a second start with both keys finds nothing to do and says the previous key can go', async () => {
    await seed()
    await open(NEW_KEY, OLD_KEY)
    const { logger, lines } = logLines()
    const again = await open(NEW_KEY, OLD_KEY, logger)
    expect(again.rekey).toEqual({ reencrypted: 0, tenants: 0, checkRotated: false })
    expect(lines()).toContainEqual(expect.stringMatching(/already under the current key; --previous-secrets-key \(PREVIOUS_SECRETS_KEY\) can be dropped/))
  })

  test('the new key alone, before any rotation, is refused and told about --previous-secrets-key', async () => {
    await seed()
    const rawBefore = await rawRows()
    const refusal = open(NEW_KEY)
    await expect(refusal).rejects.toBeInstanceOf(SecretsKeyError)
    await expect(refusal).rejects.toThrow(/does not match .* pass the old key as --previous-secrets-key \(PREVIOUS_SECRETS_KEY\) once/)
    expect(await rawRows()).toEqual(rawBefore)
  })

  test('a wrong previous key is refused and nothing changes', async () => {
    const before = await seed()
    const rawBefore = await rawRows()
    const refusal = open(NEW_KEY, randomBytes(32))
    await expect(refusal).rejects.toBeInstanceOf(SecretsKeyError)
    await expect(refusal).rejects.toThrow(/neither --secrets-key nor --previous-secrets-key is the key the stored tenants were encrypted with: pass that key as --previous-secrets-key/)
    expect(await rawRows()).toEqual(rawBefore)
    expect(await (await open(OLD_KEY)).list()).toEqual(before)
  })

  test('a value that opens with neither key stops the whole rotation, names it, and changes nothing', async () => {
    await seed()
    // acme's JWT secret copied into globex's row: sealed for acme, it must not open as globex's.
    await sql`update switchboard.tenants set jwt_secret = (select jwt_secret from switchboard.tenants where external_id = 'acme') where external_id = 'globex'`
    const rawBefore = await rawRows()
    const refusal = open(NEW_KEY, OLD_KEY)
    await expect(refusal).rejects.toBeInstanceOf(SecretsKeyError)
    await expect(refusal).rejects.toThrow(/1 stored value\(s\) open with neither --secrets-key nor --previous-secrets-key \(globex\/jwt_secret\).*Nothing was re-encrypted/)
    expect(await rawRows()).toEqual(rawBefore) // the check value and acme's row too: one transaction

    // Repaired, the next start with both keys rotates (the retry).
    await sql`update switchboard.tenants set jwt_secret = null where external_id = 'globex'`
    expect((await open(NEW_KEY, OLD_KEY)).rekey).toEqual({ reencrypted: SEALED_VALUES, tenants: 2, checkRotated: true })
  })

  test('a rotated value still opens only for its own tenant and field', async () => {
    await seed()
    const store = await open(NEW_KEY, OLD_KEY)
    await sql`update switchboard.tenants set jwt_secret = (select jwt_secret from switchboard.tenants where external_id = 'acme') where external_id = 'globex'`
    await expect(store.get('globex')).rejects.toThrow(/globex\/jwt_secret: cannot decrypt/)
    await sql`update switchboard.tenants set database_url = jwt_secret where external_id = 'acme'`
    await expect(store.get('acme')).rejects.toThrow(/acme\/database_url: cannot decrypt/)
  })

  test('stores opening at once rotate once: the second finds the values rotated and proceeds', async () => {
    const before = await seed()
    const stores = await Promise.all([open(NEW_KEY, OLD_KEY), open(NEW_KEY, OLD_KEY), open(NEW_KEY, OLD_KEY)])
    expect(stores.map((store) => store.rekey.reencrypted).sort()).toEqual([0, 0, SEALED_VALUES])
    expect(stores.filter((store) => store.rekey.checkRotated)).toHaveLength(1)
    for (const store of stores) expect(await store.list()).toEqual(before)
    expect(await (await open(NEW_KEY)).list()).toEqual(before)
  })

  test('during a rolling restart: what a node still on the old key writes is read, and rotated by the next start', async () => {
    await seed()
    const oldNode = await open(OLD_KEY)
    const newNode = await open(NEW_KEY, OLD_KEY)
    const initech = await oldNode.create({ ...acme, externalId: 'initech', name: 'Initech' })
    expect(await newNode.get('initech')).toEqual(initech)
    const next = await open(NEW_KEY, OLD_KEY)
    expect(next.rekey).toEqual({ reencrypted: 2, tenants: 1, checkRotated: false })
    expect(await (await open(NEW_KEY)).get('initech')).toEqual(initech)
  })

  test('refuses a previous key without a current one, or equal to it', async () => {
    await expect(open(null, OLD_KEY)).rejects.toThrow(/--previous-secrets-key needs --secrets-key/)
    await expect(open(OLD_KEY, Buffer.from(OLD_KEY))).rejects.toThrow(/--previous-secrets-key is the same as --secrets-key/)
  })
})

describe('the server', () => {
  test('started with both keys serves the tenants, then starts with the new key alone', { timeout: 60_000 }, async () => {
    const tenantDb = await createTestDatabase('rekey_tenant')
    try {
      await seed()
      const start = (keys: { secretsKey: string; previousSecretsKey?: string }) =>
        startSwitchboard({ port: 0, databaseUrl: tenantDb.url, postgresChanges: false, adminKey: ADMIN_KEY, controlDatabaseUrl: control.url, ...keys })
      const show = async (url: string) => (await fetch(`${url}/api/tenants/acme`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()

      await expect(start({ secretsKey: NEW_KEY.toString('base64') })).rejects.toThrow(/--previous-secrets-key/)
      const rotating = await start({ secretsKey: NEW_KEY.toString('base64'), previousSecretsKey: OLD_KEY.toString('hex') })
      expect(await show(rotating.url)).toMatchObject({ external_id: 'acme', jwt_secret_set: true })
      await rotating.close()
      const rotated = await start({ secretsKey: NEW_KEY.toString('base64') })
      expect(await show(rotated.url)).toMatchObject({ external_id: 'acme', jwt_secret_set: true })
      await rotated.close()
    } finally {
      await tenantDb.drop()
    }
  })
})
