/**
 * Telling a check that raised for one auth context from a database that is unavailable, on
 * real errors from a real Postgres (postgres.js errors, as the authorizer sees them).
 */
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../../test-support/database.js'
import { freePort } from '../../../../test-support/free-port.js'
import { checkFailure, isDatabaseUnavailable } from '../../src/cdc/rls-check-failure.js'
import type { TableFacts } from '../../src/cdc/catalog.js'

let db: TestDatabase
let sql: postgres.Sql
beforeAll(async () => {
  db = await createTestDatabase('rlsfail')
  sql = postgres(db.url, { max: 2, onnotice: () => {} })
})
afterAll(async () => {
  await sql?.end()
  await db?.drop()
})

const errorOf = (run: () => Promise<unknown>) => run().then(() => { throw new Error('expected an error') }, (error: unknown) => error)

describe('a check that raised is the context\'s, not the database\'s', () => {
  test.each([
    ['division by zero', 'select 1 / 0'],
    ['a claim that is not a number', "select ('abc')::int"],
    ['a raised exception', "do $$ begin raise exception 'policy says no'; end $$"],
    ['a statement timeout', "set local statement_timeout = '10ms'; select pg_sleep(1)"],
    ['an undefined function in a policy', 'select no_such_function()'],
  ])('%s', async (_name, query) => {
    const error = await errorOf(() => sql.begin((tx) => tx.unsafe(query)))
    expect(isDatabaseUnavailable(error)).toBe(false)
  })
})

describe('an unavailable database fails the batch', () => {
  test('connection refused', async () => {
    const port = await freePort()
    const nowhere = postgres(`postgres://x:y@127.0.0.1:${port}/none`, { max: 1, connect_timeout: 2, onnotice: () => {} })
    const error = await errorOf(() => nowhere`select 1`)
    await nowhere.end()
    expect(isDatabaseUnavailable(error)).toBe(true)
  })
  test('the backend terminated mid-query (pg_terminate_backend)', async () => {
    const victim = postgres(db.url, { max: 1, onnotice: () => {}, connection: { application_name: 'rls_victim' } })
    await victim`select 1`
    const pending = errorOf(() => victim`select pg_sleep(5)`)
    await new Promise((r) => setTimeout(r, 100))
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'rls_victim'`
    const error = await pending
    await victim.end({ timeout: 1 })
    expect(['57P01', 'CONNECTION_CLOSED']).toContain((error as { code?: string }).code)
    expect(isDatabaseUnavailable(error)).toBe(true)
  })
  test('not a Postgres error at all', () => {
    expect(isDatabaseUnavailable(new Error('socket hang up'))).toBe(true)
    expect(isDatabaseUnavailable(Object.assign(new Error('closed'), { code: 'CONNECTION_CLOSED' }))).toBe(true)
  })
})

test('the message names the table and the Postgres error, nothing else', async () => {
  const error = await errorOf(() => sql`select ('abc')::int`)
  const table = { schema: 'public', table: 'ledger' } as TableFacts
  expect(checkFailure(table, error)).toEqual({
    table: 'public.ledger',
    code: '22P02',
    message: 'Row level security check on public.ledger failed for this token: invalid input syntax for type integer: "abc" (SQLSTATE 22P02). ' +
      'Changes are no longer delivered to this channel; rejoin it or refresh the token.',
  })
})
