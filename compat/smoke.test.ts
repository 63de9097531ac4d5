import { afterAll, beforeAll, expect, test } from 'vitest'
import { startHarness, subscribe, waitFor, type Harness } from './support/harness.js'

let h: Harness
beforeAll(async () => { h = await startHarness() })
afterAll(async () => { await h?.close() })

test('broadcast between two official clients', async () => {
  const a = h.client().channel('room1', { config: { broadcast: { self: false, ack: true } } })
  const b = h.client().channel('room1')
  const got: unknown[] = []
  b.on('broadcast', { event: 'cursor' }, ({ payload }) => got.push(payload))
  expect((await subscribe(a)).status).toBe('SUBSCRIBED')
  expect((await subscribe(b)).status).toBe('SUBSCRIBED')
  expect(await a.send({ type: 'broadcast', event: 'cursor', payload: { x: 1 } })).toBe('ok')
  await waitFor(() => got.length === 1)
  expect(got).toEqual([{ x: 1 }])
})
