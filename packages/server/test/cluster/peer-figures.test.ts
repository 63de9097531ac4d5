/**
 * The other nodes' per-tenant figures (cluster/redis-node.ts `peerFigures`), against a real
 * Redis: reads asked in the same turn (the inspector's overview of every tenant) share one MGET,
 * each gets its own tenant's figures, and a node serving no tenant of the read is absent.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import { systemClock } from '../../src/clock.js'
import type { NodeTenantFigures } from '../../src/cluster/node-report.js'
import { RedisNode } from '../../src/cluster/redis-node.js'
import { silentLogger } from '../../src/logger.js'
import { RedisProcess } from '../support/redis-process.js'

let redis: RedisProcess
const nodes: RedisNode[] = []
const figures = (connections: number): NodeTenantFigures => ({ connections, channels: connections * 2, presences: 0, messagesIn: 0, messagesOut: 0, rlsChecks: 0, readsSlot: false })

beforeAll(async () => {
  redis = await RedisProcess.start()
})
afterAll(async () => {
  for (const node of nodes) await node.stop()
  await redis?.stop()
})

async function startNode(id: string, report: Map<string, NodeTenantFigures>): Promise<RedisNode> {
  const node = new RedisNode({ url: redis.url, nodeId: id, logger: silentLogger, clock: systemClock, heartbeatMs: 60_000 })
  node.reportWith(() => report)
  nodes.push(node)
  await node.start() // the first heartbeat publishes the figures and reads who is alive
  return node
}

test('reads of many tenants in one turn share one MGET and each gets its own figures', async () => {
  const tenants = Array.from({ length: 50 }, (_, i) => `tenant-${i}`)
  await startNode('peer-b', new Map(tenants.map((t, i) => [t, figures(i)])))
  await startNode('peer-c', new Map([['tenant-7', figures(700)]]))
  const reader = await startNode('reader-a', new Map())
  const before = reader.roundTrips
  const read = await Promise.all(tenants.map((t) => reader.peerFigures(t)))
  expect(reader.roundTrips - before).toBe(1)
  expect(read[3]).toEqual([{ node: 'peer-b', ...figures(3) }])
  expect(read[7]).toEqual([{ node: 'peer-b', ...figures(7) }, { node: 'peer-c', ...figures(700) }])
  expect(await reader.peerFigures('nobody')).toEqual([])
})
