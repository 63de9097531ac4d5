/**
 * One Redis client library under test, in its own process (so its CPU time is its own):
 * `node client.js <variant> <redis url>`, driven by run.js over IPC (../lib/child-ipc.js).
 *
 *   variant       library and options
 *   ioredis       ioredis 5, defaults (each command written to the socket as it is issued)
 *   ioredis-auto  ioredis 5, enableAutoPipelining (commands of one tick written together)
 *   node-redis    redis (node-redis) 5, defaults (it batches the commands of one tick itself), RESP2
 *
 * Commands (each answers with numbers only):
 *   roundTrips { n, warmup }                 sequential EVALSHA calls: p50/p99/mean µs, client CPU µs/op
 *   concurrent { inFlight, warmupMs, durationMs }  `inFlight` loops of EVALSHA: ops/s, client CPU µs/op
 *   subscribe  { channel }                  SSUBSCRIBE on a dedicated connection, counting messages
 *   count                                   messages received so far, client CPU µs, monotonic ns
 *   close                                   quits and exits
 *
 * The script is what the cluster hub does per message: INCR the tenant's sequence, XADD the
 * entry to the tenant's log under that id (`<seq>-0`, MAXLEN ~ 100000), SPUBLISH it to the
 * topic's shard channel. Keys share a hash tag, as they must on a Redis Cluster.
 */
import { serve } from '../lib/child-ipc.js'

const [variant, url] = process.argv.slice(2)
if (!['ioredis', 'ioredis-auto', 'node-redis'].includes(variant) || !url) {
  console.error('usage: node client.js ioredis|ioredis-auto|node-redis <redis url>')
  process.exit(2)
}

const SCRIPT = `local seq = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], seq .. '-0', 'p', ARGV[2])
redis.call('SPUBLISH', KEYS[3], ARGV[2])
return seq`
const KEYS = ['{bench}:seq', '{bench}:log', '{bench}:topic']
const MAXLEN = '100000'
// 150 bytes, shaped like a broadcast's JSON.
const PAYLOAD = JSON.stringify({ event: 'tick', payload: { id: 'x'.repeat(95), n: 123456 } }).padEnd(150, ' ')
if (Buffer.byteLength(PAYLOAD) !== 150) throw new Error('payload must be 150 bytes')

/** The variant's client behind three calls, so the measurements below are the same code. */
async function open() {
  if (variant === 'node-redis') {
    const { createClient } = await import('redis')
    const client = createClient({ url })
    client.on('error', (error) => console.error(`node-redis: ${error.message}`))
    await client.connect()
    const sha = await client.scriptLoad(SCRIPT)
    let subscriber = null
    return {
      append: () => client.evalSha(sha, { keys: KEYS, arguments: [MAXLEN, PAYLOAD] }),
      async subscribe(channel, onMessage) {
        subscriber = client.duplicate()
        subscriber.on('error', (error) => console.error(`node-redis subscriber: ${error.message}`))
        await subscriber.connect()
        await subscriber.sSubscribe(channel, onMessage)
      },
      async close() {
        subscriber?.destroy()
        await client.close()
      },
    }
  }
  const { Redis } = await import('ioredis')
  const client = new Redis(url, { enableAutoPipelining: variant === 'ioredis-auto' })
  const sha = await client.script('LOAD', SCRIPT)
  let subscriber = null
  return {
    append: () => client.evalsha(sha, KEYS.length, ...KEYS, MAXLEN, PAYLOAD),
    async subscribe(channel, onMessage) {
      subscriber = new Redis(url)
      subscriber.on('smessage', (_channel, message) => onMessage(message))
      await subscriber.ssubscribe(channel)
    },
    async close() {
      subscriber?.disconnect()
      await client.quit()
    },
  }
}

const redis = await open()
const cpuUs = () => {
  const { user, system } = process.cpuUsage()
  return user + system
}

let received = 0

serve(
  {
    async roundTrips({ n, warmup }) {
      for (let i = 0; i < warmup; i++) await redis.append()
      const samples = new Float64Array(n)
      const cpu0 = cpuUs()
      for (let i = 0; i < n; i++) {
        const start = process.hrtime.bigint()
        await redis.append()
        samples[i] = Number(process.hrtime.bigint() - start) / 1_000
      }
      const cpu = cpuUs() - cpu0
      samples.sort()
      const at = (q) => samples[Math.min(n - 1, Math.ceil(q * n) - 1)]
      return { p50Us: at(0.5), p99Us: at(0.99), meanUs: samples.reduce((a, b) => a + b, 0) / n, cpuUsPerOp: cpu / n }
    },

    async concurrent({ inFlight, warmupMs, durationMs }) {
      let done = 0
      let running = true
      const loop = async () => {
        while (running) {
          await redis.append()
          done++
        }
      }
      const loops = Array.from({ length: inFlight }, loop)
      await new Promise((resolve) => setTimeout(resolve, warmupMs))
      const done0 = done
      const cpu0 = cpuUs()
      const t0 = process.hrtime.bigint()
      await new Promise((resolve) => setTimeout(resolve, durationMs))
      const ops = done - done0
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9
      const cpu = cpuUs() - cpu0
      running = false
      await Promise.all(loops)
      // totalOps (warm-up and the last calls in flight included) is for Redis's CPU per op.
      return { opsPerSec: ops / seconds, cpuUsPerOp: cpu / ops, totalOps: done }
    },

    async subscribe({ channel }) {
      await redis.subscribe(channel, () => {
        received++
      })
      return {}
    },

    async count() {
      return { received, cpuUs: cpuUs(), atNs: Number(process.hrtime.bigint()) }
    },

    async close() {
      await redis.close()
      return {}
    },
  },
  { ready: { variant }, exitAfter: ['close'] },
)
