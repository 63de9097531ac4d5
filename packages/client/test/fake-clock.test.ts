/**
 * Timing that would otherwise need sleeps, driven by a {@link ManualClock} against the real
 * server: the socket's reconnect schedule (first attempt within tens of ms, growth only while
 * attempts fail, reset after a connection that lasted, cap, give-up) and the lease grace period
 * that lets React StrictMode's mount → unmount → mount reuse a channel. Sockets keep real time;
 * the tests wait for I/O (a refused connection, a join) and move the clock to each timer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backoffCeiling, DEFAULT_CONNECTION_RETRY } from '@switchboard/client'
import { STABLE_MS } from '../src/connection.js'
import { startTcpProxy, type TcpProxy } from '../../../test-support/tcp-proxy.js'
import { createHarness, joinFrames, sentFrames, waitFor, type Harness } from './helpers.js'
import { ManualClock } from './manual-clock.js'

let h: Harness
let proxy: TcpProxy
beforeAll(async () => {
  h = await createHarness()
})
afterAll(async () => {
  await proxy?.close()
  await h?.dispose()
})

describe('socket reconnect schedule (injected clock and random)', () => {
  it('first attempt within 50 ms; the window doubles per failed attempt up to 5 s; a connection that lasted starts over, one that did not continues', async () => {
    // A proxy of its own: its refusals are this test's attempts only.
    proxy = await startTcpProxy({ targetPort: h.server.port })
    const clock = new ManualClock()
    // 0.9999 of each window: the delays show the windows (ceiling − 1).
    const m = h.manager({ url: proxy.url, clock, random: () => 0.9999, connectionRetry: { maxAttempts: 100 } })
    const lease = await m.subscribeToEntity({ entityType: 'schedule', entityId: '1', changes: false })
    const snapshot = () => m.connectionStore.getSnapshot()
    const nextDelay = async (label: string) => {
      await waitFor(() => snapshot().retryAt !== undefined, 5000, label)
      return snapshot().retryAt! - clock.now()
    }
    /** Fires the scheduled attempt and waits until the proxy refused it. */
    const failOnce = async () => {
      const failures = snapshot().attempt
      clock.advanceTo(snapshot().retryAt!)
      await waitFor(() => snapshot().attempt === failures + 1, 5000, `attempt ${failures + 1} refused`)
    }
    /** Fires the scheduled attempt with the proxy open and waits for the channel to be live again. */
    const reconnect = async () => {
      proxy.resume()
      clock.advanceTo(snapshot().retryAt!)
      await waitFor(() => lease.status === 'connected', 5000, 'reconnected')
      expect(snapshot()).toMatchObject({ status: 'connected', attempt: 0, retryAt: undefined })
    }
    const drop = () => {
      proxy.refuse()
      proxy.dropAll()
    }

    clock.advance(STABLE_MS) // the first connection lasted
    drop()
    const droppedAt = clock.now()
    const windows = [await nextDelay('first retry')]
    for (let i = 0; i < 8; i++) {
      await failOnce()
      windows.push(await nextDelay(`retry after ${i + 1} failures`))
    }
    // The first 5 s after the loss the window stops at 250 ms (quickRetry): a client whose
    // network comes back never waits out a long window drawn while it was down.
    expect(windows).toEqual([49, 99, 199, 249, 249, 249, 249, 249, 249])
    // Past the quick phase the windows grow as the plain schedule (the attempt count goes on).
    while (clock.now() - droppedAt < DEFAULT_CONNECTION_RETRY.quickRetry!.forMs) {
      await failOnce()
      windows.push(await nextDelay('retry in the quick phase'))
    }
    await failOnce()
    const late = await nextDelay('retry after the quick phase')
    expect(late).toBe(backoffCeiling(snapshot().attempt + 1, DEFAULT_CONNECTION_RETRY) - 1)
    expect(late).toBe(4999)

    // Success resets: after a connection that lasted, the next drop retries within 50 ms again.
    await reconnect()
    clock.advance(STABLE_MS)
    drop()
    expect(await nextDelay('retry after a lasting connection')).toBe(49)

    // One failure, then a connection that dies at once: the series continues (no 50 ms loop
    // against a server that accepts and closes).
    await failOnce()
    expect(await nextDelay('second window')).toBe(99)
    await reconnect()
    drop()
    expect(await nextDelay('retry after a short-lived connection')).toBe(99)
    expect(snapshot().attempt).toBe(1)
    await reconnect()
  })

  it('jitter: random() = 0 retries at once, whatever the window', async () => {
    const own = await startTcpProxy({ targetPort: h.server.port })
    const clock = new ManualClock()
    const m = h.manager({ url: own.url, clock, random: () => 0 })
    await m.subscribeToEntity({ entityType: 'schedule', entityId: 'jitter', changes: false })
    clock.advance(STABLE_MS)
    own.refuse()
    own.dropAll()
    const snapshot = () => m.connectionStore.getSnapshot()
    for (let failures = 0; failures < 3; failures++) {
      await waitFor(() => snapshot().retryAt !== undefined, 5000, `retry ${failures + 1}`)
      expect(snapshot().retryAt).toBe(clock.now())
      clock.advance(0)
      await waitFor(() => snapshot().attempt === failures + 1, 5000, `attempt ${failures + 1} refused`)
    }
    await m.destroy()
    await own.close()
  })

  it('gives up after connectionRetry.maxAttempts failures in a row: status error, no retry scheduled, channels in error', async () => {
    const own = await startTcpProxy({ targetPort: h.server.port })
    const clock = new ManualClock()
    const m = h.manager({ url: own.url, clock, connectionRetry: { maxAttempts: 3 } })
    const errors: Error[] = []
    const lease = await m.subscribeToEntity({ entityType: 'schedule', entityId: 'exhausted', changes: false, onError: (e) => errors.push(e) })
    own.refuse()
    own.dropAll()
    const snapshot = () => m.connectionStore.getSnapshot()
    for (let failures = 0; failures < 3; failures++) {
      await waitFor(() => snapshot().retryAt !== undefined, 5000, `retry ${failures + 1}`)
      clock.advanceTo(snapshot().retryAt!)
      await waitFor(() => snapshot().attempt === failures + 1, 5000, `attempt ${failures + 1} refused`)
    }
    expect(snapshot()).toMatchObject({ status: 'error', attempt: 3, retryAt: undefined })
    expect(lease.status).toBe('error')
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ code: 'RECONNECT_EXHAUSTED' })
    expect(clock.pending).toEqual([]) // nothing left to fire
    await m.destroy()
    await own.close()
  })
})

describe('lease grace period (React StrictMode)', () => {
  it('mount → unmount → mount within leaseGraceMs reuses the joined channel; the last release leaves exactly leaseGraceMs later', async () => {
    const clock = new ManualClock()
    const m = h.manager({ clock, leaseGraceMs: 150 })
    const topic = 'realtime:subscription:strict:clock'
    const entity = { entityType: 'strict', entityId: 'clock', changes: false } as const
    // StrictMode: the effect runs, cleans up and runs again before anything joined.
    m.acquireEntity(entity).release()
    const mounted = m.acquireEntity(entity)
    await mounted.waitUntilConnected()
    expect(joinFrames(h.sent, topic)).toHaveLength(1)

    // A route flip: unmounted, and mounted again 149 ms later: still the same joined channel.
    mounted.release()
    clock.advance(149)
    expect(m.getChannelStats().total).toBe(1)
    const again = m.acquireEntity(entity)
    expect(again.status).toBe('connected')
    clock.advance(1000)
    expect(sentFrames(h.sent, topic, 'phx_leave')).toHaveLength(0)

    // The last release: the channel leaves at 150 ms, not before.
    again.release()
    clock.advance(149)
    expect(m.getChannelStats().total).toBe(1)
    clock.advance(1)
    expect(m.getChannelStats().total).toBe(0)
    expect(sentFrames(h.sent, topic, 'phx_leave')).toHaveLength(1)
    // A mount after the grace period joins anew.
    const later = m.acquireEntity(entity)
    await later.waitUntilConnected()
    expect(joinFrames(h.sent, topic)).toHaveLength(2)
    later.release()
  })
})
