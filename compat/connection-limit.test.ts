/**
 * `limits.maxConnections`: past it, the upgrade is refused before any socket exists (HTTP 429
 * with Supabase's body), and a freed slot is usable again.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startHarness, type Harness } from './support/harness.js'
import { RawSocket, refusedUpgrade, socketUrl } from './support/raw-socket.js'

let h: Harness
beforeAll(async () => {
  h = await startHarness({ limits: { maxConnections: 2 } })
})
afterAll(async () => {
  await h?.close()
})

test('the third socket gets 429 Too many connected users; after one closes, a new one connects', async () => {
  const a = await RawSocket.connect(h.server.url, h.server.anonKey)
  const b = await RawSocket.connect(h.server.url, h.server.anonKey)
  const refused = await refusedUpgrade(socketUrl(h.server.url, { apikey: h.server.anonKey, vsn: '2.0.0' }))
  expect(refused).toEqual({ status: 429, body: { error: 'Too many connected users' } })
  a.close()
  await a.closed
  // The server forgets a socket when its close completes; wait for /health to show it.
  const deadline = Date.now() + 5_000
  const connections = async () => ((await (await fetch(`${h.server.url}/health`)).json()) as { connections: number }).connections
  while ((await connections()) !== 1) {
    if (Date.now() > deadline) throw new Error('the closed socket was never forgotten')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const c = await RawSocket.connect(h.server.url, h.server.anonKey)
  await c.heartbeat()
  b.close()
  c.close()
})
