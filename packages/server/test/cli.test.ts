/**
 * The `switchboard` CLI as a user runs it: the built binary in a child process.
 * (`npm test` builds first; run `npm run build` before running this file alone.)
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { silentLogger } from '../src/logger.js'
import { startSwitchboard, type RunningSwitchboard } from '../src/server.js'
import { PostgresTenantStore } from '../src/tenant/postgres-tenant-store.js'
import { createTestDatabase, type TestDatabase } from '../../../test-support/database.js'
import { freePort } from '../../../test-support/free-port.js'

const CLI = fileURLToPath(new URL('../bin/switchboard.js', import.meta.url))

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env, LOG_LEVEL: 'silent' } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

describe('switchboard CLI', () => {
  test('--help explains every option', async () => {
    const { code, stdout } = await run(['--help'])
    expect(code).toBe(0)
    for (const option of ['--port', '--host', '--database-url', '--jwt-secret', '--data-dir', '--log-level', '--admin-key', '--multi-tenant', '--control-database-url', '--secrets-key', '--previous-secrets-key', '--tenant-idle-seconds', '--redis-url', '--node-id', '--workers', '--no-postgres-changes']) expect(stdout).toContain(option)
    expect(stdout).toContain('switchboard tenants')
  })

  test('npm links the `switchboard` bin at the repository root (what `npx switchboard` runs)', async () => {
    const bin = fileURLToPath(new URL('../../../node_modules/.bin/switchboard', import.meta.url))
    const result = await new Promise<Run>((resolve) => {
      const child = spawn(bin, ['--help'])
      let stdout = ''
      child.stdout.on('data', (chunk) => (stdout += chunk))
      child.on('close', (code) => resolve({ code, stdout, stderr: '' }))
    })
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('switchboard start [options]')
  })

  test('a bad flag gives one clear line and exit code 2', async () => {
    const result = await run(['start', '--port', 'abc'])
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain("--port must be a number from 0 to 65535, got 'abc'")
    const shortKey = await run(['start', '--admin-key', 'short'])
    expect(shortKey.code).toBe(2)
    expect(shortKey.stderr).toContain('--admin-key must be at least 16 characters')
    const badSecretsKey = await run(['start', '--secrets-key', 'not-a-key'])
    expect(badSecretsKey.code).toBe(2)
    expect(badSecretsKey.stderr).toContain('openssl rand -base64 32')
    const key = randomBytes(32).toString('base64')
    const previousAlone = await run(['start', '--previous-secrets-key', key])
    expect(previousAlone.code).toBe(2)
    expect(previousAlone.stderr).toContain('--previous-secrets-key needs --secrets-key (SECRETS_KEY)')
    const sameKeys = await run(['start', '--secrets-key', key], { PREVIOUS_SECRETS_KEY: Buffer.from(key, 'base64').toString('hex') })
    expect(sameKeys.code).toBe(2)
    expect(sameKeys.stderr).toContain('--previous-secrets-key is the same as --secrets-key')
    const badPrevious = await run(['start', '--secrets-key', key, '--previous-secrets-key', 'short'])
    expect(badPrevious.code).toBe(2)
    expect(badPrevious.stderr).toContain('--previous-secrets-key: the secrets key must be 32 bytes')
    const unknown = await run(['start', '--frobnicate'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/^switchboard: .*frobnicate/)
  })

  test('an unreachable database gives one clear line and exit code 1', async () => {
    const port = await freePort()
    const result = await run(['start', '--port', '0', '--database-url', `postgres://user:hunter2@127.0.0.1:${port}/nope`])
    expect(result.code).toBe(1)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain(`cannot connect to database at 127.0.0.1:${port}/nope`)
    expect(result.stderr).not.toContain('hunter2')
  })

  describe('start with a database URL', () => {
    let database: TestDatabase
    beforeAll(async () => {
      database = await createTestDatabase('cli')
    })
    afterAll(async () => {
      await database?.drop()
    })

    test('prints the URL and keys, serves /health, and stops on SIGTERM', async () => {
      const child = spawn(process.execPath, [CLI, 'start', '--port', '0'], {
        env: { ...process.env, DATABASE_URL: database.url, LOG_LEVEL: 'silent', JWT_SECRET: 'cli-test-secret-0123456789' },
      })
      let stdout = ''
      child.stdout.on('data', (chunk) => (stdout += chunk))
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
      const deadline = Date.now() + 20_000
      while (!/listening on (http:\/\/\S+)/.test(stdout)) {
        if (Date.now() > deadline) throw new Error(`no listening line: ${stdout}`)
        await new Promise((r) => setTimeout(r, 50))
      }
      const url = /listening on (http:\/\/\S+)/.exec(stdout)![1]!
      expect(stdout).toMatch(/anon key\s+eyJ/)
      expect(stdout).toMatch(/service_role\s+eyJ/)
      const health = await fetch(`${url}/health`)
      expect(health.status).toBe(200)
      expect(await health.json()).toMatchObject({ status: 'ok', database: 'ok' })
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
    })

    test('with an admin key: the control database in the banner and /health, the admin API open', { timeout: 60_000 }, async () => {
      const control = await createTestDatabase('cli_control')
      const child = spawn(process.execPath, [CLI, 'start', '--port', '0', '--tenant-idle-seconds', '30'], {
        env: {
          ...process.env, DATABASE_URL: database.url, LOG_LEVEL: 'silent', JWT_SECRET: 'cli-test-secret-0123456789',
          ADMIN_KEY: 'cli-admin-key-0123456789', CONTROL_DATABASE_URL: control.url, SECRETS_KEY: randomBytes(32).toString('hex'),
        },
      })
      try {
        let stdout = ''
        child.stdout.on('data', (chunk) => (stdout += chunk))
        const deadline = Date.now() + 30_000
        while (!/listening on (http:\/\/\S+)[\s\S]*Tenants/.test(stdout)) {
          if (Date.now() > deadline) throw new Error(`no banner: ${stdout}`)
          await new Promise((r) => setTimeout(r, 50))
        }
        const url = /listening on (http:\/\/\S+)/.exec(stdout)![1]!
        expect(stdout).toMatch(/Tenants\s+postgres:\/\/\S+ \(control database\); admin API at \/api\/tenants/)
        expect(stdout).not.toContain(new URL(control.url).password + '@')
        expect(await (await fetch(`${url}/health`)).json()).toMatchObject({ status: 'ok', database: 'ok', control: 'ok', tenants: 1 }) // default runs
        const listed = await fetch(`${url}/api/tenants`, { headers: { authorization: 'Bearer cli-admin-key-0123456789' } })
        expect(listed.status).toBe(200)
        expect(await listed.json()).toEqual([])
      } finally {
        const exited = new Promise((resolve) => child.on('close', resolve))
        child.kill('SIGTERM')
        expect(await exited).toBe(0)
        await control.drop()
      }
    })

    test('rotating the secrets key: a wrong previous key gives one clear line and exit 1, the right one logs the rotation', { timeout: 60_000 }, async () => {
      const control = await createTestDatabase('cli_rekey')
      const oldKey = randomBytes(32).toString('base64')
      const newKey = randomBytes(32).toString('base64')
      const store = await PostgresTenantStore.open(control.url, { secretsKey: Buffer.from(oldKey, 'base64'), logger: silentLogger })
      await store.create({ externalId: 'acme', name: null, databaseUrl: database.url, jwtSecret: 'acme-secret-0123456789', jwks: null, limits: {}, privateOnly: false, suspended: false })
      await store.close()
      const env = { DATABASE_URL: database.url, CONTROL_DATABASE_URL: control.url, SECRETS_KEY: newKey }
      let child: ChildProcess | null = null
      try {
        const wrong = await run(['start', '--port', '0', '--previous-secrets-key', randomBytes(32).toString('hex')], env)
        expect(wrong.code).toBe(1)
        expect(wrong.stderr.trim().split('\n')).toHaveLength(1)
        expect(wrong.stderr).toMatch(/^switchboard: neither --secrets-key nor --previous-secrets-key is the key the stored tenants were encrypted with/)

        child = spawn(process.execPath, [CLI, 'start', '--port', '0'], { env: { ...process.env, ...env, PREVIOUS_SECRETS_KEY: oldKey, LOG_LEVEL: 'info' } })
        let stdout = ''
        child.stdout!.on('data', (chunk) => (stdout += chunk))
        const deadline = Date.now() + 30_000
        while (!/listening on http/.test(stdout)) {
          if (Date.now() > deadline) throw new Error(`no banner: ${stdout}`)
          await new Promise((r) => setTimeout(r, 50))
        }
        expect(stdout).toContain('secrets key rotated: re-encrypted 2 value(s) of 1 tenant(s) under the current key')
      } finally {
        if (child) {
          const exited = new Promise((resolve) => child!.on('close', resolve))
          child.kill('SIGTERM')
          await exited
        }
        await control.drop()
      }
    })
  })
})

describe('switchboard tenants', () => {
  const ADMIN_KEY = 'cli-admin-key-0123456789abcdef'
  let control: TestDatabase
  let tenantDb: TestDatabase
  let server: RunningSwitchboard
  beforeAll(async () => {
    control = await createTestDatabase('control')
    tenantDb = await createTestDatabase('cli_tenant')
    server = await startSwitchboard({ port: 0, databaseUrl: tenantDb.url, postgresChanges: false, adminKey: ADMIN_KEY, controlDatabaseUrl: control.url, secretsKey: randomBytes(32).toString('base64') })
  })
  afterAll(async () => {
    await server?.close()
    await tenantDb?.drop()
    await control?.drop()
  })
  const tenants = (...args: string[]) => run(['tenants', ...args, '--url', server.url], { ADMIN_KEY })

  test('add, list, show, update, rotate-secret and remove a tenant', { timeout: 90_000 }, async () => {
    const added = await tenants('add', 'acme', '--database-url', tenantDb.url, '--jwt-secret', 'acme-secret-0123456789', '--name', 'Acme', '--limit', 'max_concurrent_users=3', '--limit', 'max_events_per_second=50')
    expect(added.code, added.stderr).toBe(0)
    expect(JSON.parse(added.stdout)).toMatchObject({ external_id: 'acme', name: 'Acme', limits: { max_concurrent_users: 3, max_events_per_second: 50 }, jwt_secret_set: true })

    const listed = await tenants('list')
    expect(listed.code).toBe(0)
    expect(listed.stdout.split('\n')[0]).toMatch(/^ID\s+STATE\s+DATABASE\s+NAME$/)
    expect(listed.stdout).toMatch(/acme\s+active\s+postgres:\/\/\S+\s+Acme/)
    expect(listed.stdout).not.toContain(new URL(tenantDb.url).password + '@')

    const updated = await tenants('update', 'acme', '--suspend', '--limit', 'max_events_per_second=default', '--private-only', 'true')
    expect(updated.code, updated.stderr).toBe(0)
    expect(JSON.parse(updated.stdout)).toMatchObject({ suspended: true, private_only: true, limits: { max_concurrent_users: 3 } })
    expect(JSON.parse(updated.stdout).limits).not.toHaveProperty('max_events_per_second')

    const rotated = await tenants('rotate-secret', 'acme', '--jwt-secret', 'acme-new-secret-0123456789', '--old-valid-for', '60')
    expect(rotated.code, rotated.stderr).toBe(0)
    const until = Date.parse(JSON.parse(rotated.stdout).old_secret_valid_until)
    expect(until - Date.now()).toBeGreaterThan(50_000)

    expect(JSON.parse((await tenants('show', 'acme')).stdout)).toMatchObject({ external_id: 'acme', suspended: true })
    const removed = await tenants('remove', 'acme')
    expect(removed).toMatchObject({ code: 0, stdout: 'removed acme\n' })
    const gone = await tenants('show', 'acme')
    expect(gone.code).toBe(1)
    expect(gone.stderr).toBe('switchboard: 404 no tenant "acme"\n')
  })

  test('refusals are one line: bad input (1), a wrong admin key (1), bad usage (2)', { timeout: 60_000 }, async () => {
    const bad = await tenants('add', 'Bad_Id', '--database-url', 'mysql://x', '--jwt-secret', 'short')
    expect(bad.code).toBe(1)
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
    expect(bad.stderr).toMatch(/^switchboard: 400 invalid tenant: external_id: must be a DNS label.*; database_url: .*; jwt_secret: must be a string of at least 16 characters/)

    const wrongKey = await run(['tenants', 'list', '--url', server.url, '--admin-key', 'not-the-admin-key-0000'])
    expect(wrongKey.code).toBe(1)
    expect(wrongKey.stderr).toMatch(/^switchboard: 401 Unauthorized/)

    const noKey = await run(['tenants', 'list', '--url', server.url], { ADMIN_KEY: '' })
    expect(noKey.code).toBe(2)
    expect(noKey.stderr).toContain('--admin-key (or ADMIN_KEY) is required')
    const unknown = await tenants('frobnicate')
    expect(unknown.code).toBe(2)
    const help = await run(['tenants', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('switchboard tenants rotate-secret <id> --jwt-secret NEW')
  })
})
