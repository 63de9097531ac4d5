/**
 * A redis-server of the benchmark's own (Debian's /usr/bin/redis-server, or REDIS_SERVER):
 * a free loopback port, persistence off (`--save "" --appendonly no`), optionally pinned to a
 * core. Never port 6379: a Redis that may already run there belongs to someone else.
 *
 * `cpuUs()` is the server's CPU time so far (from /proc); `commandStats()` reads INFO
 * commandstats (calls per command, commands run inside scripts included), which the cluster
 * benches difference over a window to get Redis commands per broadcast.
 */
import { spawn } from 'node:child_process'
import { createConnection } from 'node:net'
import { canPin } from './child.js'
import { processCpuUs } from './cpu.js'

export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server'

/** Starts Redis; `core` is a taskset core list (ignored where pinning is not possible). */
export async function startRedis({ core = null } = {}) {
  const { freePort } = await import('../../packages/server/dist/db/free-port.js')
  const port = await freePort()
  if (port === 6379) throw new Error('refusing port 6379')
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no']
  const pinned = canPin && core !== null
  const child = spawn(pinned ? 'taskset' : REDIS_SERVER, pinned ? ['-c', core, REDIS_SERVER, ...args] : args, { stdio: 'ignore' })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const deadline = Date.now() + 10_000
  while (!(await command(port, ['PING']).then((r) => r === 'PONG', () => false))) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} (is ${REDIS_SERVER} installed?)`)
    if (Date.now() > deadline) throw new Error('redis-server did not start within 10 s')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    cpuUs: () => processCpuUs(child.pid),
    command: (args) => command(port, args),
    /** INFO commandstats as `{ command: calls }` (e.g. `{ evalsha: 12, xadd: 12, … }`). */
    async commandStats() {
      const text = await command(port, ['INFO', 'commandstats'])
      const calls = {}
      for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1]] = Number(match[2])
      return calls
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGKILL')
      await exited
    },
  }
}

/** Calls per command between two commandStats() readings, and their total. */
export function commandDelta(before, after) {
  const delta = {}
  let total = 0
  for (const [name, calls] of Object.entries(after)) {
    const d = calls - (before[name] ?? 0)
    if (d > 0) {
      delta[name] = d
      total += d
    }
  }
  return { total, byCommand: delta }
}

/** One command over a fresh connection (RESP), answered as a string (bulk, simple or integer). */
function command(port, args) {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' })
    let buf = Buffer.alloc(0)
    socket.setTimeout(2_000, () => (socket.destroy(), reject(new Error('redis command timed out'))))
    socket.once('error', reject)
    socket.once('connect', () => socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`))
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk])
      const line = buf.indexOf('\r\n')
      if (line < 0) return
      const type = String.fromCharCode(buf[0])
      if (type === '$') {
        const length = Number(buf.toString('latin1', 1, line))
        if (length < 0) return done(null)
        if (buf.length < line + 2 + length + 2) return
        return done(buf.toString('utf8', line + 2, line + 2 + length))
      }
      if (type === '-') return done(null, new Error(buf.toString('utf8', 1, line)))
      return done(buf.toString('utf8', 1, line))
    })
    function done(value, error) {
      socket.destroy()
      if (error) reject(error)
      else resolve(value)
    }
  })
}
