// @vitest-environment happy-dom
/**
 * Load then live (`useLiveQuery`) against a real server, in StrictMode: a list loaded while
 * 1,000 inserts and updates stream in ends equal to the table, with one load and no refetch per
 * event; the changes applied are exactly those committed at or after the load's position, each
 * once (checked against an independent subscriber that saw every change of the table).
 *
 * The loader reads as `LoadedRows.lsn` documents: repeatable read, `lock table … in share mode`,
 * then `pg_current_wal_insert_lsn()` and the rows in the same snapshot.
 */
import { cleanup, render, waitFor } from '@testing-library/react'
import postgres from 'postgres'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { parsePgLsn, parseStreamPoint, type PositionedChange } from '@switchboard/client'
import { applyLive, useLiveQuery, useRealtimeQuery, type LiveRows, type LoadedRows } from '@switchboard/react'
import { createHarness, sleep, testQueryClient, until, wrapper, type Harness } from './helpers.js'

type Row = { id: number; title: string; version: number }

let h: Harness
let writer: postgres.Sql
const SEED = 200

beforeAll(async () => {
  h = await createHarness()
  writer = postgres(h.db.url, { max: 1, onnotice: () => {} })
  await h.sql`create table rows (id int primary key, title text not null, version int not null default 0)`
  await h.sql`alter table rows replica identity full`
  await h.sql`alter publication supabase_realtime add table rows`
  await h.sql`insert into rows (id, title) select g, 'seed ' || g from generate_series(1, ${SEED}) g`
})
afterAll(async () => {
  await writer?.end()
  await h?.dispose()
})
afterEach(() => cleanup())

/** The demo API's way to load rows with their position (see `LoadedRows.lsn`). */
async function loadRows(): Promise<LoadedRows<Row>> {
  return h.sql.begin('isolation level repeatable read read only', async (tx) => {
    await tx`lock table rows in share mode`
    const [{ lsn }] = (await tx`select pg_current_wal_insert_lsn()::text as lsn`) as unknown as [{ lsn: string }]
    const rows = await tx<Row[]>`select id, title, version from rows order by id`
    return { rows: rows.map((r) => ({ ...r })), lsn }
  })
}

const byId = (a: Row, b: Row) => a.id - b.id

describe('useLiveQuery (load then live)', () => {
  it('a list loaded while 1,000 inserts and updates stream in ends equal to the table: one load, each change after the load applied once', async () => {
    // Every change of the table, seen by a subscriber that is live before the first write.
    const witness = h.manager()
    const all: PositionedChange[] = []
    await witness.subscribeToEntity({ entityType: 'witness', entityId: 'rows', table: 'rows', filter: null, onChange: (c) => void all.push(c) })

    let loads = 0
    const positions: string[] = []
    const applied: PositionedChange[] = []
    let batches = 0
    let renders = 0
    const queryClient = testQueryClient()
    function List() {
      renders++
      const rows = useLiveQuery<Row>({
        queryKey: ['rows'],
        queryFn: async () => {
          loads++
          const loaded = await loadRows()
          positions.push(loaded.lsn)
          return loaded
        },
        realtime: { table: 'rows' },
        onApply: (changes) => {
          batches++
          applied.push(...changes)
        },
      })
      return (
        <ul>
          {[...(rows.data ?? [])].sort(byId).map((row) => (
            <li key={row.id}>{`${row.id}:${row.title}:${row.version}`}</li>
          ))}
        </ul>
      )
    }

    // 500 inserts and 500 updates, one transaction each, streaming while the list mounts and loads.
    const CHANGES = 1000
    let written = 0
    const started = Date.now()
    let streamMs = 0
    const writing = (async () => {
      for (let i = 0; i < CHANGES; i++) {
        if (i % 2 === 0) await writer`insert into rows (id, title) values (${SEED + 1 + i / 2}, ${`new ${i}`})`
        else await writer`update rows set version = version + 1, title = ${`upd ${i}`} where id = ${1 + ((i * 37) % (SEED + Math.floor(i / 2)))}`
        written++
      }
      streamMs = Date.now() - started
    })()
    await until(() => written >= 100, 20_000, '100 changes written')
    const mountedAt = written
    const { container } = render(<List />, { wrapper: wrapper(h.manager(), queryClient) })
    await writing
    const table = (await h.sql<Row[]>`select id, title, version from rows order by id`).map((r) => `${r.id}:${r.title}:${r.version}`)
    const shown = () => [...container.querySelectorAll('li')].map((li) => li.textContent)
    await waitFor(() => expect(shown()).toEqual(table), { timeout: 30_000 })
    await sleep(300)
    expect(shown()).toEqual(table)

    // One load (StrictMode mounts twice; TanStack runs the loader once), no refetch per event.
    expect(loads).toBe(1)
    const x = parsePgLsn(positions[0]!)!
    const commit = (c: PositionedChange) => parseStreamPoint(c.switchboard!.lsn!)!.lsn
    const points = applied.map((c) => c.switchboard!.lsn!)
    expect(new Set(points).size).toBe(points.length) // nothing twice
    await until(() => all.length >= CHANGES, 20_000, 'the witness saw every change')
    const after = all.filter((c) => commit(c) >= x).map((c) => c.switchboard!.lsn!)
    expect(points).toEqual(after) // exactly the changes at or after the position, in order
    expect(after.length).toBeGreaterThan(0)
    expect(after.length).toBeLessThan(CHANGES) // the load saw some of the stream

    const requests = loads
    console.info(
      `[load-then-live] ${CHANGES} changes (mounted after ${mountedAt}); loader calls ${requests}; ` +
        `applied ${applied.length} (the other ${CHANGES - applied.length} were in the load) in ${batches} cache updates; ` +
        `renders ${renders} (StrictMode renders twice); the stream lasted ${streamMs} ms`,
    )
    await witness.destroy()
  }, 90_000)
})

describe('loaders without a position: refetch once on subscribe', () => {
  it("useRealtimeQuery with refetchOnSubscribe ends equal to the table while changes stream in, with two loads", async () => {
    await h.sql`create table notes (id int primary key, body text not null)`
    await h.sql`alter table notes replica identity full`
    await h.sql`alter publication supabase_realtime add table notes`
    let loads = 0
    const queryClient = testQueryClient()
    function Notes() {
      const notes = useRealtimeQuery({
        queryKey: ['notes'],
        queryFn: async () => (loads++, (await h.sql<{ id: number; body: string }[]>`select id, body from notes order by id`).map((r) => ({ ...r }))),
        realtime: { table: 'notes' },
        mode: 'patch',
        refetchOnSubscribe: true,
      })
      return <ul>{[...(notes.data ?? [])].sort((a, b) => a.id - b.id).map((n) => <li key={n.id}>{`${n.id}:${n.body}`}</li>)}</ul>
    }
    let written = 0
    const writing = (async () => {
      for (let i = 1; i <= 200; i++) {
        await writer`insert into notes values (${i}, ${`n${i}`})`
        if (i % 3 === 0) await writer`update notes set body = ${`u${i}`} where id = ${i - 1}`
        written++
      }
    })()
    await until(() => written >= 20, 20_000, 'first notes written')
    const { container } = render(<Notes />, { wrapper: wrapper(h.manager(), queryClient) })
    await writing
    const table = (await h.sql<{ id: number; body: string }[]>`select id, body from notes order by id`).map((r) => `${r.id}:${r.body}`)
    await waitFor(() => expect([...container.querySelectorAll('li')].map((li) => li.textContent)).toEqual(table), { timeout: 20_000 })
    expect(loads).toBe(2) // the first load, and one when the subscription went live
  }, 60_000)
})

describe('applyLive', () => {
  const lsnOf = (commit: number, index = 0) => `${commit.toString(16).toUpperCase().padStart(16, '0')}.${index.toString(16).toUpperCase().padStart(8, '0')}`
  const change = (id: number, commit: number, index = 0): PositionedChange =>
    ({ eventType: 'INSERT', schema: 'public', table: 'rows', commit_timestamp: '', errors: [], new: { id, title: 't', version: 0 }, old: {}, switchboard: { position: commit, lsn: lsnOf(commit, index) } }) as PositionedChange
  const data = (lsn: string): LiveRows<Row> => ({ rows: [{ id: 1, title: 't', version: 0 }], lsn, live: true })

  it('applies changes committed at or after the position, once; keeps the last point applied', () => {
    const loaded = data('0/100') // 0x100
    const { next, applied } = applyLive(loaded, [change(2, 0xff), change(3, 0x100), change(4, 0x101, 2)])
    expect(applied.map((c) => (c.new as Row).id)).toEqual([3, 4])
    const rows = next as LiveRows<Row>
    expect(rows.rows.map((r) => r.id)).toEqual([1, 3, 4])
    expect(rows.through).toBe(lsnOf(0x101, 2))
    // The same changes again (another hook on the query, a redelivery): nothing applied.
    const again = applyLive(rows, [change(3, 0x100), change(4, 0x101, 2)])
    expect(again.applied).toEqual([])
    expect(again.next).toBe(rows)
  })

  it('applies unmarked changes (a server without positions) as they come', () => {
    const unmarked = { ...change(5, 0), switchboard: undefined } as PositionedChange
    expect(applyLive(data('0/100'), [unmarked]).applied).toHaveLength(1)
  })
})
