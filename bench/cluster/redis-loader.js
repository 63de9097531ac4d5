/**
 * One "node" of the Redis capacity bench (spawned by redis-append.js): the server's own
 * cluster code from the build (cluster/redis-node.js and cluster/redis-tenant-log.js, tenant
 * "default") without WebSockets. It hosts every loader's topic (so each append is published to
 * every loader, as a broadcast reaches every node hosting its topic) and appends broadcasts to
 * its own topic as fast as Redis returns them: at most `window` of its own appends are on their
 * way (appended, not yet back through the subscription). The broadcast is the fan-out bench's:
 * a kind-3 user broadcast with a 150-byte payload.
 *
 * A loader with `window: 0` only hosts (redis-append.js drives the appends with redis-benchmark).
 *
 * IPC: `start({ url, topics, own, window })`, `rate({ on })`, `mark()`, `collect()` → own
 * appends returned and messages received since mark, with this process's CPU; `exit`.
 */
import { serve } from '../lib/child-ipc.js'

const { RedisNode } = await import('../../packages/server/dist/cluster/redis-node.js')
const { RedisTenantLog } = await import('../../packages/server/dist/cluster/redis-tenant-log.js')
const { createLogger } = await import('../../packages/server/dist/logger.js')
const { systemClock } = await import('../../packages/server/dist/clock.js')

// 'error': with redis-benchmark appending, the bodies are placeholders (argv cannot carry the
// real body's NULs), which a host decodes, counts as malformed and logs at 'warn' each time.
const logger = createLogger({ level: 'error' })
let node = null
let log = null
let ownTopic = ''
let windowSize = 0
let sent = 0
let returned = 0
let received = 0
let running = false
let mark = null
const payload = Buffer.from(`{"pad":"${'x'.repeat(150 - 32)}","t":1000000000000000}`)

function pump() {
  if (!running) return
  while (sent - returned < windowSize) {
    sent += 1
    log.append({ kind: 'broadcast-user', origin: `o${sent}`, topicKey: ownTopic, broadcast: { event: 'm', encoding: 'json', metadataJson: null, payload }, senderSession: null })
  }
}

serve({
  async start({ url, topics, own, window }) {
    ownTopic = own
    windowSize = window
    node = new RedisNode({ url, nodeId: `loader-${process.pid}`, logger, clock: systemClock })
    await node.start()
    log = new RedisTenantLog({ node, tenantId: 'default', logger, maxEntries: 100_000 })
    await log.start({
      logged: (_seq, message) => {
        received += 1
        if (message.topicKey === ownTopic) {
          returned += 1
          pump()
        }
      },
      remotePresence: () => {},
      nodeGone: () => {},
      reset: () => {},
    })
    for (const topic of topics) await log.host(topic)
    return {}
  },
  rate({ on }) {
    running = on
    pump()
    return {}
  },
  mark() {
    mark = { returned, received, cpu: process.cpuUsage(), at: performance.now() }
    return {}
  },
  collect() {
    const cpu = process.cpuUsage(mark.cpu)
    const elapsedMs = performance.now() - mark.at
    return { appends: returned - mark.returned, received: received - mark.received, elapsedMs, cpu: (cpu.user + cpu.system) / 1000 / elapsedMs, failed: log.failedAppends }
  },
  async exit() {
    running = false
    await node?.stop()
  },
}, { exitAfter: ['exit'] })
