#!/usr/bin/env node
/**
 * Many tenants on one server (method and results in bench/README.md, "Many tenants").
 *
 *   node bench/tenants/run.js [--part all|idle|flood] [--tenants 1000] [--databases 4]
 *                             [--setup-concurrency 4] [--reps 3] [--seconds 10]
 *                             [--flood-limit 1000] [--flood-fanout 10] [--quiet-rate 200] [--quiet-fanout 20]
 *
 * Part `idle` (memory and cold joins): a scratch Postgres holds the control database and
 * `--databases` tenant databases; `--tenants` tenants are registered through the admin API
 * (several tenants per database, each with its own secret and replication slot). The server
 * runs in its own process with --expose-gc, tenants stopping after 1 s without sockets.
 *   - memory: heap + external after full GCs, and RSS, with no tenant, with every tenant
 *     registered, and with every tenant used once (a socket, a postgres_changes join) and
 *     stopped again; per tenant = the difference / tenants.
 *   - cold joins: for every tenant, WebSocket connect → join reply and → "Subscribed to
 *     PostgreSQL" on a tenant that is not running. Round 1 is each tenant's first start ever
 *     (migrations applied on the first tenant of a database, slot created), `--setup-concurrency`
 *     at a time; round 2, one tenant at a time, is a start after an idle stop (migrations
 *     checked, slot attached): the "first join on a cold tenant" case.
 * Part `flood` (noisy neighbour): tenant `quiet` publishes `--quiet-rate` broadcasts/s to a
 * room of `--quiet-fanout` receivers and measures latency; tenant `flood`, whose events/s
 * quota is `--flood-limit`, publishes at 90 % of it (no catch-up bursts) into 4 rooms of `--flood-fanout`
 * receivers. The quiet tenant's p99 alone and beside the flood, `--reps` times alternating,
 * `--seconds` each after 2 s of warm-up; medians.
 * The server is pinned to core 0, the clients to core 1 (taskset, where there are two).
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync, mkdirSync } from 'node:fs'
import postgres from 'postgres'
import { flag, helpFromHeader, option } from '../lib/cli.js'
import { spawnNode } from '../lib/child.js'
import { startPostgres } from '../lib/postgres.js'
import { median } from '../lib/stats.js'
import { clientFrame, openRawWebSocket } from '../broadcast/raw-ws.js'

await helpFromHeader(import.meta.url)
const { signToken } = await import('../../packages/server/dist/index.js')

const PART = option('part', 'all')
const TENANTS = Number(option('tenants', 1000))
const DATABASES = Number(option('databases', 4))
const SETUP_CONCURRENCY = Number(option('setup-concurrency', 4))
const REPS = Number(option('reps', 3))
const SECONDS = Number(option('seconds', 10))
const FLOOD_LIMIT = Number(option('flood-limit', 1000))
const FLOOD_FANOUT = Number(option('flood-fanout', 10))
const QUIET_RATE = Number(option('quiet-rate', 200))
const QUIET_FANOUT = Number(option('quiet-fanout', 20))
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef'
const IDLE_MS = 1_000

const TENANT_SQL = `
  do $$ begin
    if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then create publication supabase_realtime; end if;
  end $$;
  create table if not exists items (id bigint primary key, label text);
  alter publication supabase_realtime add table items;
`

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const kb = (bytes) => Math.round(bytes / 102.4) / 10
const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

const pg = await startPostgres({ tmpPrefix: 'switchboard-bench-tenants-', extraFlags: ['-c', 'max_replication_slots=1200', '-c', 'max_wal_senders=200', '-c', 'max_connections=600'] })
const admin = postgres(pg.url, { max: 1, onnotice: () => {} })
const dbUrl = (name) => pg.url.replace(/\/postgres$/, `/${name}`)
const results = { at: new Date().toISOString(), parameters: { PART, TENANTS, DATABASES, SETUP_CONCURRENCY, REPS, SECONDS, FLOOD_LIMIT, FLOOD_FANOUT, QUIET_RATE, QUIET_FANOUT } }

async function createDatabase(name, sql = TENANT_SQL) {
  await admin.unsafe(`create database ${name}`)
  const db = postgres(dbUrl(name), { max: 1, onnotice: () => {} })
  await db.unsafe(sql).simple()
  await db.end()
  return dbUrl(name)
}

async function startServer(name) {
  const control = await createDatabase(`control_${name}`, 'select 1')
  const server = spawnNode(new URL('./server-proc.js', import.meta.url).pathname, {
    core: '0',
    execArgv: ['--expose-gc'],
    env: { BENCH_DATABASE_URL: await createDatabase(`default_${name}`), BENCH_CONTROL_URL: control, BENCH_ADMIN_KEY: ADMIN_KEY, BENCH_SECRETS_KEY: randomBytes(32).toString('base64'), BENCH_IDLE_MS: String(IDLE_MS) },
  })
  const ready = await server.ready
  return { ...server, url: ready.url, port: ready.port }
}

async function adminCall(server, method, path, body) {
  const response = await fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined })
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
  return response.json()
}

async function inParallel(items, concurrency, work) {
  let next = 0
  const out = []
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const index = next++
      out[index] = await work(items[index], index)
    }
  }))
  return out
}

/** Connect, join with a postgres_changes binding; ms to the join reply and to "Subscribed to PostgreSQL". */
async function coldJoin(server, tenant) {
  const started = performance.now()
  let replied = 0
  let done
  const subscribed = new Promise((resolve, reject) => (done = { resolve, reject }))
  const ws = await openRawWebSocket({
    host: '127.0.0.1',
    port: server.port,
    path: `/realtime/v1/websocket?apikey=${encodeURIComponent(tenant.key)}&vsn=2.0.0&tenant=${tenant.id}`,
    onBinary: () => {},
    onText: (text) => {
      if (text.includes('"phx_reply"')) {
        if (!text.includes('"status":"ok"')) done.reject(new Error(`join refused: ${text}`))
        replied = performance.now() - started
      } else if (text.includes('Subscribed to PostgreSQL')) done.resolve(performance.now() - started)
      else if (text.includes('"postgres_changes"') && text.includes('"error"')) done.reject(new Error(text))
    },
  })
  const payload = { config: { broadcast: { self: false, ack: false }, presence: { key: '', enabled: false }, postgres_changes: [{ event: '*', schema: 'public', table: 'items' }], private: false }, access_token: tenant.key }
  ws.send(clientFrame(Buffer.from(JSON.stringify(['1', '1', 'realtime:cold', 'phx_join', payload])), false))
  const timer = setTimeout(() => done.reject(new Error(`tenant ${tenant.id}: no subscription in 20 s`)), 20_000)
  const subscribedMs = await subscribed.finally(() => clearTimeout(timer))
  ws.close()
  return { replyMs: replied, subscribedMs }
}

async function waitAllStopped(server) {
  for (;;) {
    const { running } = await server.call('tenants')
    if (running === 0) return
    await sleep(250)
  }
}

async function idlePart() {
  console.log(`\n== Idle tenants: ${TENANTS} tenants on ${DATABASES} databases`)
  const databases = []
  for (let i = 0; i < DATABASES; i++) databases.push(await createDatabase(`tenant_db_${i}`))
  const server = await startServer('idle')
  try {
    await sleep(1_000)
    const empty = await server.call('memory')
    const tenants = await inParallel(Array.from({ length: TENANTS }, (_, i) => i), 8, async (i) => {
      const id = `t${String(i).padStart(4, '0')}`
      const secret = `secret-${id}-${randomBytes(8).toString('hex')}`
      await adminCall(server, 'POST', '/api/tenants', { external_id: id, database_url: databases[i % DATABASES], jwt_secret: secret })
      return { id, key: await signToken(secret, { role: 'service_role' }) }
    })
    const registered = await server.call('memory')
    console.log(`  registered ${tenants.length} tenants`)

    const rounds = []
    for (const round of [1, 2]) {
      const started = performance.now()
      const timings = await inParallel(tenants, round === 1 ? SETUP_CONCURRENCY : 1, (tenant) => coldJoin(server, tenant))
      const seconds = (performance.now() - started) / 1000
      await waitAllStopped(server)
      const subscribed = timings.map((t) => t.subscribedMs)
      const replies = timings.map((t) => t.replyMs)
      rounds.push({
        round,
        seconds,
        replyP50: quantile(replies, 0.5), replyP99: quantile(replies, 0.99),
        subscribedP50: quantile(subscribed, 0.5), subscribedP90: quantile(subscribed, 0.9), subscribedP99: quantile(subscribed, 0.99), subscribedMax: Math.max(...subscribed),
      })
      const r = rounds.at(-1)
      console.log(`  round ${round} (${round === 1 ? 'first start ever: slot created' : 'after an idle stop: slot attached'}): ${seconds.toFixed(1)} s; ` +
        `join reply p50 ${r.replyP50.toFixed(0)} ms, p99 ${r.replyP99.toFixed(0)} ms; subscribed p50 ${r.subscribedP50.toFixed(0)} ms, p90 ${r.subscribedP90.toFixed(0)} ms, p99 ${r.subscribedP99.toFixed(0)} ms, max ${r.subscribedMax.toFixed(0)} ms`)
    }
    await sleep(2 * IDLE_MS)
    const used = await server.call('memory')
    const state = await server.call('tenants')
    const perTenant = (after) => ({ heapAndExternalKB: kb((after.heapUsed + after.external - empty.heapUsed - empty.external) / TENANTS), rssKB: kb((after.rss - empty.rss) / TENANTS) })
    results.idle = { empty, registered, used, inMemory: state.inMemory, running: state.running, registeredPerTenant: perTenant(registered), usedPerTenant: perTenant(used), rounds }
    console.log(`  memory with no tenant: heap ${kb(empty.heapUsed)} KB + external ${kb(empty.external)} KB, RSS ${kb(empty.rss)} KB`)
    console.log(`  per registered tenant, never used:   heap+external ${results.idle.registeredPerTenant.heapAndExternalKB} KB, RSS ${results.idle.registeredPerTenant.rssKB} KB`)
    console.log(`  per tenant used once, then stopped:  heap+external ${results.idle.usedPerTenant.heapAndExternalKB} KB, RSS ${results.idle.usedPerTenant.rssKB} KB (${state.inMemory} slots in memory, ${state.running} running)`)
    console.log(`  targets: ≤ 50 KB per idle tenant: ${results.idle.usedPerTenant.heapAndExternalKB <= 50 ? 'met' : 'MISSED'}; cold join p50 < 500 ms: ${rounds[1].subscribedP50 < 500 ? 'met' : 'MISSED'}`)
  } finally {
    await server.stop('stop', 15_000)
  }
}

async function floodPart() {
  console.log(`\n== Noisy neighbour: flood quota ${FLOOD_LIMIT} events/s × ${FLOOD_FANOUT} receivers; quiet ${QUIET_RATE}/s × ${QUIET_FANOUT}`)
  const server = await startServer('flood')
  const quietSecret = `quiet-${randomBytes(8).toString('hex')}-secret`
  const floodSecret = `flood-${randomBytes(8).toString('hex')}-secret`
  await adminCall(server, 'POST', '/api/tenants', { external_id: 'quiet', database_url: await createDatabase('quiet_db'), jwt_secret: quietSecret })
  await adminCall(server, 'POST', '/api/tenants', { external_id: 'flood', database_url: await createDatabase('flood_db'), jwt_secret: floodSecret, limits: { max_events_per_second: FLOOD_LIMIT } })
  const quiet = spawnNode(new URL('./clients.js', import.meta.url).pathname, { args: ['quiet'], core: '1' })
  const flood = spawnNode(new URL('./clients.js', import.meta.url).pathname, { args: ['flood'], core: '1' })
  try {
    await Promise.all([quiet.ready, flood.ready])
    await quiet.call('start', { port: server.port, apiKey: await signToken(quietSecret, { role: 'anon' }), tenant: 'quiet', rooms: 1, perRoom: QUIET_FANOUT })
    await flood.call('start', { port: server.port, apiKey: await signToken(floodSecret, { role: 'anon' }), tenant: 'flood', rooms: 4, perRoom: FLOOD_FANOUT })
    await quiet.call('rate', { perSecond: QUIET_RATE })
    const runs = []
    for (let rep = 0; rep < REPS; rep++) {
      for (const withFlood of rep % 2 === 0 ? [false, true] : [true, false]) {
        await flood.call('rate', { perSecond: withFlood ? Math.floor(FLOOD_LIMIT * 0.9) : 0 })
        await sleep(2_000)
        const cpu0 = await server.call('cpu')
        await Promise.all([quiet.call('mark'), flood.call('mark')])
        await sleep(SECONDS * 1000)
        const [q, f] = await Promise.all([quiet.call('collect'), flood.call('collect')])
        const cpu1 = await server.call('cpu')
        const run = { rep, withFlood, quietP50: q.p50Ms, quietP99: q.p99Ms, quietMax: q.maxMs, quietDelivered: q.deliveredPerSecond, floodSent: f.sentPerSecond, floodDelivered: f.deliveredPerSecond, floodShutdowns: f.shutdowns, serverCpu: (cpu1.cpuUs - cpu0.cpuUs) / 1e6 / SECONDS }
        runs.push(run)
        console.log(`  rep ${rep + 1} ${withFlood ? 'with flood' : 'alone     '}: quiet p50 ${q.p50Ms} ms, p99 ${q.p99Ms} ms, max ${run.quietMax.toFixed(1)} ms, ${Math.round(q.deliveredPerSecond)} deliveries/s; ` +
          `flood ${Math.round(f.sentPerSecond)} sent/s → ${Math.round(f.deliveredPerSecond)} deliveries/s, ${f.shutdowns} shut down; server CPU ${run.serverCpu.toFixed(2)}`)
      }
    }
    await flood.call('rate', { perSecond: 0 })
    const alone = median(runs.filter((r) => !r.withFlood).map((r) => r.quietP99))
    const beside = median(runs.filter((r) => r.withFlood).map((r) => r.quietP99))
    results.flood = { runs, aloneP99: alone, withFloodP99: beside, ratio: beside / alone }
    console.log(`  quiet tenant p99, median of ${REPS}: alone ${alone} ms, beside the flood ${beside} ms: ${(beside / alone).toFixed(2)}× (target ≤ 2×: ${beside / alone <= 2 ? 'met' : 'MISSED'})`)
  } finally {
    quiet.kill()
    flood.kill()
    await server.stop('stop', 15_000)
  }
}

try {
  if (PART === 'all' || PART === 'idle') await idlePart()
  if (PART === 'all' || PART === 'flood') await floodPart()
  if (!flag('no-save')) {
    mkdirSync(new URL('../results/', import.meta.url), { recursive: true })
    const file = new URL(`../results/tenants-${results.at.replace(/[:.]/g, '-')}.json`, import.meta.url)
    writeFileSync(file, JSON.stringify(results, null, 2))
    console.log(`\nsaved ${file.pathname}`)
  }
} finally {
  await admin.end()
  await pg.stop()
}
