/**
 * Leases against a real server: shared channels, idempotent release, no leaks over 1,000 cycles.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHarness, joinFrames, sleep, waitFor, type Harness } from './helpers.js'

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(async () => {
  await h?.dispose()
})

function socketListenerCounts(m: ReturnType<Harness['manager']>) {
  const cbs = m.realtime.stateChangeCallbacks
  return { open: cbs.open.length, close: cbs.close.length, error: cbs.error.length, message: cbs.message.length }
}

describe('leases', () => {
  it('two components on one entity share one channel; neither release breaks the other', async () => {
    const m = h.manager()
    const sender = h.manager()
    const a = await m.subscribeToEntity({ entityType: 'ticket', entityId: '7' })
    const b = await m.subscribeToEntity({ entityType: 'ticket', entityId: '7' })
    expect(m.getChannelStats().total).toBe(1)
    expect(m.realtime.getChannels()).toHaveLength(1)
    expect(m.getActiveChannels()[0]?.subscribers).toBe(2)
    expect(joinFrames(h.sent, 'realtime:subscription:ticket:7').length).toBe(1)

    const gotA: unknown[] = []
    const gotB: unknown[] = []
    a.on('broadcast', { event: 'ping' }, ({ payload }) => gotA.push(payload))
    b.on('broadcast', { event: 'ping' }, ({ payload }) => gotB.push(payload))
    await sender.broadcast({ entityType: 'ticket', entityId: '7', event: 'ping', payload: 1 })
    await waitFor(() => gotA.length === 1 && gotB.length === 1, 5000, 'both leases')

    a.release()
    a.release() // idempotent
    await sleep(400) // past the grace period
    expect(b.status).toBe('connected')
    expect(m.getChannelStats().total).toBe(1)
    await sender.broadcast({ entityType: 'ticket', entityId: '7', event: 'ping', payload: 2 })
    await waitFor(() => gotB.length === 2, 5000, 'b still receives')
    expect(gotA).toEqual([1])

    b.release()
    await waitFor(() => m.getChannelStats().total === 0 && m.realtime.getChannels().length === 0, 5000, 'channel left')
  })

  it('a broadcast-only lease (changes: false) joins without a postgres_changes binding, privately when asked', async () => {
    const m = h.manager()
    const sender = h.manager()
    const lease = await m.subscribeToEntity({ entityType: 'room', entityId: 'b1', changes: false, broadcastSelf: false })
    const join = joinFrames(h.sent, 'realtime:subscription:room:b1').at(-1) as { config: { postgres_changes: unknown[]; private: boolean } }
    expect(join.config.postgres_changes).toEqual([])
    expect(join.config.private).toBe(false)
    const got: unknown[] = []
    lease.on('broadcast', { event: 'typing' }, ({ payload }) => got.push(payload))
    await sender.broadcast({ entityType: 'room', entityId: 'b1', event: 'typing', payload: { who: 'ann' } })
    await waitFor(() => got.length === 1, 5000, 'broadcast on a broadcast-only lease')
    lease.release()

    // The private room is the server's to guard: these managers hold the anon key and no policy
    // on realtime.messages admits anon, so the join is refused, not silently made public.
    await expect(m.subscribeToEntity({ entityType: 'room', entityId: 'p1', changes: false, private: true })).rejects.toThrow(/Unauthorized/)
    const privateJoin = joinFrames(h.sent, 'realtime:subscription:room:p1').at(-1) as { config: { private: boolean; postgres_changes: unknown[] } }
    expect(privateJoin.config).toMatchObject({ private: true, postgres_changes: [] })
  })

  it('different configs on one entity are merged (both bindings joined), never silently dropped', async () => {
    const m = h.manager()
    const a = await m.subscribeToEntity({ entityType: 'order', entityId: '1', event: 'INSERT' })
    const b = await m.subscribeToEntity({ entityType: 'order', entityId: '1', event: 'UPDATE' })
    expect(m.getChannelStats().total).toBe(1)
    const joins = joinFrames(h.sent, 'realtime:subscription:order:1')
    const last = joins.at(-1) as { config: { postgres_changes: Array<{ event: string }> } }
    expect(last.config.postgres_changes.map((p) => p.event).sort()).toEqual(['INSERT', 'UPDATE'])
    expect(a.status).toBe('connected')
    expect(b.status).toBe('connected')
    // A setting that cannot be merged fails loudly.
    expect(() => m.acquireEntity({ entityType: 'order', entityId: '1', private: true })).toThrow(/CHANNEL_CONFIG_CONFLICT|different private/)
    a.release()
    b.release()
  })

  it('StrictMode mount/unmount/mount reuses the channel (no second join)', async () => {
    const m = h.manager()
    const first = m.acquireEntity({ entityType: 'strict', entityId: '1' })
    first.release()
    const second = m.acquireEntity({ entityType: 'strict', entityId: '1' })
    await second.waitUntilConnected(5000)
    expect(joinFrames(h.sent, 'realtime:subscription:strict:1').length).toBe(1)
    second.release()
  })

  it('1,000 subscribe/unsubscribe cycles leave zero channels and no growing listener counts', async () => {
    const m = h.manager({ leaseGraceMs: 20 })
    const warm = await m.subscribeToEntity({ entityType: 'cycle', entityId: 'warm' })
    const baseline = socketListenerCounts(m)
    for (let i = 0; i < 1000; i++) {
      const lease = m.acquireEntity({ entityType: 'cycle', entityId: String(i % 10), onChange: () => undefined })
      lease.on('broadcast', { event: 'x' }, () => undefined)
      if (i % 100 === 0) await lease.waitUntilConnected(5000)
      lease.release()
      if (i % 50 === 0) await sleep(30) // let some channels actually leave and rejoin
    }
    warm.release()
    await waitFor(() => m.getChannelStats().total === 0, 10_000, 'all channels gone')
    await waitFor(() => m.realtime.getChannels().length === 0, 10_000, 'realtime-js channels gone')
    expect(m.getStats().leases).toBe(0)
    const after = socketListenerCounts(m)
    expect(after.open).toBeLessThanOrEqual(baseline.open)
    expect(after.close).toBeLessThanOrEqual(baseline.close)
    expect(after.error).toBeLessThanOrEqual(baseline.error)
    expect(after.message).toBeLessThanOrEqual(baseline.message)
  })
})
