/**
 * The server process killed outright (SIGKILL: no drain, no close frames) and started again:
 * the SDK reconnects by itself and resumes by stream point; the topic had an ephemeral broadcast,
 * so the resume is a gap limited to broadcasts, and everything sent after its rejoin arrives once.
 * The server runs as the real CLI in a child process (built dist: `npm test` builds first).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, it } from 'vitest'
import WebSocket from 'ws'
import { ChannelManager, type GapEvent } from '../src/index.js'
import { signToken } from '../../server/src/auth/dev-keys.js'
import { createTestDatabase, type TestDatabase } from '../../../test-support/database.js'
import { freePort } from '../../../test-support/free-port.js'
import { waitFor } from './helpers.js'

const CLI = fileURLToPath(new URL('../../server/bin/switchboard.js', import.meta.url))
const SECRET = 'switchboard-kill-test-secret-at-least-32-chars'

let db: TestDatabase
let port: number
let child: ChildProcess | undefined
const managers: ChannelManager[] = []

function startServer(): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, 'start', '--port', String(port), '--database-url', db.url, '--jwt-secret', SECRET, '--log-level', 'silent'])
    let out = ''
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 20_000)
    proc.stdout!.on('data', (chunk) => {
      out += chunk
      if (out.includes('listening on')) {
        clearTimeout(timer)
        resolve(proc)
      }
    })
    proc.on('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)))
  })
}

beforeAll(async () => {
  db = await createTestDatabase('kill')
  port = await freePort()
  child = await startServer()
})
afterAll(async () => {
  await Promise.all(managers.map((m) => m.destroy()))
  child?.kill('SIGKILL')
  await db?.drop()
})

it('SIGKILL mid-stream: the client reconnects to the new process, signals a gap, and misses nothing sent after', async () => {
  const apiKey = await signToken(SECRET, { role: 'anon' })
  const manager = (config = {}) => {
    const m = new ChannelManager({ url: `http://127.0.0.1:${port}`, apiKey, transport: WebSocket, reconnect: { baseDelayMs: 100, maxDelayMs: 500, maxAttempts: 50 }, connectTimeoutMs: 2000, ...config })
    managers.push(m)
    return m
  }
  const receiver = manager()
  const sender = manager()
  const gaps: GapEvent[] = []
  const got: number[] = []
  const lease = await receiver.subscribeToEntity({ entityType: 'room', entityId: 'k', changes: false, onGap: (event) => gaps.push(event) })
  lease.on<{ n: number }>('broadcast', { event: 'tick' }, ({ payload }) => got.push(payload.n))
  await sender.broadcast({ entityType: 'room', entityId: 'k', event: 'tick', payload: { n: 1 } })
  await waitFor(() => got.length === 1, 5000, 'first tick')

  const exited = new Promise((resolve) => child!.once('exit', resolve))
  child!.kill('SIGKILL')
  await exited
  child = await startServer()

  await waitFor(() => gaps.length === 1 && lease.status === 'connected', 15_000, 'gap after the restart')
  // The new process replays every change and stored broadcast; the topic had an ephemeral
  // broadcast before the kill, so the resume says broadcasts may have been lost (a scoped gap).
  expect(gaps[0]).toMatchObject({ resume: { code: 'Resumed' }, lost: ['broadcast'] })
  for (let n = 2; n <= 20; n++) await sender.broadcast({ entityType: 'room', entityId: 'k', event: 'tick', payload: { n } })
  await waitFor(() => got.length === 20, 10_000, 'ticks after the restart')
  expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
})
