/**
 * Postgres Changes through subscribeToEntity, connected-means-live, and positions/resume
 * against a real server behind the TCP proxy: recovery after a drop and after a restart (by
 * stream point), a gap when the position fell out of the log, duplicates dropped,
 * `meta.switchboard` stripped.
 */
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BroadcastMessage, GapEvent } from '@switchboard/client'
import { createHarness, duplicatingTransport, sleep, waitFor, type Harness } from './helpers.js'

let h: Harness
let sql: postgres.Sql
beforeAll(async () => {
  h = await createHarness()
  sql = postgres(h.db.url, { max: 1, onnotice: () => {} })
  await sql`create table contacts (id text primary key, name text)`
  await sql`alter table contacts replica identity full`
  await sql`alter publication supabase_realtime add table contacts`
})
afterAll(async () => {
  h?.proxy.resume()
  await sql?.end()
  await h?.dispose()
})

const fast = { broadcastRateLimit: { perSecond: 10_000 } }

async function serviceManager() {
  return h.manager({ ...fast, accessToken: async () => h.server.serviceRoleKey })
}

describe('subscribeToEntity receives Postgres Changes', () => {
  it('onInsert / onUpdate / onDelete / onChange fire for the entity row only', async () => {
    const m = await serviceManager()
    const calls: string[] = []
    const changes: string[] = []
    const sub = await m.subscribeToEntity({
      entityType: 'contact',
      entityId: 'c-1',
      onInsert: (p) => calls.push(`insert:${String((p.new as { name?: string }).name)}`),
      onUpdate: (p) => calls.push(`update:${String((p.new as { name?: string }).name)}`),
      onDelete: (p) => calls.push(`delete:${String((p.old as { id?: string }).id)}`),
      onChange: (p) => changes.push(p.eventType),
    })
    // Connected means live: a row committed right now is delivered (no settling sleep).
    await sql`insert into contacts values ('c-1', 'Ada')`
    await sql`insert into contacts values ('c-2', 'Other')`
    await sql`update contacts set name = 'Ada L.' where id = 'c-1'`
    await sql`delete from contacts where id = 'c-1'`
    await waitFor(() => changes.length === 3, 10_000, 'three changes')
    await sleep(200)
    expect(calls).toEqual(['insert:Ada', 'update:Ada L.', 'delete:c-1'])
    expect(changes).toEqual(['INSERT', 'UPDATE', 'DELETE'])
    sub.release()
  })

  it('event: INSERT only gets inserts', async () => {
    const m = await serviceManager()
    const seen: string[] = []
    const sub = await m.subscribeToEntity({ entityType: 'contact', entityId: 'c-3', event: 'INSERT', onChange: (p) => seen.push(p.eventType) })
    await sql`insert into contacts values ('c-3', 'x')`
    await sql`update contacts set name = 'y' where id = 'c-3'`
    await waitFor(() => seen.length === 1, 10_000, 'insert')
    await sleep(300)
    expect(seen).toEqual(['INSERT'])
    sub.release()
  })
})

describe('connected means live', () => {
  it('1,000 trials of "subscribeToEntity, then insert as soon as it resolves": none lost', { timeout: 180_000 }, async () => {
    await sql`create table trials (id text primary key)`
    await sql`alter publication supabase_realtime add table trials`
    const m = await serviceManager()
    const lost: number[] = []
    const worker = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        let got = false
        const lease = await m.subscribeToEntity({ entityType: 'trial', entityId: String(i), table: 'trials', event: 'INSERT', onInsert: () => { got = true } })
        // The worst moment: the very first thing after the SDK says connected.
        await sql`insert into trials values (${String(i)})`
        await waitFor(() => got, 5_000, `trial ${i}`).catch(() => lost.push(i))
        lease.release()
      }
    }
    await Promise.all(Array.from({ length: 10 }, (_, w) => worker(w * 100, (w + 1) * 100)))
    expect(lost).toEqual([])
  })
})

describe('positions and resume', () => {
  it('broadcasts missed during a network drop are replayed exactly once, with a recovery (not a gap)', async () => {
    const receiver = h.manager({ ...fast })
    const sender = h.manager({ ...fast, url: `http://127.0.0.1:${h.server.port}` }) // not behind the proxy
    const got: number[] = []
    const metas: unknown[] = []
    const gaps: GapEvent[] = []
    const recoveries: GapEvent[] = []
    const sub = await receiver.subscribeToEntity({ entityType: 'room', entityId: 'r1', filter: null, table: 'contacts', onGap: (g) => gaps.push(g), onRecover: (g) => recoveries.push(g) })
    sub.on('broadcast', { event: 'tick' }, (m: BroadcastMessage<{ n: number }>) => {
      got.push(m.payload.n)
      metas.push(m.meta)
    })
    for (let n = 0; n < 5; n++) await sender.broadcast({ entityType: 'room', entityId: 'r1', event: 'tick', payload: { n } })
    await waitFor(() => got.length === 5, 5000, 'live ticks')
    h.proxy.refuse()
    h.proxy.dropAll()
    await waitFor(() => sub.status === 'reconnecting', 5000, 'noticed the drop')
    for (let n = 5; n < 15; n++) await sender.broadcast({ entityType: 'room', entityId: 'r1', event: 'tick', payload: { n } })
    h.proxy.resume()
    await waitFor(() => recoveries.length === 1, 10_000, 'recovery')
    for (let n = 15; n < 20; n++) await sender.broadcast({ entityType: 'room', entityId: 'r1', event: 'tick', payload: { n } })
    await waitFor(() => got.length >= 20, 5000, 'all ticks')
    await sleep(200)
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i))
    expect(gaps).toEqual([])
    expect(recoveries[0]).toMatchObject({ resumed: true, resume: { code: 'Resumed', replayed: 10 } })
    expect(metas.every((meta) => meta === undefined || !('switchboard' in (meta as object)))).toBe(true)
    expect(receiver.getStats()).toMatchObject({ gaps: 0, recoveries: 1 })
  })

  it('Postgres changes committed during a drop arrive on resume, in order, once', async () => {
    // The proxy refuses connections while the inserts run, which under a loaded test run can
    // outlast the harness's 5-attempt policy: give this client room to keep retrying.
    const m = h.manager({ ...fast, accessToken: async () => h.server.serviceRoleKey, reconnect: { baseDelayMs: 100, maxDelayMs: 500, maxAttempts: 50 } })
    const ids: string[] = []
    const recoveries: GapEvent[] = []
    const sub = await m.subscribeToEntity({ entityType: 'contact', entityId: 'any', filter: 'name=eq.resume', event: 'INSERT', maxReconnectAttempts: 50, onInsert: (p) => ids.push((p.new as { id: string }).id), onRecover: (g) => recoveries.push(g) })
    await sql`insert into contacts values ('p-0', 'resume')`
    await waitFor(() => ids.length === 1, 10_000, 'live insert')
    h.proxy.refuse()
    h.proxy.dropAll()
    await waitFor(() => sub.status === 'reconnecting', 5000, 'noticed the drop')
    for (let i = 1; i <= 5; i++) await sql`insert into contacts values (${`p-${i}`}, 'resume')`
    await sleep(500) // let them reach the replay log
    h.proxy.resume()
    await waitFor(() => recoveries.length === 1, 15_000, 'recovery').catch((error: Error) => {
      throw new Error(`${error.message}: status=${sub.status} lastError=${String(sub.lastError)}`)
    })
    await sql`insert into contacts values ('p-6', 'resume')`
    await waitFor(() => ids.length === 7, 10_000, 'all inserts')
    await sleep(200)
    expect(ids).toEqual(['p-0', 'p-1', 'p-2', 'p-3', 'p-4', 'p-5', 'p-6'])
  })

  it('duplicate deliveries are dropped before handlers run', async () => {
    let duplicated = 0
    const dup = (d: unknown) => {
      const yes = typeof d !== 'string' || d.includes('"postgres_changes"') || (d.includes('"broadcast"') && !d.includes('phx_reply'))
      if (yes) duplicated++
      return yes
    }
    const m = h.manager({ ...fast, transport: duplicatingTransport(dup), accessToken: async () => h.server.serviceRoleKey })
    const sender = h.manager({ ...fast, url: `http://127.0.0.1:${h.server.port}` })
    const got: number[] = []
    const pg: string[] = []
    const sub = await m.subscribeToEntity({ entityType: 'dup', entityId: '1', table: 'contacts', filter: 'name=eq.dup', onInsert: (p) => pg.push((p.new as { id: string }).id) })
    sub.on('broadcast', { event: '*' }, (msg: BroadcastMessage<{ n: number }>) => got.push(msg.payload.n))
    for (let n = 0; n < 5; n++) await sender.broadcast({ entityType: 'dup', entityId: '1', event: 'tick', payload: { n } })
    await sql`insert into contacts values ('d-1', 'dup'), ('d-2', 'dup')`
    await waitFor(() => got.length >= 5 && pg.length >= 2, 10_000, 'ticks and inserts')
    await sleep(300)
    expect(duplicated).toBeGreaterThanOrEqual(7)
    expect(got).toEqual([0, 1, 2, 3, 4])
    expect(pg).toEqual(['d-1', 'd-2'])
  })

  it('without positions (a server that does not speak them, like hosted Supabase) every return is a gap', async () => {
    const m = h.manager({ positions: false })
    const gaps: GapEvent[] = []
    const sub = await m.subscribeToEntity({ entityType: 'plain', entityId: '1', onGap: (g) => gaps.push(g) })
    h.proxy.dropAll()
    await waitFor(() => gaps.length === 1, 10_000, 'gap')
    expect(sub.status).toBe('connected')
    expect(gaps[0]).toMatchObject({ resumed: false, resume: undefined })
  })

  it('after a server restart (new epoch) the client resumes by stream point: a recovery, no gap, then every later message once', async () => {
    const m = h.manager({ ...fast, reconnect: { baseDelayMs: 100, maxDelayMs: 1000, maxAttempts: 30 } })
    const gaps: GapEvent[] = []
    const recoveries: GapEvent[] = []
    const got: number[] = []
    const sub = await m.subscribeToEntity({ entityType: 'epoch', entityId: '1', maxReconnectAttempts: 30, onGap: (g) => gaps.push(g), onRecover: (g) => recoveries.push(g) })
    sub.on('broadcast', { event: 'tick' }, (msg: BroadcastMessage<{ n: number }>) => got.push(msg.payload.n))
    await h.restart({ downMs: 200 })
    await waitFor(() => recoveries.length === 1, 15_000, 'recovery after restart')
    // The topic had no ephemeral broadcast before the restart: nothing could be lost.
    expect(gaps).toEqual([])
    expect(recoveries[0]).toMatchObject({ resumed: true, resume: { code: 'Resumed' } })
    const sender = h.manager({ ...fast, url: `http://127.0.0.1:${h.server.port}` })
    for (let n = 0; n < 5; n++) await sender.broadcast({ entityType: 'epoch', entityId: '1', event: 'tick', payload: { n } })
    await waitFor(() => got.length >= 5, 5000, 'ticks after restart')
    await sleep(200)
    expect(got).toEqual([0, 1, 2, 3, 4])
  })
})

describe('after a server restart', () => {
  it('a row committed as soon as every channel reports connected again arrives', { timeout: 60_000 }, async () => {
    const m = await serviceManager()
    const got: string[] = []
    const leases = await Promise.all(Array.from({ length: 20 }, (_, i) => m.subscribeToEntity({ entityType: 'contact', entityId: `r-${i}`, table: 'contacts', onChange: (p) => got.push(`${p.eventType}:${(p.new as { id?: string }).id}`) })))
    await h.restart({ downMs: 100 })
    await waitFor(() => leases.every((l) => l.status === 'reconnecting' || l.status === 'connecting'), 10_000, 'the break').catch(() => undefined)
    await waitFor(() => leases.every((l) => l.status === 'connected'), 20_000, 'all connected again')
    // The worst moment: right after the last channel says connected.
    await sql`insert into contacts select 'r-' || i, 'after restart' from generate_series(0, 19) i`
    await waitFor(() => got.length === 20, 10_000, 'inserts after the restart')
    expect(got.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `INSERT:r-${i}`).sort())
    for (const l of leases) l.release()
  })
})

describe('a position older than the replay buffer', () => {
  let small: Harness
  beforeAll(async () => {
    small = await createHarness({ replay: { maxMessages: 20 } })
  })
  afterAll(async () => {
    small?.proxy.resume()
    await small?.dispose()
  })

  it('gets the gap code, not a partial replay', async () => {
    const m = small.manager({ ...fast })
    const sender = small.manager({ ...fast, url: `http://127.0.0.1:${small.server.port}` })
    const got: number[] = []
    const gaps: GapEvent[] = []
    const sub = await m.subscribeToEntity({ entityType: 'old', entityId: '1', onGap: (g) => gaps.push(g) })
    sub.on('broadcast', { event: 'tick' }, (msg: BroadcastMessage<{ n: number }>) => got.push(msg.payload.n))
    await sender.broadcast({ entityType: 'old', entityId: '1', event: 'tick', payload: { n: 0 } })
    await waitFor(() => got.length === 1, 5000, 'first tick')
    small.proxy.refuse()
    small.proxy.dropAll()
    await waitFor(() => sub.status === 'reconnecting', 5000, 'noticed the drop')
    for (let n = 1; n <= 40; n++) await sender.broadcast({ entityType: 'old', entityId: '1', event: 'tick', payload: { n } })
    small.proxy.resume()
    await waitFor(() => gaps.length === 1, 10_000, 'gap')
    expect(gaps[0]).toMatchObject({ resumed: false, resume: { code: 'Gap', reason: 'evicted' } })
    await sleep(300)
    expect(got).toEqual([0]) // none of the partial history
    await sender.broadcast({ entityType: 'old', entityId: '1', event: 'tick', payload: { n: 41 } })
    await waitFor(() => got.length === 2, 5000, 'live after the gap')
    expect(got).toEqual([0, 41])
  })
})
