/**
 * Resume after a break, at the protocol level (raw sockets): positions on every message of a
 * channel that asks for them, replay of exactly what it missed, and an explicit gap when the
 * history is gone. Clients that do not ask see Supabase's payloads unchanged.
 */
import type postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startHarness, type Harness } from './support/harness.js'
import { joinPayload, RawSocket, userBroadcastPush, type Frame } from './support/raw-socket.js'

let h: Harness
let sql: postgres.Sql
beforeAll(async () => {
  h = await startHarness({ replay: { maxMessages: 50 } })
  sql = h.sql
  await sql`create table items (id bigint primary key, label text)`
  await sql`alter publication supabase_realtime add table items`
})
afterAll(async () => {
  await h?.close()
})

const isSystem = (code: string) => (f: Frame) => f.event === 'system' && (f.payload as { code?: string }).code === code
const positionOf = (f: Frame): number => {
  const p = f.payload as { meta?: { switchboard?: { position: number } }; switchboard?: { position: number } }
  return (p.meta?.switchboard ?? p.switchboard)!.position
}

async function joinWithPositions(topic: string, resume: { epoch: string; position: number } | null, config: Record<string, unknown> = {}) {
  const socket = await RawSocket.connect(h.server.url, h.server.serviceRoleKey)
  const payload = { ...joinPayload(config), switchboard: { session: `session-${topic}`, resume } }
  const { joinRef, reply } = await socket.join(`realtime:${topic}`, payload)
  expect((reply.payload as { status: string }).status).toBe('ok')
  return { socket, joinRef }
}

async function sendBroadcasts(topic: string, count: number, from = 0): Promise<void> {
  const sender = await RawSocket.connect(h.server.url, h.server.serviceRoleKey)
  const { joinRef } = await sender.join(`realtime:${topic}`)
  for (let i = from; i < from + count; i++) sender.sendBinary(userBroadcastPush(joinRef, sender.makeRef(), `realtime:${topic}`, 'tick', { n: i }))
  await sender.heartbeat()
  sender.close()
}

describe('positions', () => {
  test('a channel that asks gets its epoch and start, then increasing positions on every broadcast', async () => {
    const { socket } = await joinWithPositions('pos-1', null)
    const fresh = await socket.next(isSystem('Fresh'))
    expect(fresh.payload).toMatchObject({ extension: 'switchboard', status: 'ok', epoch: expect.any(String), position: expect.any(Number) })
    await sendBroadcasts('pos-1', 3)
    const ticks = [await socket.next((f) => f.event === 'broadcast'), await socket.next((f) => f.event === 'broadcast'), await socket.next((f) => f.event === 'broadcast')]
    const positions = ticks.map(positionOf)
    expect(positions[0]).toBeGreaterThan((fresh.payload as { position: number }).position)
    expect(positions).toEqual([...positions].sort((a, b) => a - b))
    expect(new Set(positions).size).toBe(3)
    socket.close()
  })

  test('a channel that does not ask sees the payload exactly as Supabase sends it', async () => {
    const socket = await RawSocket.connect(h.server.url, h.server.serviceRoleKey)
    await socket.join('realtime:plain')
    await sendBroadcasts('plain', 1)
    const frame = await socket.next((f) => f.event === 'broadcast')
    expect(frame.payload).toEqual({ type: 'broadcast', event: 'tick', payload: { n: 0 } })
    expect(socket.all((f) => f.event === 'system')).toEqual([])
    socket.close()
  })
})

describe('resume', () => {
  test('replays exactly the broadcasts missed, in order, then says Resumed, then live ones follow', async () => {
    const first = await joinWithPositions('resume-1', null)
    const fresh = (await first.socket.next(isSystem('Fresh'))).payload as { epoch: string; position: number }
    await sendBroadcasts('resume-1', 2)
    const seen = [await first.socket.next((f) => f.event === 'broadcast'), await first.socket.next((f) => f.event === 'broadcast')]
    const last = positionOf(seen[1]!)
    first.socket.close() // the break

    await sendBroadcasts('resume-1', 5, 2)
    const again = await joinWithPositions('resume-1', { epoch: fresh.epoch, position: last })
    const resumed = await again.socket.next(isSystem('Resumed'))
    const replayed = again.socket.all((f) => f.event === 'broadcast')
    expect(replayed.map((f) => (f.payload as { payload: { n: number } }).payload.n)).toEqual([2, 3, 4, 5, 6])
    expect((resumed.payload as { replayed: number }).replayed).toBe(5)
    expect(again.socket.frames.indexOf(resumed)).toBeGreaterThan(again.socket.frames.indexOf(replayed[4]!))

    await sendBroadcasts('resume-1', 1, 7)
    const live = await again.socket.next((f) => f.event === 'broadcast' && (f.payload as { payload: { n: number } }).payload.n === 7)
    expect(positionOf(live)).toBeGreaterThan((resumed.payload as { position: number }).position)
    again.socket.close()
  })

  test('replays missed Postgres changes through the channel bindings, in order with broadcasts', async () => {
    const bindings = { postgres_changes: [{ event: 'INSERT', schema: 'public', table: 'items', filter: 'label=eq.keep' }] }
    const first = await joinWithPositions('resume-pg', null, bindings)
    const fresh = (await first.socket.next(isSystem('Fresh'))).payload as { epoch: string; position: number }
    await first.socket.next((f) => f.event === 'system' && (f.payload as { message?: string }).message === 'Subscribed to PostgreSQL')
    first.socket.close()

    await sql`insert into items values (1, 'keep'), (2, 'drop')`
    await sql`insert into items values (3, 'keep')`
    await sendBroadcasts('resume-pg', 1, 100)
    // Wait until the changes went through the replication stream (the log has them).
    const probe = await joinWithPositions('resume-probe', null, { postgres_changes: [{ event: 'INSERT', schema: 'public', table: 'items' }] })
    await probe.socket.next((f) => f.event === 'system' && (f.payload as { message?: string }).message === 'Subscribed to PostgreSQL')
    await sql`insert into items values (4, 'marker')`
    await probe.socket.next((f) => f.event === 'postgres_changes', 10_000)
    probe.socket.close()

    const again = await joinWithPositions('resume-pg', { epoch: fresh.epoch, position: fresh.position }, bindings)
    await again.socket.next(isSystem('Resumed'), 10_000)
    const replayed = again.socket.all((f) => f.event === 'postgres_changes' || f.event === 'broadcast')
    const labels = replayed.map((f) => (f.event === 'broadcast' ? 'tick' : (f.payload as { data: { record: { id: number } } }).data.record.id))
    // Changes keep commit order; the broadcast sits wherever it was delivered live (positions
    // follow delivery order across kinds, not commit order).
    expect(labels.filter((l) => l !== 'tick')).toEqual([1, 3])
    expect(labels).toContain('tick')
    const positions = replayed.map(positionOf)
    expect(positions).toEqual([...positions].sort((a, b) => a - b))
    again.socket.close()
  })

  test('a self:false channel is not replayed its own broadcasts', async () => {
    const topic = 'resume-self'
    const me = await joinWithPositions(topic, null)
    const fresh = (await me.socket.next(isSystem('Fresh'))).payload as { epoch: string; position: number }
    me.socket.sendBinary(userBroadcastPush(me.joinRef, me.socket.makeRef(), `realtime:${topic}`, 'tick', { mine: true }))
    await me.socket.heartbeat()
    me.socket.close()
    await sendBroadcasts(topic, 1)
    const again = await joinWithPositions(topic, { epoch: fresh.epoch, position: fresh.position })
    await again.socket.next(isSystem('Resumed'))
    expect(again.socket.all((f) => f.event === 'broadcast').map((f) => (f.payload as { payload: unknown }).payload)).toEqual([{ n: 0 }])
    again.socket.close()
  })

  test('another epoch gets an explicit Gap, not a replay', async () => {
    const { socket } = await joinWithPositions('gap-epoch', { epoch: 'not-this-server', position: 1 })
    const gap = await socket.next(isSystem('Gap'))
    expect(gap.payload).toMatchObject({ extension: 'switchboard', status: 'error', reason: 'epoch', position: expect.any(Number) })
    socket.close()
  })

  test('a position older than the buffer gets Gap, and none of the partial history', async () => {
    const first = await joinWithPositions('gap-old', null)
    const fresh = (await first.socket.next(isSystem('Fresh'))).payload as { epoch: string; position: number }
    first.socket.close()
    await sendBroadcasts('gap-old', 80) // the harness keeps 50 messages
    const again = await joinWithPositions('gap-old', { epoch: fresh.epoch, position: fresh.position })
    const gap = await again.socket.next(isSystem('Gap'))
    expect(gap.payload).toMatchObject({ reason: 'evicted' })
    await again.socket.heartbeat()
    expect(again.socket.all((f) => f.event === 'broadcast')).toEqual([])
    again.socket.close()
  })
})
