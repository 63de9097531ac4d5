#!/usr/bin/env node
/**
 * Pattern filters (`match`/`imatch`/`like`/`ilike`) on the change path: what one evaluation
 * costs with the engine the server uses (re2js, via `compileTextPattern`), with JS RegExp (what
 * the server used before) and with Postgres (`select $1 ~ $2`, one round trip per evaluation).
 *
 *   npm run build && node bench/cdc/filter-patterns.js
 *
 * Prints a table; numbers are medians of repeated runs on one core. JS RegExp on the ReDoS
 * patterns is measured at small sizes only (it doubles per extra character) and the time at
 * the test's size is extrapolated, marked `~`.
 */
import postgres from 'postgres'
import { compileTextPattern } from '../../packages/server/dist/cdc/text-pattern.js'
import { startPostgres } from '../lib/postgres.js'

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** Median ms of `fn()` over runs that together take about `budgetMs` (at least 3 runs). */
function time(fn, budgetMs = 200) {
  const samples = []
  const start = performance.now()
  while (samples.length < 3 || (performance.now() - start < budgetMs && samples.length < 10_000)) {
    const t = performance.now()
    fn()
    samples.push(performance.now() - t)
  }
  return median(samples)
}

const fmt = (ms) => (ms < 0.01 ? `${(ms * 1000).toFixed(2)} µs` : ms < 1000 ? `${ms.toFixed(3)} ms` : `${(ms / 1000).toFixed(1)} s`)

const MiB = 1 << 20
const cases = [
  // [label, op, pattern, value, JS RegExp equivalent or null, sizes for extrapolating JS]
  ['^(a+)+$ vs a×30+!', 'match', '^(a+)+$', 'a'.repeat(30) + '!', /^(a+)+$/, (n) => 'a'.repeat(n) + '!'],
  ['(a|aa)+$ vs a×30+!', 'match', '(a|aa)+$', 'a'.repeat(30) + '!', /(a|aa)+$/, (n) => 'a'.repeat(n) + '!'],
  ['^(\\w+\\s?)*$ vs "a "×30+!', 'match', '^(\\w+\\s?)*$', 'a '.repeat(30) + '!', /^(\w+\s?)*$/, (n) => 'a '.repeat(n) + '!'],
  // LIKE compiled to a RegExp of `[\s\S]*` runs (the old likeToRegExp): polynomial, O(n^6) here.
  ['like %a%a%a%a%a%a%b vs a×60', 'like', '%a%a%a%a%a%a%b', 'a'.repeat(60), /^[\s\S]*a[\s\S]*a[\s\S]*a[\s\S]*a[\s\S]*a[\s\S]*a[\s\S]*b$/, null],
  ['like %a%a%a%a%a%a%b vs 1 MiB of a', 'like', '%a%a%a%a%a%a%b', 'a'.repeat(MiB), null, null],
  ['^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$ (email)', 'imatch', '^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$', 'someone.else@example.org', /^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$/i, null],
  ['^(a+)+$ vs 1 MiB of a + !', 'match', '^(a+)+$', 'a'.repeat(MiB) + '!', null, null],
  ['a[ab]{14}$ vs 1 MiB random a/b (2^15 DFA states)', 'match', 'a[ab]{14}c?$', Array.from({ length: MiB }, (_, i) => ((i * 2654435761) >>> 13) & 1 ? 'a' : 'b').join(''), null, null],
  ['[a-z]{255}×4 then [0-9] (1,023 instructions, near the bound) vs 1 MiB of a', 'match', '[a-z]{255}'.repeat(4) + '[0-9]', 'a'.repeat(MiB), null, null],
  ['(?<=a)b[0-9] (lookbehind: NFA only) vs 1 MiB of ab', 'match', '(?<=a)b[0-9]', 'ab'.repeat(MiB / 2), null, null],
]

const rows = []
for (const [label, op, pattern, value, jsRe, grow] of cases) {
  const compiled = compileTextPattern(op, pattern)
  if (!compiled.ok) throw new Error(`${label}: ${compiled.error}`)
  const first = (() => { const t = performance.now(); compiled.pattern.test(value); return performance.now() - t })()
  const re2 = time(() => compiled.pattern.test(value), value.length > 10_000 ? 2_000 : 300)
  let js = '—'
  if (jsRe && grow) {
    // Doubling per added character: time n = 18..22 and extrapolate to the case's size.
    const n0 = 20
    const t0 = time(() => jsRe.test(grow(n0)), 300)
    const t1 = time(() => jsRe.test(grow(n0 + 2)), 300)
    const perChar = Math.sqrt(t1 / t0)
    const target = label.includes('×30') ? 30 : n0
    js = `~${fmt(t0 * perChar ** (target - n0))} (${fmt(t0)} at n=${n0}, ×${perChar.toFixed(2)}/char)`
  } else if (jsRe) {
    js = fmt(time(() => jsRe.test(value), 2_000))
  }
  rows.push({ label, re2js: fmt(re2), first: fmt(first), js })
}

// One evaluation in Postgres: a round trip on a warm connection (what SQL evaluation would cost per change and pattern).
const pg = await startPostgres()
const sql = postgres(pg.url, { max: 1, onnotice: () => {} })
await sql`select 'x' ~ '^(a+)+$'`
const samples = []
for (let i = 0; i < 500; i++) {
  const t = performance.now()
  await sql`select ${'a'.repeat(30) + '!'}::text ~ ${'^(a+)+$'}::text as m`
  samples.push(performance.now() - t)
}
const pgTimes = []
for (let i = 0; i < 5; i++) {
  const t = performance.now()
  await sql`select ${'a'.repeat(MiB) + '!'}::text ~ ${'^(a+)+$'}::text as m`
  pgTimes.push(performance.now() - t)
}
await sql.end()
await pg.stop()

console.log('| case | re2js (median) | re2js first call | JS RegExp |')
console.log('| --- | ---: | ---: | ---: |')
for (const r of rows) console.log(`| ${r.label} | ${r.re2js} | ${r.first} | ${r.js} |`)
console.log(`\nPostgres \`select $1 ~ $2\`, ^(a+)+$ vs a×30+!: median ${fmt(median(samples))} per evaluation (round trip); vs 1 MiB: ${fmt(median(pgTimes))}`)
