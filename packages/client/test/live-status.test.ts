/**
 * "Connected means live" and the stream point on rejoin, against the protocol-level fake server
 * (`fake-server.ts`), which lets each test choose what the real server does not do yet or does
 * with timing a test cannot choose: hold the live status back after the join reply, never send
 * it, resume into a new epoch with `lost: ['broadcast']`, carry `lsn` on every message.
 * The real server's current timing (Fresh right after the reply) is covered by every
 * real-server test; `resume.test.ts` covers Resumed and Gap end to end.
 */
import WebSocket from 'ws'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { formatStreamPoint, RESUME_KEY, RESUME_STATUS_MESSAGES, ResumeCode, type ResumeStatus } from '@switchboard/protocol'
import { ChannelManager, type BroadcastMessage, type GapEvent, type RealtimeConfig, type Status } from '@switchboard/client'
import { startFakeServer, type FakeServer } from './fake-server.js'
import { ManualClock } from './manual-clock.js'
import { waitFor } from './helpers.js'

let fake: FakeServer
const managers: ChannelManager[] = []
beforeAll(async () => {
  fake = await startFakeServer()
})
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.destroy()))
  fake.joins.length = 0
  fake.onJoin = (join) => join.reply()
})
afterAll(async () => {
  await fake?.close()
})

function manager(config: Partial<RealtimeConfig> = {}): ChannelManager {
  const m = new ChannelManager({ url: fake.url, apiKey: 'anon', transport: WebSocket, idleDisconnectMs: 50, ...config })
  managers.push(m)
  return m
}

const lsn = (n: number) => formatStreamPoint(0x16b3748n + BigInt(n), 0)

function liveStatus(code: ResumeCode, epoch: string, position: number, point: string, extra: Partial<ResumeStatus> = {}): Record<string, unknown> {
  const status: ResumeStatus = {
    extension: RESUME_KEY,
    status: code === ResumeCode.gap ? 'error' : 'ok',
    code,
    message: RESUME_STATUS_MESSAGES[code],
    channel: 'test',
    epoch,
    position,
    lsn: point,
    ...extra,
  }
  return { ...status }
}

const speaks = (epoch: string, resuming = false) => ({ [RESUME_KEY]: { epoch, resuming } })
const rawState = (m: ChannelManager) => m.realtime.getChannels()[0]?.state

describe('connected means live', () => {
  it('a server that speaks positions: connecting until its live status, connected on it (the join promise too)', async () => {
    fake.onJoin = (join) => join.reply(speaks('e1'))
    const m = manager()
    const statuses: Status[] = []
    const lease = m.acquireEntity({ entityType: 'doc', entityId: 'held', changes: false, onStatusChange: (s) => statuses.push(s) })
    let live = false
    const joined = lease.waitUntilConnected().then(() => (live = true))
    await waitFor(() => rawState(m) === 'joined', 5000, 'join reply processed')
    expect(lease.status).toBe('connecting')
    expect(live).toBe(false)
    fake.joins[0]!.push('system', liveStatus(ResumeCode.fresh, 'e1', 10, lsn(0)))
    await joined
    expect(statuses).toEqual(['connecting', 'connected'])
    expect(m.getActiveChannels()[0]).toMatchObject({ status: 'connected', position: 10 })
  })

  it('the status in the same read as the reply (the current server) is connected as well', async () => {
    fake.onJoin = (join) => {
      join.reply(speaks('e1'))
      join.push('system', liveStatus(ResumeCode.fresh, 'e1', 3, lsn(0)))
    }
    const m = manager()
    const lease = await m.subscribeToEntity({ entityType: 'doc', entityId: 'same-read', changes: false })
    expect(lease.status).toBe('connected')
  })

  it('a server that does not speak positions (no switchboard in the reply): connected on the reply', async () => {
    const m = manager()
    const lease = await m.subscribeToEntity({ entityType: 'doc', entityId: 'plain', changes: false })
    expect(lease.status).toBe('connected')
    expect(fake.joins[0]?.payload[RESUME_KEY]).toMatchObject({ resume: null })
  })

  it('no status within joinTimeoutMs of the reply: a failed join, retried with reconnectDelay, never connected before the status', async () => {
    const clock = new ManualClock()
    fake.onJoin = (join) => {
      join.reply(speaks('e1'))
      if (fake.joins.length === 2) join.push('system', liveStatus(ResumeCode.fresh, 'e1', 0, lsn(0)))
    }
    const m = manager({ clock, joinTimeoutMs: 5000, random: () => 0.5 })
    const statuses: Status[] = []
    const lease = m.acquireEntity({ entityType: 'doc', entityId: 'silent', changes: false, reconnectDelay: 1000, onStatusChange: (s) => statuses.push(s) })
    await waitFor(() => rawState(m) === 'joined', 5000, 'first join reply')
    clock.advance(4999)
    expect(lease.status).toBe('connecting')
    clock.advance(1) // the live status is overdue: the instance is dropped, a rejoin waits 500 ms (0.5 × 1000)
    expect(lease.lastError?.message).toMatch(/no live status within 5000 ms/)
    expect(clock.pending).toContain(500)
    clock.advance(500)
    await waitFor(() => lease.status === 'connected', 5000, 'second join live')
    expect(fake.joins).toHaveLength(2)
    expect(statuses).toEqual(['connecting', 'connected'])
  })
})

describe('stream points and scoped gaps', () => {
  it('rejoins with { epoch, position, lsn } of the newest message (changes: payload.switchboard; broadcasts: meta.switchboard)', async () => {
    const binding = { id: 7, event: '*', schema: 'public', table: 'contacts', filter: 'id=eq.1' }
    fake.onJoin = (join) => {
      join.reply({ ...speaks('e1', fake.joins.length > 1), postgres_changes: [binding] })
      join.push('system', liveStatus(fake.joins.length > 1 ? ResumeCode.resumed : ResumeCode.fresh, 'e1', 20, lsn(1), { replayed: 0 }))
    }
    const m = manager({ reconnect: { baseDelayMs: 10 } })
    const inserts: unknown[] = []
    const lease = await m.subscribeToEntity({ entityType: 'contact', entityId: '1', onInsert: (p) => inserts.push(p.new) })
    const ticks: unknown[] = []
    lease.on('broadcast', { event: 'tick' }, ({ payload }) => ticks.push(payload))
    const first = fake.joins[0]!
    first.push('postgres_changes', {
      ids: [7],
      data: { schema: 'public', table: 'contacts', type: 'INSERT', commit_timestamp: '2026-01-01T00:00:00Z', record: { id: '1' }, old_record: {}, columns: [], errors: null },
      [RESUME_KEY]: { position: 21, lsn: lsn(5) },
    })
    first.push('broadcast', { type: 'broadcast', event: 'tick', payload: { n: 1 }, meta: { [RESUME_KEY]: { position: 22, lsn: lsn(5) } } })
    first.push('broadcast', { type: 'broadcast', event: 'tick', payload: { n: 2 }, meta: { [RESUME_KEY]: { position: 23, lsn: lsn(6) } } })
    await waitFor(() => inserts.length === 1 && ticks.length === 2, 5000, 'change and broadcasts')
    expect(inserts).toEqual([{ id: '1' }])
    fake.dropAll()
    await waitFor(() => fake.joins.length === 2 && lease.status === 'connected', 5000, 'rejoined')
    expect(fake.joins[1]!.payload[RESUME_KEY]).toEqual({ session: fake.joins[0]!.payload[RESUME_KEY]!.session, resume: { epoch: 'e1', position: 23, lsn: lsn(6) } })
  })

  it('Resumed with lost: [broadcast] (a resume into a new epoch) raises a gap with that scope, and the new epoch restarts deduplication', async () => {
    fake.onJoin = (join) => {
      if (fake.joins.length === 1) {
        join.reply(speaks('e1'))
        join.push('system', liveStatus(ResumeCode.fresh, 'e1', 40, lsn(1)))
        join.push('broadcast', { type: 'broadcast', event: 'tick', payload: { n: 1 }, meta: { [RESUME_KEY]: { position: 41, lsn: lsn(2) } } })
        return
      }
      // The server restarted: epoch e2, positions start over; every change after lsn(2) replayed.
      join.reply(speaks('e2', true))
      join.push('system', liveStatus(ResumeCode.resumed, 'e2', 2, lsn(3), { replayed: 0, lost: ['broadcast'] }))
      join.push('broadcast', { type: 'broadcast', event: 'tick', payload: { n: 2 }, meta: { [RESUME_KEY]: { position: 3, lsn: lsn(3) } } })
    }
    const m = manager({ reconnect: { baseDelayMs: 10 } })
    const gaps: GapEvent[] = []
    const recoveries: GapEvent[] = []
    const managerGaps: GapEvent[] = []
    m.onGap((g) => managerGaps.push(g))
    const ticks: number[] = []
    const lease = m.acquireEntity({ entityType: 'doc', entityId: 'restart', changes: false, onGap: (g) => gaps.push(g), onRecover: (g) => recoveries.push(g) })
    lease.on<{ n: number }>('broadcast', { event: 'tick' }, (msg: BroadcastMessage<{ n: number }>) => ticks.push(msg.payload.n))
    await waitFor(() => ticks.length === 1, 5000, 'first tick')
    fake.dropAll()
    await waitFor(() => gaps.length === 1 && ticks.length === 2, 5000, 'scoped gap, then the new epoch tick')
    expect(fake.joins[1]!.payload[RESUME_KEY]?.resume).toEqual({ epoch: 'e1', position: 41, lsn: lsn(2) })
    expect(gaps[0]).toMatchObject({ resumed: false, lost: ['broadcast'], resume: { code: 'Resumed', replayed: 0 } })
    expect(recoveries).toEqual([])
    expect(managerGaps).toHaveLength(1)
    expect(m.getStats()).toMatchObject({ gaps: 1, recoveries: 0 })
    // Position 3 of epoch e2 is below 41 of e1 and still new: dedupe restarted with the epoch.
    expect(ticks).toEqual([1, 2])
    expect(m.getActiveChannels()[0]?.position).toBe(3)
  })

  it('a Gap status is a full gap (no lost scope); a plain Resumed is a recovery', async () => {
    fake.onJoin = (join) => {
      const n = fake.joins.length
      join.reply(speaks('e1', n > 1))
      if (n === 1) join.push('system', liveStatus(ResumeCode.fresh, 'e1', 1, lsn(1)))
      else if (n === 2) join.push('system', liveStatus(ResumeCode.gap, 'e1', 9, lsn(1), { reason: 'evicted' }))
      else join.push('system', liveStatus(ResumeCode.resumed, 'e1', 9, lsn(1), { replayed: 0 }))
    }
    const m = manager({ reconnect: { baseDelayMs: 10 } })
    const events: GapEvent[] = []
    const lease = await m.subscribeToEntity({ entityType: 'doc', entityId: 'gap', changes: false, onGap: (g) => events.push(g), onRecover: (g) => events.push(g) })
    fake.dropAll()
    await waitFor(() => events.length === 1, 5000, 'gap')
    fake.dropAll()
    await waitFor(() => events.length === 2, 5000, 'recovery')
    expect(events[0]).toMatchObject({ resumed: false, lost: undefined, resume: { code: 'Gap', reason: 'evicted' } })
    expect(events[1]).toMatchObject({ resumed: true, lost: undefined, resume: { code: 'Resumed', replayed: 0 } })
    expect(lease.status).toBe('connected')
  })
})
