/**
 * A transaction in flight is bounded (limits.maxTransactionChanges / maxTransactionBytes),
 * through the real server and the official client: the changes within the bounds arrive as
 * rows, the rest as one Supabase `Error 413: Payload Too Large` payload per table and change
 * type to every binding of that table (filters cannot be evaluated on rows that were not
 * kept), the server's counters show that it never held more than the bounds, and ordinary
 * transactions before and after are unaffected. The bounds are lowered for the test.
 */
import type postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { metricsText, sample } from './support/checks.js'
import { startHarness, type Harness } from './support/harness.js'
import { listen, tickBarrier, TICKS_SQL, type ClientChange } from './support/pg-changes.js'

const MAX_CHANGES = 50
const MAX_BYTES = 256 * 1024
const ERROR_413 = 'Error 413: Payload Too Large'

let h: Harness
let sql: postgres.Sql
beforeAll(async () => {
  h = await startHarness({ limits: { maxTransactionChanges: MAX_CHANGES, maxTransactionBytes: MAX_BYTES } })
  sql = h.sql
  await sql.unsafe(`
    ${TICKS_SQL}
    create table bulk (id int8 primary key, label text, body text);
    create table other (id int8 primary key);
    create table secret (id int8 primary key, owner text);
    alter table secret enable row level security;
    create policy "own rows" on secret for select to authenticated using (owner = auth.jwt() ->> 'sub');
    revoke all on secret from anon;
    grant select on secret to authenticated;
    alter publication supabase_realtime add table bulk, other, secret;
  `).simple()
})
afterAll(async () => { await h?.close() })

const service = () => h.client({ key: h.server.serviceRoleKey })
const rows = (changes: ClientChange[]) => changes.filter((c) => c.errors === null)
const errors = (changes: ClientChange[]) => changes.filter((c) => c.errors !== null).map((c) => ({ table: c.table, type: c.eventType, errors: c.errors, new: c.new, old: c.old }))

async function overBounds() {
  const text = await metricsText(h)
  return {
    transactions: sample(text, 'switchboard_cdc_transactions_over_bounds_total'),
    changes: sample(text, 'switchboard_cdc_changes_over_bounds_total'),
    heldChanges: sample(text, 'switchboard_cdc_largest_held_transaction_changes'),
    heldBytes: sample(text, 'switchboard_cdc_largest_held_transaction_bytes'),
  }
}

describe('a transaction over its bounds', () => {
  test('by changes: the first rows arrive, the rest as one 413 per table and type, to filtered bindings too', async () => {
    const client = service()
    const all = await listen(client, [{ event: '*', table: 'bulk' }])
    const one = await listen(client, [{ event: '*', table: 'bulk', filter: 'id=eq.3' }])
    const late = await listen(client, [{ event: 'UPDATE', table: 'bulk', filter: 'label=eq.never' }])
    const others = await listen(client, [{ event: '*', table: 'other' }])
    const barrier = await tickBarrier(client, sql)
    const before = await overBounds()

    await sql`insert into bulk values (0, 'before', '')` // an ordinary transaction first
    await sql.begin(async (tx) => {
      await tx`insert into bulk select g, 'bulk', repeat('x', 10) from generate_series(1, 200) g`
      await tx`insert into other values (1)` // the 201st change: beyond the bound
      await tx`update bulk set label = 'moved' where id between 1 and 100`
    })
    await sql`insert into bulk values (1000, 'after', '')`
    await barrier.sync()

    // 1 + the first 50 inserts as rows, then INSERT and UPDATE 413s, then the next transaction.
    expect(rows(all.changes).map((c) => c.new.id)).toEqual([0, ...Array.from({ length: MAX_CHANGES }, (_, i) => i + 1), 1000])
    const error413 = (type: string) => ({ table: 'bulk', type, errors: [ERROR_413], new: {}, old: {} })
    expect(errors(all.changes)).toEqual([error413('INSERT'), error413('UPDATE')])
    expect(all.changes.at(-1)!.new.id).toBe(1000) // in order: the 413s belong to their transaction
    expect(all.changes.at(-2)!.errors).toEqual([ERROR_413])
    // The filtered binding: its row (kept), and the 413s (it cannot be told whether it missed rows).
    expect(rows(one.changes).map((c) => c.new.id)).toEqual([3])
    expect(errors(one.changes)).toEqual([error413('INSERT'), error413('UPDATE')])
    expect(errors(late.changes)).toEqual([error413('UPDATE')]) // its event only
    expect(errors(others.changes)).toEqual([{ table: 'other', type: 'INSERT', errors: [ERROR_413], new: {}, old: {} }])
    expect(all.changes.find((c) => c.errors !== null)!.commit_timestamp).toBe(all.changes.find((c) => c.new.id === 1)!.commit_timestamp)

    const after = await overBounds()
    expect(after.transactions - before.transactions).toBe(1)
    expect(after.changes - before.changes).toBe(200 + 1 + 100 - MAX_CHANGES)
    expect(after.heldChanges).toBe(MAX_CHANGES) // memory: never more changes held than the bound
  })

  test('by bytes: large rows past maxTransactionBytes arrive as one 413; the held bytes stay under the bound', async () => {
    const client = service()
    const all = await listen(client, [{ event: 'INSERT', table: 'bulk' }])
    const barrier = await tickBarrier(client, sql)
    const big = 'y'.repeat(100 * 1024)
    await sql.begin(async (tx) => {
      for (let i = 0; i < 10; i++) await tx`insert into bulk values (${2_000 + i}, 'big', ${big})`
    })
    await barrier.sync()
    // 100 KiB rows under a 256 KiB bound: two are kept, eight are counted.
    expect(rows(all.changes).map((c) => c.new.id)).toEqual([2_000, 2_001])
    expect(rows(all.changes)[0]!.new.body).toBe(big)
    expect(errors(all.changes)).toEqual([{ table: 'bulk', type: 'INSERT', errors: [ERROR_413], new: {}, old: {} }])
    const after = await overBounds()
    expect(after.heldBytes).toBeGreaterThan(2 * 100 * 1024)
    expect(after.heldBytes).toBeLessThanOrEqual(MAX_BYTES)
  })

  test('under RLS: a role that may read the table gets the 413 (no row is shown); a role that may not, no 413', async () => {
    const reader = h.client({ key: await h.token({ role: 'authenticated', sub: 'alice' }) })
    const stranger = h.client({ key: h.server.anonKey })
    const alice = await listen(reader, [{ event: 'INSERT', table: 'secret' }])
    const anon = await listen(stranger, [{ event: 'INSERT', table: 'secret' }])
    const aliceBarrier = await tickBarrier(reader, sql)
    const anonBarrier = await tickBarrier(stranger, sql)
    await sql`insert into secret select g, case when g % 2 = 0 then 'alice' else 'bob' end from generate_series(1, ${MAX_CHANGES + 20}) g`
    await aliceBarrier.sync()
    await anonBarrier.sync()
    // Alice's kept rows pass her policy; the rest is one 413 without values.
    expect(rows(alice.changes).map((c) => c.new.id)).toEqual(Array.from({ length: MAX_CHANGES / 2 }, (_, i) => 2 * (i + 1)))
    expect(errors(alice.changes)).toEqual([{ table: 'secret', type: 'INSERT', errors: [ERROR_413], new: {}, old: {} }])
    // anon may not select the table: Supabase's 401 for each kept row, and no 413 for the rest.
    expect(anon.changes.map((c) => c.errors)).toEqual(Array(MAX_CHANGES).fill(['Error 401: Unauthorized']))
  })

  test('transactions within the bounds are unaffected', async () => {
    const client = service()
    const all = await listen(client, [{ event: '*', table: 'bulk' }])
    const barrier = await tickBarrier(client, sql)
    const before = await overBounds()
    await sql.begin(async (tx) => {
      await tx`insert into bulk select g, 'fits', '' from generate_series(3000, 3000 + ${MAX_CHANGES - 2}) g`
      await tx`delete from bulk where id = 3000`
    })
    await barrier.sync()
    expect(all.changes.map((c) => c.eventType)).toEqual([...Array(MAX_CHANGES - 1).fill('INSERT'), 'DELETE'])
    expect(all.changes.every((c) => c.errors === null)).toBe(true)
    expect((await overBounds()).transactions).toBe(before.transactions)
  })
})
