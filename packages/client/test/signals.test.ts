/**
 * Browser signals (online/offline, visibilitychange, pageshow) through the opt-in
 * `browserLifecycle()` plug-in, and adopting an existing client with `configureRealtime({ client })`,
 * against a real server behind the TCP proxy.
 */
import { RealtimeClient } from '@supabase/realtime-js'
import WebSocket from 'ws'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { cleanupAllChannels, configureRealtime, getChannelManager, subscribeToEntity } from '@switchboard/client'
import { browserLifecycle, browserSignals, manualSignals, type Signal } from '@switchboard/client/lifecycle'
import { createHarness, freezableTransport, hangingTransport, sleep, waitFor, type Harness } from './helpers.js'
import { ManualClock } from './manual-clock.js'

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(async () => {
  h?.proxy.resume()
  await cleanupAllChannels()
  await h?.dispose()
})
afterEach(() => {
  vi.unstubAllGlobals()
})

describe('browserSignals()', () => {
  it('is undefined in Node (no global event target)', () => {
    expect(browserSignals()).toBeUndefined()
  })

  it('maps window and document events to signals and removes its listeners', () => {
    const win = new EventTarget()
    const doc = Object.assign(new EventTarget(), { visibilityState: 'visible' })
    vi.stubGlobal('addEventListener', win.addEventListener.bind(win))
    vi.stubGlobal('removeEventListener', win.removeEventListener.bind(win))
    vi.stubGlobal('document', doc)
    vi.stubGlobal('navigator', { onLine: false })
    const source = browserSignals()
    expect(source?.isOnline?.()).toBe(false)
    const seen: Signal[] = []
    const off = source!.subscribe((s) => seen.push(s))
    win.dispatchEvent(new Event('offline'))
    win.dispatchEvent(new Event('online'))
    win.dispatchEvent(new Event('pageshow'))
    doc.visibilityState = 'hidden'
    doc.dispatchEvent(new Event('visibilitychange'))
    doc.visibilityState = 'visible'
    doc.dispatchEvent(new Event('visibilitychange'))
    expect(seen).toEqual(['offline', 'online', 'pageshow', 'hidden', 'visible'])
    off()
    win.dispatchEvent(new Event('online'))
    doc.dispatchEvent(new Event('visibilitychange'))
    expect(seen).toHaveLength(5)
  })
})

describe('signals drive the connection', () => {
  it('offline pauses reconnects; online reconnects at once with a fresh budget', async () => {
    const signals = manualSignals()
    // A slow policy: without the online signal the retry would take seconds.
    const m = h.manager({ plugins: [browserLifecycle({ signals })], reconnect: { baseDelayMs: 20_000, maxDelayMs: 20_000, maxAttempts: 5 } })
    const sub = await m.subscribeToEntity({ entityType: 'sig', entityId: '1', reconnectDelay: 20_000 })
    signals.emit('offline')
    h.proxy.dropAll()
    await waitFor(() => sub.status === 'reconnecting', 5000, 'lost')
    const accepted = h.proxy.accepted
    await sleep(300)
    expect(h.proxy.accepted).toBe(accepted) // no attempt while offline
    const t0 = Date.now()
    signals.emit('online')
    await waitFor(() => sub.status === 'connected', 5000, 'back online')
    expect(Date.now() - t0).toBeLessThan(3000)
  })

  it('visible/pageshow on a live socket refreshes the token (and probes); on a dead one reconnects now', async () => {
    const signals = manualSignals()
    let calls = 0
    const token = await h.token()
    const m = h.manager({ plugins: [browserLifecycle({ signals })], accessToken: async () => (calls++, token), reconnect: { baseDelayMs: 20_000, maxDelayMs: 20_000, maxAttempts: 5 } })
    const sub = await m.subscribeToEntity({ entityType: 'sig', entityId: '2', reconnectDelay: 20_000 })
    const before = calls
    signals.emit('visible')
    await waitFor(() => calls > before, 2000, 'token refreshed on visible')
    const afterVisible = calls
    signals.emit('pageshow')
    await waitFor(() => calls > afterVisible, 2000, 'token refreshed on pageshow')
    signals.emit('hidden') // no-op
    expect(sub.status).toBe('connected')

    h.proxy.dropAll()
    await waitFor(() => sub.status === 'reconnecting', 5000, 'lost')
    signals.emit('visible')
    await waitFor(() => sub.status === 'connected', 5000, 'reconnected on visible')
  })

  it('is opt-in: a manager without the plug-in listens to nothing; destroy() removes the plug-in\'s listeners', async () => {
    const signals = manualSignals()
    let listening = 0
    const counting = { ...signals, subscribe: (l: Parameters<typeof signals.subscribe>[0]) => (listening++, ((off) => () => (listening--, off()))(signals.subscribe(l))) }
    const plain = h.manager()
    const withPlugin = h.manager({ plugins: [browserLifecycle({ signals: counting })] })
    expect(listening).toBe(1)
    await plain.destroy()
    expect(listening).toBe(1)
    await withPlugin.destroy()
    expect(listening).toBe(0)
  })

  it('starts paused when the environment says it is offline', async () => {
    const signals = manualSignals()
    signals.online = false
    const m = h.manager({ plugins: [browserLifecycle({ signals })] })
    const sub = m.acquireEntity({ entityType: 'sig', entityId: '3' })
    await sleep(300)
    expect(sub.status).toBe('connecting')
    signals.emit('online')
    await waitFor(() => sub.status === 'connected', 5000, 'connected once online')
    sub.release()
  })
})

describe('a socket the network left half-dead', () => {
  it('online: the probe heartbeat goes unanswered within probeTimeoutMs, the socket is dropped and reopened at once, and what is sent next arrives', async () => {
    const signals = manualSignals()
    const clock = new ManualClock()
    const { transport, freeze } = freezableTransport()
    // A slow socket schedule and a manual clock: only the immediate reconnect on `online` can bring it back.
    const m = h.manager({ plugins: [browserLifecycle({ signals, probeTimeoutMs: 1500 })], clock, transport, heartbeatIntervalMs: 60_000, connectionRetry: { baseDelayMs: 60_000 } })
    const sender = h.manager()
    const got: unknown[] = []
    const sub = await m.subscribeToEntity({ entityType: 'sig', entityId: 'half-dead', changes: false })
    sub.on('broadcast', { event: 'call' }, ({ payload }) => got.push(payload))
    const connection: string[] = []
    m.connectionStore.subscribe(() => connection.push(m.connectionStore.getSnapshot().status))

    freeze() // the network dies under the open socket; the browser notices
    signals.emit('offline') // probe heartbeat sent into the dead socket
    signals.emit('online')
    clock.advance(1499)
    expect(sub.status).toBe('connected') // still looks open
    clock.advance(1) // the probe (the heartbeat already in flight) is overdue
    expect(connection).toContain('reconnecting')
    await waitFor(() => sub.status === 'connected' && m.connectionStore.getSnapshot().status === 'connected', 5000, 'reopened')
    expect(m.getStats().reconnects).toBe(1)
    await sender.broadcast({ entityType: 'sig', entityId: 'half-dead', event: 'call', payload: { id: 'after-catch-up' } })
    await waitFor(() => got.length === 1, 5000, 'the message sent after the catch-up')
    expect(got).toEqual([{ id: 'after-catch-up' }])
  })

  it('online: a healthy socket answers the probe and is kept', async () => {
    const signals = manualSignals()
    const clock = new ManualClock()
    const heartbeats: string[] = []
    const m = h.manager({ plugins: [browserLifecycle({ signals, probeTimeoutMs: 1500 })], clock, heartbeatIntervalMs: 60_000, realtimeOptions: { heartbeatCallback: (status) => void heartbeats.push(status) } })
    const sub = await m.subscribeToEntity({ entityType: 'sig', entityId: 'healthy', changes: false })
    const accepted = h.proxy.accepted
    signals.emit('offline')
    signals.emit('online')
    // One heartbeat serves both probes: `online` watches the one `offline` sent.
    await waitFor(() => heartbeats.includes('ok'), 5000, 'the probe answered')
    expect(heartbeats).toEqual(['sent', 'ok'])
    clock.advance(1500)
    expect(sub.status).toBe('connected')
    expect(m.getStats().reconnects).toBe(0)
    expect(h.proxy.accepted).toBe(accepted)
  })

  it('online while an attempt hangs on the network that went away: that attempt is dropped (not counted) and a new one made at once', async () => {
    const signals = manualSignals()
    const clock = new ManualClock() // the connect timeout never fires: only `online` can unstick it
    const hanging = await hangingTransport()
    const m = h.manager({ plugins: [browserLifecycle({ signals })], clock, transport: hanging.transport })
    const lease = await m.subscribeToEntity({ entityType: 'sig', entityId: 'hanging-attempt', changes: false })
    hanging.hang = true
    h.proxy.dropAll()
    await waitFor(() => m.connectionStore.getSnapshot().retryAt !== undefined, 5000, 'retry scheduled')
    clock.advanceTo(m.connectionStore.getSnapshot().retryAt!)
    expect(m.realtime.connectionState()).toBe('connecting')
    signals.emit('offline')
    hanging.hang = false // the new network
    signals.emit('online')
    await waitFor(() => lease.status === 'connected', 5000, 'connected on the new network')
    expect(m.connectionStore.getSnapshot()).toMatchObject({ status: 'connected', attempt: 0 })
    await hanging.close()
  })

  it('a heartbeat timeout drops the socket at once instead of waiting for a close the dead network never completes', async () => {
    const { transport, freeze } = freezableTransport()
    const m = h.manager({ transport, heartbeatIntervalMs: 300 })
    const sub = await m.subscribeToEntity({ entityType: 'sig', entityId: 'heartbeat', changes: false })
    const connection: string[] = []
    m.connectionStore.subscribe(() => connection.push(m.connectionStore.getSnapshot().status))
    const frozenAt = Date.now()
    freeze()
    await waitFor(() => connection.includes('reconnecting') && sub.status === 'connected' && m.connectionStore.getSnapshot().status === 'connected', 5000, 'reopened')
    // Two heartbeat intervals (sent, timed out) and a reconnect; Phoenix's close wait alone is 1.5 s.
    expect(Date.now() - frozenAt).toBeLessThan(1500)
    expect(m.getStats().reconnects).toBe(1)
  })
})

describe('configureRealtime({ client })', () => {
  it('adopts an existing RealtimeClient: channels join on it, cleanup leaves it to its owner', async () => {
    const client = new RealtimeClient(`${h.proxy.url.replace('http', 'ws')}/realtime/v1`, {
      params: { apikey: h.server.anonKey },
      transport: WebSocket as never,
      logger: () => undefined,
    })
    const manager = configureRealtime({ client })
    expect(getChannelManager()).toBe(manager)
    expect(manager.realtime).toBe(client)
    const channel = await subscribeToEntity({ entityType: 'adopted', entityId: '1' })
    expect(channel.status).toBe('connected')
    expect(client.getChannels().map((c) => c.topic)).toContain('realtime:subscription:adopted:1')

    // Replacing the configuration cleans up the previous manager.
    const next = configureRealtime({ client })
    await waitFor(() => channel.status === 'disconnected', 5000, 'previous manager cleaned up')
    expect(getChannelManager()).toBe(next)
    const again = await subscribeToEntity({ entityType: 'adopted', entityId: '2' })
    expect(again.status).toBe('connected')
    await cleanupAllChannels()
    expect(client.getChannels()).toEqual([])
    await next.destroy()
    await client.disconnect()
  })

  it('adopts a client that is already connected', async () => {
    const client = new RealtimeClient(`${h.proxy.url.replace('http', 'ws')}/realtime/v1`, {
      params: { apikey: h.server.anonKey },
      transport: WebSocket as never,
      logger: () => undefined,
    })
    client.connect()
    await waitFor(() => client.isConnected(), 5000, 'client connected')
    const manager = configureRealtime({ client })
    await waitFor(() => manager.status === 'connected', 5000, 'manager sees the open socket')
    const channel = await subscribeToEntity({ entityType: 'adopted', entityId: '3' })
    expect(channel.status).toBe('connected')
    await manager.destroy()
    await client.disconnect()
  })
})
