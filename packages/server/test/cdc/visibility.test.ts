/**
 * The RLS check must not run before the streamed transaction is visible to other sessions:
 * Postgres streams a commit as soon as its WAL is flushed, a moment before its rows are
 * visible, and a check in that window would drop the change for everyone.
 */
import postgres from 'postgres'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../../test-support/database.js'
import { Catalog } from '../../src/cdc/catalog.js'
import { Change, type RelationInfo } from '../../src/cdc/change.js'
import { RlsAuthorizer } from '../../src/cdc/rls-authorizer.js'
import { systemClock } from '../../src/clock.js'
import { migrate } from '../../src/db/migrations.js'
import { silentLogger } from '../../src/logger.js'
import { user } from './cdc-harness.js'

let db: TestDatabase
let sql: postgres.Sql
beforeAll(async () => {
  db = await createTestDatabase('vis')
  sql = postgres(db.url, { max: 4, onnotice: () => {} })
  await migrate(sql, silentLogger)
  await sql.unsafe(`
    create table public.items (id int primary key, tenant_id text not null);
    alter table public.items enable row level security;
    create policy "own tenant" on public.items for select to authenticated using (tenant_id = (auth.jwt() ->> 'tenant_id'));
    grant select on public.items to authenticated;`)
})
afterAll(async () => {
  await sql?.end()
  await db?.drop()
})

const relation: RelationInfo = {
  id: 1, schema: 'public', table: 'items', replicaIdentity: 'd',
  columns: [
    { name: 'id', isKey: true, type: { oid: 23, name: 'int4', kind: 'number', element: null, delimiter: ',' } },
    { name: 'tenant_id', isKey: false, type: { oid: 25, name: 'text', kind: 'text', element: null, delimiter: ',' } },
  ],
  columnIndex: new Map([['id', 0], ['tenant_id', 1]]),
}

it('waits for a streamed transaction to become visible before checking its rows', async () => {
  const catalog = new Catalog(sql, systemClock)
  const table = (await catalog.table('public', 'items'))!
  const authorizer = new RlsAuthorizer(sql, silentLogger)
  const writer = await sql.reserve()
  try {
    await writer`begin`
    await writer`insert into public.items values (1, 't1')`
    const [current] = await writer<{ xid: string }[]>`select (pg_current_xact_id()::text::int8 % 4294967296)::text as xid`
    const change = new Change(relation, 'INSERT', ['1', 't1'], null, null, 'ts', { lsn: 1n, index: 0, seq: 0 }, 10, Number(current?.xid))
    // The check starts while the transaction is still in flight, as it can when the stream
    // delivers a commit before the proc array lets other sessions see it.
    const checking = authorizer.authorize([{ context: user('u1', { tenant_id: 't1' }), table, current: [change], old: [] }])
    await new Promise((resolve) => setTimeout(resolve, 60))
    await writer`commit`
    const results = await checking
    expect([...results.values()][0]!.current.has(change)).toBe(true)
  } finally {
    writer.release()
  }
})
