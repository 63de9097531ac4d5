/**
 * Pattern filters on the linear-time engine: classic ReDoS patterns answer (timings are in
 * bench/cdc/filter-patterns.js, not asserted here), the bounds refuse what is too long or too
 * big, and what has no linear-time evaluation is refused with a reason. Agreement with
 * Postgres itself is pattern-equivalence.test.ts.
 */
import { describe, expect, test } from 'vitest'
import { translateLike, translatePostgresRegex } from '../../src/cdc/postgres-regex.js'
import { compileTextPattern, MAX_PATTERN_INSTRUCTIONS, MAX_PATTERN_LENGTH, type PatternOperator } from '../../src/cdc/text-pattern.js'

function compiled(op: PatternOperator, pattern: string) {
  const result = compileTextPattern(op, pattern)
  if (!result.ok) throw new Error(result.error)
  return result.pattern
}

describe('adversarial patterns answer (no backtracking)', () => {
  const cases: [PatternOperator, string, string, boolean][] = [
    ['match', '^(a+)+$', 'a'.repeat(30) + '!', false],
    ['match', '^(a+)+$', 'a'.repeat(100_000), true],
    ['match', '(a|aa)+$', 'a'.repeat(10_000) + '!', false],
    ['match', '^(a|a?)+$', 'a'.repeat(10_000) + '!', false],
    ['match', '(.*a){20}', 'a'.repeat(19) + 'b'.repeat(10_000), false],
    ['match', '^(\\w+\\s?)*$', 'word '.repeat(10_000) + '!', false],
    ['match', '(x+x+)+y', 'x'.repeat(10_000), false],
    ['imatch', '^([a-z]+)*[0-9]$', 'A'.repeat(10_000) + '!', false],
    ['like', '%a%a%a%a%a%a%a%a%b', 'a'.repeat(10_000), false],
    ['ilike', '%A%A%A%A%A%A%A%A%', 'a'.repeat(10_000), true],
  ]
  test.each(cases)('%s %s', (op, pattern, value, want) => {
    expect(compiled(op, pattern).test(value)).toBe(want)
  })
})

describe('bounds', () => {
  test(`a pattern of more than ${MAX_PATTERN_LENGTH} characters is refused`, () => {
    expect(compileTextPattern('match', 'a'.repeat(MAX_PATTERN_LENGTH)).ok).toBe(true)
    expect(compileTextPattern('like', 'é'.repeat(MAX_PATTERN_LENGTH)).ok).toBe(true) // characters, not bytes
    expect(compileTextPattern('match', 'a'.repeat(MAX_PATTERN_LENGTH + 1))).toEqual({ ok: false, error: `pattern for match is too long (513 > ${MAX_PATTERN_LENGTH} characters)` })
    expect(compileTextPattern('ilike', '%'.repeat(MAX_PATTERN_LENGTH + 1))).toMatchObject({ ok: false, error: expect.stringMatching(/^pattern for ilike is too long/) })
  })

  test(`a program of more than ${MAX_PATTERN_INSTRUCTIONS} instructions is refused`, () => {
    expect(compileTextPattern('match', '[a-z]{200}')).toMatchObject({ ok: true })
    expect(compileTextPattern('match', '[a-z]{255}'.repeat(5))).toEqual({ ok: false, error: expect.stringMatching(/^pattern for match is too complex \(\d+ > 1024 states/) })
    // RE2's own limit: nested counted repetition multiplying out past 1,000.
    expect(compileTextPattern('match', '(a{100}){19}')).toMatchObject({ ok: false, error: expect.stringMatching(/^unsupported regular expression: .*invalid repeat count/) })
  })
})

describe('refused: no linear-time evaluation', () => {
  test.each([
    ['(a)\\1', 'the back reference or octal escape \\1'],
    ['\\101', 'the back reference or octal escape \\1'],
    ['a(?=b)', 'a lookahead constraint (?= or (?!'],
    ['a(?!b)', 'a lookahead constraint (?= or (?!'],
    ['\\ycat\\y', 'the word-boundary constraint \\y'],
    ['\\mcat', 'the word-boundary constraint \\m'],
    ['[[:<:]]cat', 'the word-boundary constraint [[:<:]]'],
    ['[a\\D]', '\\D inside brackets'],
    ['(?b)a', 'the embedded option "b"'],
    ['[[.ab.]]', 'the collating element [.ab.]'],
  ])('%s', (pattern, what) => {
    expect(translatePostgresRegex(pattern, false)).toEqual({ ok: false, error: `unsupported regular expression: ${what} has no linear-time evaluation here` })
  })
})

describe('translation follows Postgres where the dialects differ', () => {
  const source = (pattern: string) => {
    const r = translatePostgresRegex(pattern, false)
    if (!r.ok) throw new Error(r.error)
    return r.value
  }
  test('ARE escapes', () => {
    expect(source('a\\bc').source).toBe('a\\x{8}c') // backspace, not a word boundary
    expect(source('\\B').source).toBe('\\\\') // backslash
    expect(source('\\Z').source).toBe('\\z')
    expect(source('x{').source).toBe('x\\{') // `{` not before a digit is a literal
    expect(source('(a|b)').source).toBe('(?:a|b)') // captures are never needed
  })
  test('directors and embedded options', () => {
    expect(source('***=a.b').source).toBe('a\\.b')
    expect(source('(?i)a')).toMatchObject({ source: 'a', caseInsensitive: true })
    expect(source('(?n)^a.')).toMatchObject({ dotAll: false, multiline: true })
    expect(source('(?x) a b # c').source).toBe('ab')
  })
  test('LIKE: anchored, `%` runs collapse, escapes', () => {
    expect(translateLike('a%%_\\%', false)).toMatchObject({ ok: true, value: { source: '\\Aa.*.\\%\\z' } })
    expect(translateLike('a\\', false)).toEqual({ ok: false, error: 'invalid LIKE pattern: LIKE pattern must not end with escape character' })
  })
})
