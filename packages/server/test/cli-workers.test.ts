/**
 * `switchboard start --workers N`: the built CLI in a child process, the way an operator runs
 * it (run `npm run build` before running this file alone). Only process management is tested
 * here: N workers on one port, restart of a dead worker, signals, the embedded Postgres started
 * once; whether the workers share channels is the Redis hub's business (its own tests).
 *
 * `--no-postgres-changes`: every node still waits to hold the database's replication slot at
 * start, so a second node on the same database would never listen (until a node is elected
 * to hold the slot).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { get } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../test-support/database.js'
import { freePort } from '../../../test-support/free-port.js'
import { RedisProcess } from './support/redis-process.js'

const CLI = fileURLToPath(new URL('../bin/switchboard.js', import.meta.url))
const READY = /workers ready on (http:\/\/\S+)/

interface Health {
  status: string
  node: string
  pid: number
  database: string
}

/** GET /health on a new TCP connection each time, so the primary hands it to the next worker. */
function health(url: string): Promise<Health> {
  return new Promise((resolve, reject) => {
    const request = get(`${url}/health`, { agent: false, headers: { connection: 'close' } }, (response) => {
      let body = ''
      response.on('data', (chunk) => (body += chunk))
      response.on('end', () => resolve(JSON.parse(body) as Health))
    })
    request.on('error', reject)
    request.setTimeout(5_000, () => request.destroy(new Error(`GET ${url}/health: no answer within 5 s`)))
  })
}

async function pidsAnswering(url: string, requests: number): Promise<Map<number, string>> {
  const seen = new Map<number, string>()
  for (let i = 0; i < requests; i++) {
    const answer = await health(url)
    expect(answer).toMatchObject({ status: 'ok', database: 'ok' })
    seen.set(answer.pid, answer.node)
  }
  return seen
}

/** The postmasters (`postgres -D <dir>`) running on `dir`, with their parent pid (Linux /proc). */
function postmastersOf(dir: string): { ppid: number }[] {
  const found: { ppid: number }[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
      if (!/(^|\/)postgres$/.test(argv[0] ?? '') || argv[argv.indexOf('-D') + 1] !== dir) continue
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      found.push({ ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) })
    } catch {
      // gone meanwhile
    }
  }
  return found
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Every primary a test started: whatever a failed test leaves running is killed after the file. */
const spawned = new Set<Primary>()

class Primary {
  output = ''
  readonly exited: Promise<number | null>
  constructor(readonly child: ChildProcessWithoutNullStreams) {
    const collect = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-8_000))
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    this.exited = new Promise((resolve) => child.on('close', (code) => resolve(code)))
    spawned.add(this)
  }

  static spawn(args: string[], env: Record<string, string> = {}): Primary {
    // The cluster variables of the environment running the tests must not leak into the CLI's.
    const { REDIS_URL: _r, NODE_ID: _n, WORKERS: _w, DATABASE_URL: _d, ...inherited } = process.env
    return new Primary(spawn(process.execPath, [CLI, 'start', ...args], { env: { ...inherited, LOG_LEVEL: 'warn', ...env } }))
  }

  /** Waits for the primary's ready line and worker 1's banner (two processes: either comes first). */
  async ready(timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    while (!READY.test(this.output) || !this.output.includes('createClient(')) {
      if (this.child.exitCode !== null) throw new Error(`primary exited with ${this.child.exitCode}: ${this.output}`)
      if (Date.now() > deadline) throw new Error(`no ready line: ${this.output}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    return READY.exec(this.output)![1]!
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM')
    return this.exited
  }
}

describe('switchboard start --workers', () => {
  let redis: RedisProcess
  let database: TestDatabase
  beforeAll(async () => {
    redis = await RedisProcess.start()
    database = await createTestDatabase('cli_workers')
  })
  afterAll(async () => {
    // SIGKILL: its workers see the IPC channel close and exit on their own (node:cluster).
    for (const primary of spawned) if (primary.child.exitCode === null) primary.child.kill('SIGKILL')
    await Promise.all([...spawned].map((primary) => primary.exited))
    await redis?.stop()
    await database?.drop()
  })

  test('more than one worker without Redis is refused in one line', async () => {
    const primary = Primary.spawn(['--workers', '2', '--port', '0'], { DATABASE_URL: database.url })
    expect(await primary.exited).toBe(2)
    expect(primary.output.trim().split('\n')).toEqual(['switchboard: --workers 2 needs --redis-url (REDIS_URL): without Redis the workers would not share channels'])
    const bad = Primary.spawn(['--workers', '0'])
    expect(await bad.exited).toBe(2)
    expect(bad.output).toContain("--workers must be a number from 1 to 64, got '0'")
  })

  test('a worker that cannot start (database unreachable) stops the pool with exit code 1', { timeout: 60_000 }, async () => {
    const port = await freePort()
    const primary = Primary.spawn(['--workers', '2', '--port', '0', '--redis-url', redis.url, '--database-url', `postgres://user:hunter2@127.0.0.1:${port}/nope`])
    expect(await primary.exited).toBe(1)
    expect(primary.output).toContain(`cannot connect to database at 127.0.0.1:${port}/nope`)
    expect(primary.output).toMatch(/switchboard: worker \d exited with code 1 before it listened/)
    expect(primary.output).not.toContain('hunter2')
  })

  test('two workers share one port, a dead one is restarted, SIGTERM stops them all', { timeout: 90_000 }, async () => {
    const port = await freePort()
    const primary = Primary.spawn(['--workers', '2', '--port', String(port), '--redis-url', redis.url, '--database-url', database.url, '--node-id', 'cli-test', '--no-postgres-changes'])
    try {
      const url = await primary.ready()
      expect(url).toBe(`http://127.0.0.1:${port}`)
      // One banner (worker 1's), naming its node and the pool.
      expect(primary.output.match(/listening on/g)).toHaveLength(1)
      expect(primary.output).toMatch(/Cluster\s+node cli-test-1, worker 1 of 2/)

      const seen = await pidsAnswering(url, 8)
      expect(seen.size).toBe(2)
      expect([...seen.values()].sort()).toEqual(['cli-test-1', 'cli-test-2'])
      expect(seen.has(primary.child.pid!)).toBe(false)

      // A worker killed outright comes back (same node name, new process) after a short backoff.
      const [victim] = [...seen.keys()]
      process.kill(victim!, 'SIGKILL')
      const deadline = Date.now() + 30_000
      let after = new Map<number, string>()
      while (Date.now() < deadline) {
        after = await pidsAnswering(url, 4).catch(() => new Map())
        if (after.size === 2 && !after.has(victim!)) break
        await new Promise((r) => setTimeout(r, 200))
      }
      expect(after.size).toBe(2)
      expect(after.has(victim!)).toBe(false)
      expect([...after.values()].sort()).toEqual(['cli-test-1', 'cli-test-2'])

      expect(await primary.stop()).toBe(0)
      for (const pid of after.keys()) expect(isAlive(pid)).toBe(false)
    } finally {
      await primary.stop()
    }
  })

  test('without --database-url the primary starts the embedded Postgres once, for every worker', { timeout: 120_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-workers-'))
    chmodSync(dataDir, 0o755) // as root, Postgres runs as the OS user "postgres"
    const primary = Primary.spawn(['--workers', '2', '--port', '0', '--redis-url', redis.url, '--data-dir', dataDir, '--no-postgres-changes'])
    try {
      const url = await primary.ready(100_000)
      expect(primary.output).toMatch(/Database\s+postgres:\/\/\S+ \(embedded\)/)
      const seen = await pidsAnswering(url, 6)
      expect(seen.size).toBe(2)
      // One Postgres serves the folder, and it is the primary's child, not a worker's.
      expect(postmastersOf(join(dataDir, 'postgres'))).toEqual([{ ppid: primary.child.pid }])
      expect(await primary.stop()).toBe(0)
      for (const pid of seen.keys()) expect(isAlive(pid)).toBe(false)
    } finally {
      await primary.stop()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
