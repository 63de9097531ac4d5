/**
 * The `switchboard` CLI as a user runs it: the built binary in a child process.
 * (`npm test` builds first; run `npm run build` before running this file alone.)
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../test-support/database.js'
import { freePort } from '../../../test-support/free-port.js'

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

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
    for (const option of ['--port', '--host', '--database-url', '--jwt-secret', '--data-dir', '--log-level']) expect(stdout).toContain(option)
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
  })
})
