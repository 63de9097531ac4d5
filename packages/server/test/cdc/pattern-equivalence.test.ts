/**
 * The pattern filters answer as Postgres does: every (pattern, value) of the tables below is
 * evaluated by Postgres itself (`value ~ pattern`, `~*`, `like`, `ilike`) on the test database
 * (C.UTF-8, Supabase's locale) and by compileTextPattern, and the answers must agree.
 */
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../../test-support/database.js'
import { compileTextPattern, type PatternOperator } from '../../src/cdc/text-pattern.js'

let db: TestDatabase
let sql: postgres.Sql
beforeAll(async () => {
  db = await createTestDatabase('regex')
  sql = postgres(db.url, { max: 1, onnotice: () => {} })
})
afterAll(async () => {
  await sql?.end()
  await db?.drop()
})

const WORDS = ['', 'a', 'abc', 'ABC', 'xabcx', 'aaa!', 'a\nb', 'b\na', 'a\tb', 'a b', 'a.b', 'a-b', 'a_b', 'a\\b', 'a\bb',
  '123', 'x9y', '{}', '[x]', '$5', 'é', 'École', 'ÉCOLE', 'Жук', 'жук', '中文', '😀', 'a😀b', 'ß', 'straße', 'ſ', '\u00a0', '\u2003x']

/** [pattern, extra values] — every pattern is also tried against WORDS. */
const REGEXES: [string, string[]][] = [
  ['abc', []], ['^abc$', []], ['^a', []], ['b$', []], ['a.b', []], ['a[^x]b', []], ['^b', []], ['a$', []],
  ['a|b', []], ['a||b', []], ['(a|)b', []], ['()', []], ['a*', []], ['a+b?', []], ['^(a+)+$', ['a'.repeat(30) + '!']],
  ['a{2}', ['aa']], ['a{2,}', ['aaa']], ['a{1,2}b', []], ['a{', ['a{']], ['a{x', ['a{x']], ['a{,2}', ['a{,2}']], ['x{0}y', ['y']],
  ['a*?b', []], ['(?:ab)+', ['abab']], ['[abc]', []], ['[^abc]', []], ['[a-c]+', []], ['[]a]', [']']], ['[^]a]', []], ['[a-]', ['-']],
  ['[\\\\]', []], ['[\\]]', [']']], ['[.]', []], ['[*+?{]', ['+']], ['[[:alpha:]]+', []], ['^[[:alpha:]]+$', []], ['[[:digit:]]', []],
  ['[[:alnum:]_]', []], ['[[:space:]]', []], ['[[:upper:]]', []], ['[[:lower:]]', []], ['[[:punct:]]', []], ['[[:xdigit:]]{2}', ['ff']],
  ['[[:blank:]]', []], ['[[:cntrl:]]', []], ['[^[:alpha:]]', []], ['[[.a.]]', []], ['[[=a=]]', []], ['[[.hyphen.]]', []],
  ['\\w+', []], ['^\\w+$', []], ['\\W', []], ['\\d', []], ['\\D', []], ['\\s', []], ['\\S', []], ['[\\d]', []], ['[a\\s]', []], ['[\\w-]', []],
  ['a\\b', []], ['a\\bb', []], ['\\B', []], ['\\t', []], ['\\n', []], ['a\\nb', []], ['\\x41', ['A']], ['\\u00e9', []], ['\\U0001F600', []],
  ['\\cI', []], ['\\e', ['\u001b']], ['\\.', []], ['\\$', []], ['\\{\\}', []], ['\\Aa', []], ['a\\Z', []], ['^$', []],
  ['***=a.', ['a.']], ['***:a.b', []], ['(?i)ABC', []], ['(?c)abc', []], ['(?q)a.b', []], ['(?x) a  b # comment', ['ab']],
  ['(?x)a\\ b', []], ['(?x)[ ]', []], ['(?n)^b', []], ['(?n)a$', []], ['(?n)a.b', []], ['(?n)a[^x]b', []], ['(?p)a.b', []], ['(?w)^b', []],
  ['(?s)a.b', []], ['(?<=a)b', []], ['(?<!a)b', []], ['(?<=[[:alpha:]]+)\\.', []], ['é', []], ['É', []], ['ÉCOLE', []], ['жук', []],
  ['Ж', []], ['ß', []], ['😀', []], ['a.b', ['a😀b']], ['^.$', ['😀']], ['[😀]', []], ['[à-ÿ]', []], ['\\$\\d+', []], ['^\\s*$', ['  ']],
  ['colou?r', ['color', 'colour']], ['^[A-Z][a-z]+$', ['Hello']], ['(foo|bar)baz', ['barbaz']], ['^(\\w+\\s?)*$', ['a '.repeat(50) + '!']],
  ['(.*a){12}', ['a'.repeat(12)]], ['(x+x+)+y', ['x'.repeat(50)]],
]

const LIKES: [string, string[]][] = [
  ['abc', []], ['a%', []], ['%b%', []], ['a_c', []], ['_', []], ['__', []], ['%', []], ['', []], ['a\\%', ['a%']], ['a\\_b', ['a_b']],
  ['a\\\\b', []], ['%.%', []], ['[x]', []], ['a%b%c', ['axbyc']], ['%a%a%a%a%a%a%b', ['a'.repeat(40)]], ['é%', []], ['É%', []],
  ['_😀_', []], ['%\n%', []], ['straße', []], ['STRASSE', []], ['$%', []],
]

async function postgresAnswers(operator: string, pattern: string, values: string[]): Promise<boolean[]> {
  const rows = await sql.unsafe<{ m: boolean }[]>(`select v ${operator} $1::text as m from unnest($2::text[]) with ordinality u(v, n) order by n`, [pattern, values])
  return rows.map((r) => r.m)
}

async function expectSameAnswers(op: PatternOperator, operator: string, cases: [string, string[]][]): Promise<number> {
  let checked = 0
  for (const [pattern, extra] of cases) {
    const values = [...WORDS, ...extra]
    const compiled = compileTextPattern(op, pattern)
    if (!compiled.ok) throw new Error(`${op} ${JSON.stringify(pattern)} refused: ${compiled.error}`)
    const want = await postgresAnswers(operator, pattern, values)
    const got = values.map((v) => compiled.pattern.test(v))
    const diff = values.flatMap((value, i) => (want[i] === got[i] ? [] : [{ value, postgres: want[i], ours: got[i] }]))
    expect(diff, `${op} ${JSON.stringify(pattern)}`).toEqual([])
    checked += values.length
  }
  return checked
}

describe('pattern filters agree with Postgres', () => {
  test('match (~)', async () => {
    expect(await expectSameAnswers('match', '~', REGEXES)).toBeGreaterThan(3_000)
  })
  test('imatch (~*)', async () => {
    expect(await expectSameAnswers('imatch', '~*', REGEXES)).toBeGreaterThan(3_000)
  })
  test('like', async () => {
    await expectSameAnswers('like', 'like', LIKES)
  })
  test('ilike', async () => {
    await expectSameAnswers('ilike', 'ilike', LIKES)
  })
})
