/**
 * The pattern filters (`like`, `ilike`, `match`, `imatch`) compiled for evaluation on the change
 * path, where one slow pattern would stall every subscriber of the server: they run on a
 * linear-time engine and are bounded in size when a client subscribes.
 *
 * Why not JS RegExp: it backtracks. `^(a+)+$` against `'a'.repeat(30) + '!'` takes seconds,
 * LIKE's `%a%a%a%a%a%a%b` (a RegExp of `.*` runs) is polynomial, and a filter value is chosen
 * by any client that may subscribe.
 *
 * Why re2js (a pure-JS port of RE2/Go regexp, no dependencies, no install script; maintained):
 * measured on this project's 2-core machine (`node bench/cdc/filter-patterns.js`, numbers in
 * bench/README.md), every classic ReDoS pattern answers in microseconds, and a 1 MiB value in
 * milliseconds, in time linear in the value (lazy DFA, falling back to a Pike VM). The other
 * options measured worse or do not install here:
 *  - `re2` (native bindings) needs an install script (node-gyp or a download), which npm 11
 *    does not run for dependencies here;
 *  - evaluating in SQL (`select $1 ~ $2`) costs a round trip per change and pattern (~0.1 ms,
 *    i.e. ~1,000× re2js on short values), would make routing asynchronous, and Postgres's own
 *    engine backtracks on back references;
 *  - a hand-written Thompson NFA would be ours to maintain.
 * Postgres's dialect is translated to RE2's first (postgres-regex.ts); what cannot be
 * translated is refused at subscribe time with a clear error.
 *
 * Bounds: the pattern text (MAX_PATTERN_LENGTH) and the compiled program
 * (MAX_PATTERN_INSTRUCTIONS; RE2 expands counted repetition, so `[a-z]{200}` is 200 steps of
 * state). Evaluation is then O(value length × program size) at worst, O(value length) on the
 * DFA; no pattern makes it exponential or polynomial in the value.
 */
import { RE2JS } from 're2js'
import type { FilterOperator } from '@switchboard/protocol'
import { translateLike, translatePostgresRegex, type Re2Pattern } from './postgres-regex.js'

/** Longest pattern (in characters) a `like`/`ilike`/`match`/`imatch` filter may have. */
export const MAX_PATTERN_LENGTH = 512

/**
 * Largest compiled program. Ordinary patterns take tens of instructions (`^[0-9]{3}-[0-9]{4}$`:
 * 16); counted repetition is multiplied out (`[a-z]{255}`: 257), and a 512-character literal
 * takes 514. Why 1,024: evaluation is linear in the value, but also in the program once the
 * lazy DFA gives up (its 8 MiB state cache thrashes on large programs) and the Pike VM runs,
 * at ~18 ns per instruction per character here: measured 33 s for a 1,786-instruction pattern
 * on a 1 MiB value. Up to 1,024 the DFA kept up in every case the bench tried (a 1 MiB value in
 * tens of ms); the VM's bound, ~18 ns × instructions × characters, is the worst case left.
 */
export const MAX_PATTERN_INSTRUCTIONS = 1_024

export type PatternOperator = Extract<FilterOperator, 'like' | 'ilike' | 'match' | 'imatch'>

/** A compiled pattern filter: does `value` match (Postgres's answer for `value <op> pattern`)? */
export interface TextPattern {
  test(value: string): boolean
}

export type CompilePatternResult = { ok: true; pattern: TextPattern } | { ok: false; error: string }

export function isPatternOperator(op: FilterOperator): op is PatternOperator {
  return op === 'like' || op === 'ilike' || op === 'match' || op === 'imatch'
}

/** The error for a pattern over MAX_PATTERN_LENGTH, or null (checked before anything parses it). */
export function patternLengthError(op: PatternOperator, pattern: string): string | null {
  const length = Array.from(pattern).length
  return length > MAX_PATTERN_LENGTH ? `pattern for ${op} is too long (${length} > ${MAX_PATTERN_LENGTH} characters)` : null
}

/**
 * Compiles a pattern filter's value, or says why it cannot be used (the text goes after
 * "Error parsing `filter` params: ").
 *
 * @example
 *   const r = compileTextPattern('imatch', '^ab+c')
 *   r.ok && r.pattern.test('xABBC') // false (anchored); r.pattern.test('ABBCx') // true
 */
export function compileTextPattern(op: PatternOperator, pattern: string): CompilePatternResult {
  const tooLong = patternLengthError(op, pattern)
  if (tooLong !== null) return { ok: false, error: tooLong }
  const caseInsensitive = op === 'ilike' || op === 'imatch'
  const translated = op === 'like' || op === 'ilike' ? translateLike(pattern, caseInsensitive) : translatePostgresRegex(pattern, caseInsensitive)
  if (!translated.ok) return translated
  let compiled: RE2JS
  try {
    compiled = RE2JS.compile(translated.value.source, flagsOf(translated.value))
  } catch (error) {
    // Postgres accepted the pattern (binding-validator.ts asks it first), so this is one RE2
    // will not build, e.g. nested counted repetition multiplying out past 1,000.
    return { ok: false, error: `unsupported regular expression: ${(error as Error).message}` }
  }
  const size = compiled.programSize()
  if (size > MAX_PATTERN_INSTRUCTIONS) return { ok: false, error: `pattern for ${op} is too complex (${size} > ${MAX_PATTERN_INSTRUCTIONS} states; lower its repetition counts)` }
  return { ok: true, pattern: { test: (value) => compiled.test(value) } }
}

function flagsOf(p: Re2Pattern): number {
  return (p.caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0) | (p.dotAll ? RE2JS.DOTALL : 0) |
    (p.multiline ? RE2JS.MULTILINE : 0) | (p.lookbehinds ? RE2JS.LOOKBEHINDS : 0)
}
