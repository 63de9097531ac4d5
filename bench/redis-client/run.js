#!/usr/bin/env node
/**
 * Redis client benchmark: ioredis vs node-redis (`redis`) on what the cluster does with Redis.
 *
 *   run.js ──┬── redis-server (its own, free port, --save "" --appendonly no)   pinned to core 0
 *            ├── client.js <variant>  (the library under test, one process per run) pinned to core 1
 *            └── (c) a raw-socket SPUBLISH publisher in this process (same for every variant)
 *
 * Per variant (ioredis, ioredis with enableAutoPipelining, node-redis), in a fresh process and
 * after FLUSHALL:
 *   (a) sequential round trips of EVALSHA of the hub's script (INCR + XADD MAXLEN ~ 100000 with
 *       id <seq>-0 + SPUBLISH of a 150-byte payload): p50/p99 latency, client CPU per call;
 *   (b) the same script with `--in-flight` (1,000) calls outstanding: ops/s, client CPU per call;
 *   (c) sharded pub/sub receive: SSUBSCRIBE on a dedicated connection while this process
 *       publishes SPUBLISH as fast as the subscriber keeps up (at most 30,000 messages ahead of
 *       what it has counted, polled every 20 ms, so Redis's output buffer stays bounded):
 *       messages/s and the subscriber's CPU per message. Not for ioredis-auto (a subscriber
 *       connection sends nothing to pipeline).
 * Redis's own CPU per operation is read from /proc for each phase. Repetitions rotate the
 * order of the variants; the table gives medians.
 *
 * Usage: node bench/redis-client/run.js [--reps 3] [--n 10000] [--in-flight 1000]
 *        [--warmup 0.5] [--duration 3] [--only ioredis,node-redis]
 * Writes bench/results/redis-client-<date>.json. Not part of `npm run bench`.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { canPin, spawnNode } from '../lib/child.js'
import { helpFromHeader, option } from '../lib/cli.js'
import { median } from '../lib/stats.js'

await helpFromHeader(import.meta.url)

const here = dirname(fileURLToPath(import.meta.url))
const resultsDir = join(here, '..', 'results')
const require = (await import('node:module')).createRequire(import.meta.url)

const REPS = Number(option('reps', 3))
const N = Number(option('n', 10_000))
const IN_FLIGHT = Number(option('in-flight', 1_000))
const WARMUP_MS = Number(option('warmup', 0.5)) * 1000
const DURATION_MS = Number(option('duration', 3)) * 1000
const VARIANTS = (option('only') ?? 'ioredis,ioredis-auto,node-redis').split(',')
const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server'
const CHANNEL = '{bench}:topic'
const PAYLOAD = JSON.stringify({ event: 'tick', payload: { id: 'x'.repeat(95), n: 123456 } }).padEnd(150, ' ')
/** (c): messages the publisher may be ahead of the subscriber's count, and how often it asks. */
const RECEIVE_WINDOW = 30_000
const POLL_MS = 20
const PUBLISH_BATCH = 200
const PIPELINE_WINDOW = 4_000

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// ─── redis-server and a raw RESP connection ───────────────────────────────────────────────

async function freePort() {
  const { createServer } = await import('node:net')
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function startRedis() {
  const port = await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no']
  const child = canPin ? spawn('taskset', ['-c', '0', REDIS_SERVER, ...args], { stdio: 'ignore' }) : spawn(REDIS_SERVER, args, { stdio: 'ignore' })
  for (let i = 0; i < 200; i++) {
    try {
      const connection = await rawConnection(port)
      if ((await connection.command(['PING'])) === '+PONG') {
        connection.socket.destroy()
        return { port, url: `redis://127.0.0.1:${port}`, pid: child.pid, stop: () => child.kill('SIGKILL') }
      }
    } catch {
      // not up yet
    }
    await sleep(25)
  }
  throw new Error(`${REDIS_SERVER} did not start`)
}

const resp = (args) => Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`)

/** A socket that counts reply lines: enough for +OK/:n replies, which is all this sends. */
function rawConnection(port) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const connection = {
      socket,
      replies: 0,
      onData: null,
      /** One command, its first reply line. */
      command(args) {
        return new Promise((res) => {
          let text = ''
          connection.onData = (chunk) => {
            text += chunk.toString()
            if (text.includes('\r\n')) {
              connection.onData = null
              res(text.split('\r\n')[0])
            }
          }
          socket.write(resp(args))
        })
      },
    }
    socket.on('data', (chunk) => {
      for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) connection.replies++
      connection.onData?.(chunk)
    })
    socket.once('connect', () => resolve(connection))
    socket.once('error', reject)
  })
}

/** CPU time (µs) a process has used, from /proc/<pid>/stat (clock ticks of 10 ms). */
function processCpuUs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10_000 // utime + stime, at 100 Hz
  } catch {
    return NaN
  }
}

// ─── (c) the publisher ────────────────────────────────────────────────────────────────────

async function receiveRate(redis, client) {
  const publisher = await rawConnection(redis.port)
  const batch = Buffer.concat(Array.from({ length: PUBLISH_BATCH }, () => resp(['SPUBLISH', CHANNEL, PAYLOAD])))
  let sent = 0
  let received = 0
  let blocked = false
  let running = true
  const pump = () => {
    while (running && !blocked && sent - publisher.replies < PIPELINE_WINDOW && sent - received < RECEIVE_WINDOW) {
      blocked = !publisher.socket.write(batch)
      sent += PUBLISH_BATCH
    }
  }
  publisher.socket.on('data', pump)
  publisher.socket.on('drain', () => {
    blocked = false
    pump()
  })
  const poller = (async () => {
    while (running) {
      received = (await client.call('count')).received
      pump()
      await sleep(POLL_MS)
    }
  })()
  pump()
  await sleep(WARMUP_MS)
  const start = await client.call('count')
  const redisCpu0 = processCpuUs(redis.pid)
  await sleep(DURATION_MS)
  const end = await client.call('count')
  const redisCpu = processCpuUs(redis.pid) - redisCpu0
  running = false
  await poller
  publisher.socket.destroy()
  const messages = end.received - start.received
  return {
    messagesPerSec: messages / ((end.atNs - start.atNs) / 1e9),
    cpuUsPerMessage: (end.cpuUs - start.cpuUs) / messages,
    redisCpuUsPerMessage: redisCpu / messages,
  }
}

// ─── one run of one variant ───────────────────────────────────────────────────────────────

async function runVariant(redis, variant) {
  const admin = await rawConnection(redis.port)
  await admin.command(['FLUSHALL'])
  admin.socket.destroy()
  const client = spawnNode(join(here, 'client.js'), { args: [variant, redis.url], core: '1', slowWarningMs: 30_000 })
  await client.ready
  try {
    let redisCpu0 = processCpuUs(redis.pid)
    const a = await client.call('roundTrips', { n: N, warmup: Math.min(1_000, N) })
    a.redisCpuUsPerOp = (processCpuUs(redis.pid) - redisCpu0) / (N + Math.min(1_000, N))
    redisCpu0 = processCpuUs(redis.pid)
    const b = await client.call('concurrent', { inFlight: IN_FLIGHT, warmupMs: WARMUP_MS, durationMs: DURATION_MS })
    b.redisCpuUsPerOp = (processCpuUs(redis.pid) - redisCpu0) / b.totalOps
    let c = null
    if (variant !== 'ioredis-auto') {
      await client.call('subscribe', { channel: CHANNEL })
      c = await receiveRate(redis, client)
    }
    return { a, b, c }
  } finally {
    await client.stop('close')
  }
}

// ─── main ─────────────────────────────────────────────────────────────────────────────────

const missing = (value) => value === null || value === undefined || Number.isNaN(value)
const fmt = (value, digits = 0) => (missing(value) ? '—' : value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }))
const us = (value, digits = 0) => (missing(value) ? '—' : `${fmt(value, digits)} µs`)

const redis = await startRedis()
const startedAt = new Date()
const versions = { ioredis: require('ioredis/package.json').version, 'node-redis': require('redis/package.json').version }
const serverVersion = /v=(\S+)/.exec(spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? '?'
console.log(`Redis client benchmark: ${VARIANTS.join(', ')}; ${REPS} repetitions; redis-server pid ${redis.pid} on port ${redis.port}${canPin ? ' (core 0; clients on core 1)' : ' (not pinned)'}`)
console.log(`redis-server ${serverVersion}, ioredis ${versions.ioredis}, redis (node-redis) ${versions['node-redis']}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}`)

const loadBefore = loadavg()
console.log(`load average before: ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`)
const runs = []
try {
  for (let rep = 0; rep < REPS; rep++) {
    const order = VARIANTS.map((_, i) => VARIANTS[(i + rep) % VARIANTS.length])
    for (const variant of order) {
      const result = await runVariant(redis, variant)
      runs.push({ rep: rep + 1, variant, ...result })
      const { a, b, c } = result
      console.log(
        `  rep ${rep + 1} ${variant.padEnd(12)} (a) p50 ${fmt(a.p50Us)} µs p99 ${fmt(a.p99Us)} µs` +
          `  (b) ${fmt(b.opsPerSec)} ops/s ${fmt(b.cpuUsPerOp, 1)} µs CPU/op` +
          (c ? `  (c) ${fmt(c.messagesPerSec)} msg/s ${fmt(c.cpuUsPerMessage, 2)} µs CPU/msg` : ''),
      )
    }
  }
} finally {
  redis.stop()
}

const med = (variant, pick) => median(runs.filter((r) => r.variant === variant).map(pick).filter((v) => v !== null && v !== undefined))
const rows = VARIANTS.map((variant) => ({
  variant,
  p50Us: med(variant, (r) => r.a.p50Us),
  p99Us: med(variant, (r) => r.a.p99Us),
  roundTripCpuUs: med(variant, (r) => r.a.cpuUsPerOp),
  opsPerSec: med(variant, (r) => r.b.opsPerSec),
  pipelinedCpuUs: med(variant, (r) => r.b.cpuUsPerOp),
  pipelinedRedisCpuUs: med(variant, (r) => r.b.redisCpuUsPerOp),
  messagesPerSec: med(variant, (r) => r.c?.messagesPerSec),
  receiveCpuUs: med(variant, (r) => r.c?.cpuUsPerMessage),
  receiveRedisCpuUs: med(variant, (r) => r.c?.redisCpuUsPerMessage),
}))

const loadAfter = loadavg()
console.log(`load average after: ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`)
console.log(`\nMedians of ${REPS} (client CPU is the library's process; Redis CPU from /proc, 10 ms ticks):\n`)
console.log('| client | (a) p50 | (a) p99 | (a) client CPU/call | (b) ops/s at 1,000 in flight | (b) client CPU/op | (b) Redis CPU/op | (c) messages/s | (c) client CPU/message | (c) Redis CPU/message |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const r of rows) {
  console.log(
    `| ${r.variant} | ${us(r.p50Us)} | ${us(r.p99Us)} | ${us(r.roundTripCpuUs, 1)} | ${fmt(r.opsPerSec)} | ${us(r.pipelinedCpuUs, 1)} | ${us(r.pipelinedRedisCpuUs, 1)} | ${fmt(r.messagesPerSec)} | ${us(r.receiveCpuUs, 2)} | ${us(r.receiveRedisCpuUs, 2)} |`,
  )
}

mkdirSync(resultsDir, { recursive: true })
const file = join(resultsDir, `redis-client-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`)
writeFileSync(file, JSON.stringify({ startedAt, node: process.version, redisServer: serverVersion, cpus: cpus().map((c) => c.model), pinned: canPin, loadBefore, loadAfter, versions, options: { REPS, N, IN_FLIGHT, WARMUP_MS, DURATION_MS, RECEIVE_WINDOW, POLL_MS }, runs, medians: rows }, null, 2))
console.log(`\n${file}`)
