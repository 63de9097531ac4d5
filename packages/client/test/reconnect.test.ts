/**
 * Reconnection against a real server behind a TCP proxy: restart, network drop, black hole,
 * token expiry, and giving up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GapEvent } from '@switchboard/client'
import { startTcpProxy } from '../../../test-support/tcp-proxy.js'
import { createHarness, joinFrames, sleep, waitFor, type Harness } from './helpers.js'

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(async () => {
  h?.proxy.resume()
  await h?.dispose()
})

describe('reconnection', () => {
  it('a killed and restarted server brings every channel back to connected, presence restored, resumed by stream point (no gap)', async () => {
    // A restart under parallel test load can take seconds: give the tight test policy room.
    const m = h.manager({ reconnect: { baseDelayMs: 100, maxDelayMs: 1000, maxAttempts: 30 } })
    const watcher = h.manager({ reconnect: { baseDelayMs: 100, maxDelayMs: 1000, maxAttempts: 30 } })
    const gaps: GapEvent[] = []
    const recoveries: GapEvent[] = []
    const sub = await m.subscribeToEntity({ entityType: 'board', entityId: '1', maxReconnectAttempts: 30, onGap: (g) => gaps.push(g), onRecover: (g) => recoveries.push(g) })
    const pres = await m.joinPresence({ entityType: 'board', entityId: '1', user: { id: 'u-1', name: 'Ada' }, metadata: { role: 'editor' }, maxReconnectAttempts: 30, onGap: (g) => gaps.push(g), onRecover: (g) => recoveries.push(g) })
    const seen = await watcher.joinPresence({ entityType: 'board', entityId: '1', user: { id: 'u-2', name: 'Bob' }, maxReconnectAttempts: 30 })
    await waitFor(() => seen.users.length === 2, 5000, 'both present')

    await h.restart({ downMs: 300 })
    await waitFor(() => sub.status === 'connected' && pres.status === 'connected', 15_000, 'channels back').catch((err: Error) => {
      throw new Error(`${err.message}: sub=${sub.status} pres=${pres.status} conn=${JSON.stringify(m.connectionStore.getSnapshot())} lastError=${String(sub.lastError)} / ${String(pres.lastError)}`)
    })
    await waitFor(() => seen.status === 'connected', 15_000, 'watcher back')
    await waitFor(() => seen.users.length === 2, 5000, 'presence restored')
    expect(seen.users.find((u) => u.userId === 'u-1')).toMatchObject({ userName: 'Ada', role: 'editor' })
    // The new process rebuilt its log from the replication slot: each channel resumes by its
    // stream point; nothing ephemeral was sent on these topics, so nothing can have been lost.
    await waitFor(() => recoveries.length === 2, 5000, 'a recovery per channel')
    expect(recoveries.map((g) => g.channel).sort()).toEqual(['presence:board:1', 'subscription:board:1'])
    expect(recoveries.every((g) => g.resumed === true && g.restoredAt >= g.brokenAt)).toBe(true)
    expect(gaps).toEqual([])
    expect(m.getStats().reconnects).toBeGreaterThanOrEqual(1)
    expect(m.getStats().gaps).toBe(0)
  })

  it('a network drop (proxy kills the TCP connections) reconnects and resumes (recovery, no gap)', async () => {
    const m = h.manager()
    const gaps: GapEvent[] = []
    const recoveries: GapEvent[] = []
    const sub = await m.subscribeToEntity({ entityType: 'drop', entityId: '1' })
    sub.onGap((g) => gaps.push(g))
    sub.onRecover((g) => recoveries.push(g))
    const statuses: string[] = []
    sub.onStatus((s) => statuses.push(s))
    h.proxy.dropAll()
    await waitFor(() => recoveries.length === 1, 10_000, 'recovery')
    expect(gaps).toEqual([])
    expect(recoveries[0]).toMatchObject({ resumed: true, resume: { code: 'Resumed' } })
    expect(sub.status).toBe('connected')
    expect(statuses).toEqual(['reconnecting', 'connected'])
  })

  it('presence across a network drop: onJoin/onLeave stay once per user (nobody leaves and rejoins, ourselves included)', async () => {
    const m = h.manager()
    const bob = h.manager({ url: `http://127.0.0.1:${h.server.port}` }) // not behind the proxy: stays connected
    const joins: string[] = []
    const leaves: string[] = []
    const syncs: string[][] = []
    const recoveries: GapEvent[] = []
    const ada = await m.joinPresence({
      entityType: 'room',
      entityId: 'presence-drop',
      user: { id: 'u-ada', name: 'Ada' },
      onJoin: (user, joined) => joins.push(`${user.userName}/${joined.length}`),
      onLeave: (user) => leaves.push(user.userName),
      onSync: (users) => syncs.push(users.map((u) => u.userName)),
      onRecover: (g) => recoveries.push(g),
    })
    const bobLease = await bob.joinPresence({ entityType: 'room', entityId: 'presence-drop', user: { id: 'u-bob', name: 'Bob' } })
    await waitFor(() => ada.users.length === 2, 5000, 'both present')
    h.proxy.dropAll()
    await waitFor(() => recoveries.length === 1, 10_000, 'recovery')
    const syncsAfterDrop = syncs.length
    await ada.updateMetadata({ typing: true }) // a re-track is not a join either
    await waitFor(() => syncs.length > syncsAfterDrop && ada.users.some((u) => u.typing === true), 5000, 'own re-track synced')
    expect(joins).toEqual(['Ada/1', 'Bob/1'])
    expect(leaves).toEqual([])
    // The first sync comes before our own track; from then on we are never shown absent.
    expect(syncs.slice(syncs.findIndex((names) => names.includes('Ada'))).every((names) => names.includes('Ada'))).toBe(true)
    bobLease.leave()
    await waitFor(() => leaves.length === 1, 5000, 'Bob left')
    expect(leaves).toEqual(['Bob'])
  })

  it('a network drop with positions off (as against hosted Supabase) reconnects with a gap', async () => {
    const m = h.manager({ positions: false })
    const gaps: GapEvent[] = []
    const sub = await m.subscribeToEntity({ entityType: 'drop', entityId: '2' })
    sub.onGap((g) => gaps.push(g))
    h.proxy.dropAll()
    await waitFor(() => gaps.length === 1, 10_000, 'gap')
    expect(sub.status).toBe('connected')
    expect(gaps[0]).toMatchObject({ resumed: false })
  })

  it('a black-holed connection is detected by the heartbeat and recovered after resume', async () => {
    const m = h.manager({ heartbeatIntervalMs: 300 })
    const sub = await m.subscribeToEntity({ entityType: 'hole', entityId: '1' })
    const statuses: string[] = []
    sub.onStatus((s) => statuses.push(s))
    h.proxy.blackhole()
    await waitFor(() => sub.status === 'reconnecting', 5000, 'heartbeat timeout noticed')
    h.proxy.resume()
    h.proxy.dropAll() // stalled sockets are dead for the client anyway
    await waitFor(() => sub.status === 'connected', 15_000, 'back after resume')
    expect(statuses[0]).toBe('reconnecting')
  })

  it('an expired token is refreshed BEFORE the rejoin (expiry while the server is down)', async () => {
    let calls = 0
    let current = await h.token({ sub: 'u-exp', expiresInSec: 3 })
    const m = h.manager({
      reconnect: { baseDelayMs: 100, maxDelayMs: 500, maxAttempts: 30 },
      accessToken: async () => {
        calls++
        return current
      },
    })
    const sub = await m.subscribeToEntity({ entityType: 'secure', entityId: '1', maxReconnectAttempts: 30 })
    const first = current
    const errors: Error[] = []
    sub.onStatus((_s, err) => err && errors.push(err))
    await h.stop()
    await sleep(3200) // the first token expires while the server is down
    current = await h.token({ sub: 'u-exp', expiresInSec: 3600 })
    const callsBefore = calls
    await h.start()
    await waitFor(() => sub.status === 'connected', 20_000, 'rejoined')
    expect(calls).toBeGreaterThan(callsBefore)
    const joins = joinFrames(h.sent, 'realtime:subscription:secure:1')
    expect(joins.at(0)?.access_token).toBe(first)
    expect(joins.at(-1)?.access_token).toBe(current)
    // No join was refused for an expired token: the fresh one went out first.
    expect(joins.slice(1).some((j) => j.access_token === first)).toBe(false)
    expect(errors).toEqual([])
  })

  it('a token that expires while joined: the server closes the channel, the manager refreshes and rejoins', async () => {
    let current = await h.token({ sub: 'u-live', expiresInSec: 2 })
    const first = current
    const m = h.manager({ accessToken: async () => current, heartbeatIntervalMs: 60_000 })
    const gaps: GapEvent[] = []
    // Gap or recovery: both mean "back after a break" (the server resumes the stream here).
    const sub = await m.subscribeToEntity({ entityType: 'expiring', entityId: '1', onGap: (g) => gaps.push(g), onRecover: (g) => gaps.push(g) })
    current = await h.token({ sub: 'u-live', expiresInSec: 3600 })
    // The server closes at expiry (system error + phx_close); realtime-js alone would not rejoin.
    await waitFor(() => gaps.length === 1, 15_000, 'rejoined after server-side expiry')
    expect(sub.status).toBe('connected')
    expect(gaps[0]?.reason).toMatch(/expired|closed/i)
    const joins = joinFrames(h.sent, 'realtime:subscription:expiring:1')
    expect(joins.at(0)?.access_token).toBe(first)
    expect(joins.at(-1)?.access_token).toBe(current)
  })

  it('five failed attempts end in error, with a clear error to onError', async () => {
    // A proxy of its own, so other tests' clients do not count as attempts.
    const proxy = await startTcpProxy({ targetPort: h.server.port })
    const m = h.manager({ url: proxy.url, connectionRetry: { baseDelayMs: 50, maxDelayMs: 200, maxAttempts: 5 } })
    const errors: Error[] = []
    const sub = await m.subscribeToEntity({ entityType: 'doomed', entityId: '1', onError: (e) => errors.push(e) })
    const attemptsBefore = proxy.accepted
    proxy.refuse()
    proxy.dropAll()
    await waitFor(() => sub.status === 'error', 15_000, 'error status')
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ code: 'RECONNECT_EXHAUSTED' })
    expect(errors[0]?.message).toMatch(/5 attempts/)
    expect(proxy.accepted - attemptsBefore).toBe(5)
    expect(m.connectionStore.getSnapshot()).toMatchObject({ status: 'error', attempt: 5 })
    // It stays down (no hidden retries) until asked.
    const accepted = proxy.accepted
    await sleep(500)
    expect(proxy.accepted).toBe(accepted)
    proxy.resume()
    m.reconnect()
    await waitFor(() => sub.status === 'connected', 10_000, 'manual reconnect')
    await m.destroy()
    await proxy.close()
  })
})
