/**
 * The cluster tests' process helpers together: two Switchboard nodes as child processes
 * (test/support/node-process.ts, the built CLI: run `npm run build` before this file alone)
 * behind the round-robin proxy. Only the helpers are under test; whether the nodes share
 * channels is the Redis hub's business.
 *
 * `--no-postgres-changes`: every node still waits to hold the database's replication slot at
 * start, so the second node on one database would never listen.
 */
import { get } from 'node:http'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../../test-support/database.js'
import { NodeProcess } from '../support/node-process.js'
import { RedisProcess } from '../support/redis-process.js'
import { startRoundRobinProxy, type RoundRobinProxy } from '../support/tcp-proxy.js'

/** GET /health on a new connection (each one is routed anew by the proxy). */
function healthNode(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = get(`${url}/health`, { agent: false, headers: { connection: 'close' } }, (response) => {
      let body = ''
      response.on('data', (chunk) => (body += chunk))
      response.on('end', () => resolve((JSON.parse(body) as { node: string }).node))
    })
    request.on('error', reject)
    request.setTimeout(5_000, () => request.destroy(new Error('no answer within 5 s')))
  })
}

describe('NodeProcess behind the round-robin proxy', () => {
  let database: TestDatabase
  let redis: RedisProcess
  const nodes: NodeProcess[] = []
  let proxy: RoundRobinProxy | undefined
  beforeAll(async () => {
    database = await createTestDatabase('node_process')
    redis = await RedisProcess.start()
  })
  afterAll(async () => {
    await proxy?.close()
    await Promise.all(nodes.map((node) => node.kill()))
    await redis?.stop()
    await database?.drop()
  })

  test('two nodes answer in turn; a killed node is skipped, restarts on its port, stops cleanly', { timeout: 90_000 }, async () => {
    const options = { databaseUrl: database.url, redisUrl: redis.url, args: ['--no-postgres-changes'] }
    nodes.push(await NodeProcess.start({ ...options, nodeId: 'node-a' }))
    nodes.push(await NodeProcess.start({ ...options, nodeId: 'node-b' }))
    const [a, b] = nodes as [NodeProcess, NodeProcess]
    expect(a.output).toMatch(/Cluster\s+node node-a; Redis redis:\/\/127\.0\.0\.1:\d+/)
    proxy = await startRoundRobinProxy({ backends: [a.port, b.port] })

    expect([await healthNode(proxy.url), await healthNode(proxy.url), await healthNode(proxy.url)]).toEqual(['node-a', 'node-b', 'node-a'])

    const pid = a.pid
    await a.kill()
    expect(a.running).toBe(false)
    expect([await healthNode(proxy.url), await healthNode(proxy.url)]).toEqual(['node-b', 'node-b'])

    await a.restart()
    expect(a.pid).not.toBe(pid)
    expect(a.url).toBe(`http://127.0.0.1:${a.port}`)
    const seen = new Set([await healthNode(proxy.url), await healthNode(proxy.url)])
    expect(seen).toEqual(new Set(['node-a', 'node-b']))

    expect(await b.stop()).toBe(0)
    expect(b.running).toBe(false)
  })

  test('a node that cannot start rejects with its output', async () => {
    const failing = NodeProcess.start({ databaseUrl: 'postgres://nobody:secret@127.0.0.1:1/none', startTimeoutMs: 20_000 })
    await expect(failing).rejects.toThrow(/exited \(code 1\) before listening; its output:\n.*cannot connect to database/)
  })
})
