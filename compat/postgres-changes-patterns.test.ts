/**
 * Pattern filters (`match`, `imatch`, `like`, `ilike`) through the real server and the official
 * client: they deliver what Postgres's `~`, `~*`, LIKE and ILIKE would select, an adversarial
 * row value against a ReDoS pattern does not stall delivery, and patterns the server cannot
 * evaluate safely are refused at join with a `system` error while the channel stays usable.
 */
import type postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startHarness, waitFor, type Harness } from './support/harness.js'
import { listen, tickBarrier, TICKS_SQL } from './support/pg-changes.js'

let h: Harness
let sql: postgres.Sql
beforeAll(async () => {
  h = await startHarness()
  sql = h.sql
  await sql.unsafe(`
    ${TICKS_SQL}
    create table notes (id int8 primary key, title text);
    alter publication supabase_realtime add table notes;
  `).simple()
})
afterAll(async () => { await h?.close() })

const service = () => h.client({ key: h.server.serviceRoleKey })

describe('pattern filters deliver what Postgres selects', () => {
  const TITLES = ['Alpha release', 'alpha', 'beta 2', 'Gamma\nray', 'a'.repeat(40) + '!', 'École', '50% off', 'x_y']
  const filters = ['title=match.^a', 'title=imatch.^a', 'title=match.^(a+)+!$', 'title=imatch.^(A+)+!$', 'title=match.\\d$', 'title=match."^(beta|x)"',
    'title=match.^Gamma.ray$', 'title=imatch.^école$', 'title=like.%\\%%', 'title=like.x\\_y', 'title=ilike.ALPHA%', 'title=not.ilike.%a%']

  test.each(filters)('%s', async (filter) => {
    const client = service()
    const l = await listen(client, [{ event: 'INSERT', table: 'notes', filter }])
    const barrier = await tickBarrier(client, sql)
    const base = 1_000 * (filters.indexOf(filter) + 1)
    await sql`insert into notes ${sql(TITLES.map((title, i) => ({ id: base + i, title })))}`
    await barrier.sync()
    // What Postgres itself selects with the same operator and pattern.
    const [, column, rest] = /^(\w+)=(.*)$/.exec(filter)!
    const negate = rest!.startsWith('not.')
    const [op, ...value] = rest!.replace(/^not\./, '').split('.')
    let pattern = value.join('.')
    if (pattern.startsWith('"')) pattern = pattern.slice(1, -1).replace(/\\(.)/g, '$1')
    const operator = { match: '~', imatch: '~*', like: 'like', ilike: 'ilike' }[op as 'match']
    const want = await sql.unsafe<{ id: string }[]>(
      `select id from notes where id >= $1 and id < $2 and ${negate ? 'not ' : ''}(${column} ${operator} $3) order by id`, [base, base + 1_000, pattern])
    expect(want.length, 'the case selects something').toBeGreaterThan(0)
    expect(l.changes.map((c) => c.new.id)).toEqual(want.map((r) => Number(r.id)))
  })
})

describe('patterns refused at join', () => {
  const cases: [string, string, RegExp | string][] = [
    ['longer than 512 characters', `title=match.${'a'.repeat(513)}`, 'Error parsing `filter` params: pattern for match is too long (513 > 512 characters)'],
    ['a LIKE pattern too', `title=ilike.${'%'.repeat(600)}`, 'Error parsing `filter` params: pattern for ilike is too long (600 > 512 characters)'],
    ['invalid for Postgres (its own message)', 'title=match.a**', 'Error parsing `filter` params: invalid regular expression: quantifier operand invalid'],
    ['a back reference', 'title=match.(a)\\1', /^Error parsing `filter` params: unsupported regular expression: the back reference or octal escape \\1/],
    ['a lookahead', 'title=imatch.a(?=b)', /^Error parsing `filter` params: unsupported regular expression: a lookahead constraint/],
  ]
  test.each(cases)('%s: system error, the channel stays healthy', async (_name, filter, message) => {
    const client = service()
    const bad = await listen(client, [{ event: '*', table: 'notes', filter }], { expect: 'error', config: { broadcast: { self: true } } })
    expect(bad.system[0]!.message).toEqual(typeof message === 'string' ? message : expect.stringMatching(message))
    expect(bad.system[0]!.extension).toBe('postgres_changes')
    // The channel still works (broadcast to itself) and the socket still gets other channels' changes.
    const good = await listen(client, [{ event: 'INSERT', table: 'notes' }])
    await bad.channel.send({ type: 'broadcast', event: 'ping', payload: { ok: true } })
    await waitFor(() => bad.broadcasts.length === 1, 5_000, 'broadcast on the refused channel')
    const id = 90_000 + cases.findIndex(([n]) => n === _name)
    await sql`insert into notes values (${id}, 'after refusal')`
    await waitFor(() => good.changes.some((c) => c.new.id === id), 5_000, 'change after the refusal')
    expect(bad.changes).toEqual([])
  })
})
