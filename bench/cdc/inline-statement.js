#!/usr/bin/env node
/**
 * The set-based RLS statement (packages/server/src/cdc/rls-authorizer.ts `inlineCall`) in its
 * shapes, timed against one embedded Postgres: what each change to the statement bought.
 *
 * The table and policy are the CDC bench's per-user ones (`owner = auth.jwt() ->> 'sub' or
 * shared`, every row shared, so every context sees every row); 1,000 contexts (distinct `sub`)
 * check N rows in one statement, as one batch of the change stream does. Shapes:
 *  - visible, per-pair claims: the statement until 2026-12-02: per context the VISIBLE rows
 *    (string_agg over every (context, row) pair), `auth.jwt()` inlined as its body per pair;
 *  - visible, per-context claims: `auth.jwt()` computed once per context in the context row;
 *  - hidden, per-pair claims: per context only the rows its policy HIDES (and one row with the
 *    keys that exist), so a stream whose rows everyone sees aggregates almost nothing;
 *  - hidden, per-context claims: both (the statement now).
 * Each shape runs --runs times per round (median reported), rounds alternate the order.
 *
 * Usage: npm run build && node bench/cdc/inline-statement.js [--rows 25,100] [--contexts 1000]
 *        [--runs 30] [--rounds 3]
 * The script pins nothing; run it on a quiet machine. Prints medians in ms per statement,
 * client-side (the reply parsed by postgres.js included).
 */
import postgres from 'postgres'
import { helpFromHeader, option } from '../lib/cli.js'
import { startPostgres } from '../lib/postgres.js'
import { median } from '../lib/stats.js'

await helpFromHeader(import.meta.url)

const ROWS = option('rows', '25,100').split(',').map(Number)
const CONTEXTS = Number(option('contexts', 1000))
const RUNS = Number(option('runs', 30))
const ROUNDS = Number(option('rounds', 3))

const PER_PAIR_CLAIMS = 'u.__sb_claims::jsonb as __sb_cj'
const PER_PAIR_JWT = `coalesce(nullif(current_setting('request.jwt.claim', true), '')::jsonb, __sb_c.__sb_cj)`
const CONTEXT_JWT = `coalesce(nullif(current_setting('request.jwt.claim', true), '')::jsonb, u.__sb_claims::jsonb) as __sb_jwt`
const SHAPES = {
  'visible, per-pair claims': { claimsColumn: PER_PAIR_CLAIMS, jwt: PER_PAIR_JWT, hidden: false },
  'visible, per-context claims': { claimsColumn: CONTEXT_JWT, jwt: '__sb_c.__sb_jwt', hidden: false },
  'hidden, per-pair claims': { claimsColumn: PER_PAIR_CLAIMS, jwt: PER_PAIR_JWT, hidden: true },
  'hidden, per-context claims': { claimsColumn: CONTEXT_JWT, jwt: '__sb_c.__sb_jwt', hidden: true },
}

/** The statement of one shape for `rows` keys (the same text inlineCall builds, one slice). */
function statement({ claimsColumn, jwt, hidden }, rows) {
  const keys = Array.from({ length: rows }, (_, i) => `'${i + 1}'`).join(',')
  const claims = Array.from({ length: CONTEXTS }, (_, i) => `'{"sub":"user-${i}"}'`).join(',')
  const policy = `(((owner = ((${jwt}) ->> 'sub'::text)) OR shared))`
  const head = `with __sb_c as materialized (
  select u.__sb_n::int4, 1 as __sb_s, ${claimsColumn}
  from unnest(array[${claims}]::text[]) with ordinality as u(__sb_claims, __sb_n)),
__sb_t as materialized (
  select k.__sb_g::int4, t.* from unnest(array[${keys}]::text[]) with ordinality as k(__sb_key, __sb_g)
  cross join lateral (select t.* from bench_inline t where t.id = k.__sb_key::bigint) t),
__sb_r as (select m.__sb_s, __sb_t.* from unnest(array[${Array(rows).fill(1).join(',')}]::int4[], array[${Array.from({ length: rows }, (_, i) => i + 1).join(',')}]::int4[]) as m(__sb_s, __sb_m) join __sb_t on __sb_t.__sb_g = m.__sb_m)
`
  const pairs = `from __sb_c join __sb_r on __sb_r.__sb_s = __sb_c.__sb_s`
  return hidden
    ? `${head}select 0 as i, string_agg(__sb_t.__sb_g::text, ',') as k from __sb_t
union all
select __sb_c.__sb_n as i, string_agg(__sb_r.__sb_g::text, ',') as k ${pairs} where (${policy}) is not true group by __sb_c.__sb_n`
    : `${head}select __sb_c.__sb_n as i, string_agg(__sb_r.__sb_g::text, ',') as k ${pairs} where ${policy} group by __sb_c.__sb_n`
}

const pg = await startPostgres({ tmpPrefix: 'switchboard-inline-pg-' })
const sql = postgres(pg.url, { max: 1, onnotice: () => {} })
try {
  await sql.unsafe(`
    create table bench_inline (id bigint generated always as identity primary key, owner text not null, shared boolean not null, sent_at float8 not null, body text);
    insert into bench_inline (owner, shared, sent_at, body) select 'u' || g, true, 0, repeat('x', 100) from generate_series(1, 1000) g;`).simple()
  const times = new Map()
  for (let round = 0; round < ROUNDS; round++) {
    const names = round % 2 === 0 ? Object.keys(SHAPES) : Object.keys(SHAPES).reverse()
    for (const rows of ROWS) {
      for (const name of names) {
        const text = statement(SHAPES[name], rows)
        const key = `${rows}\u0000${name}`
        if (!times.has(key)) times.set(key, [])
        for (let i = 0; i < RUNS; i++) {
          const started = performance.now()
          await sql.unsafe(text).simple()
          times.get(key).push(performance.now() - started)
        }
      }
    }
  }
  console.log(`${CONTEXTS} contexts, one statement per batch; median ms of ${ROUNDS} × ${RUNS} statements`)
  for (const rows of ROWS) {
    const base = median(times.get(`${rows}\u0000visible, per-pair claims`))
    for (const name of Object.keys(SHAPES)) {
      const m = median(times.get(`${rows}\u0000${name}`))
      console.log(`  ${String(rows).padStart(4)} rows  ${name.padEnd(28)} ${m.toFixed(2).padStart(7)} ms  (${(base / m).toFixed(2)}× the first)`)
    }
  }
} finally {
  await sql.end()
  await pg.stop()
}
