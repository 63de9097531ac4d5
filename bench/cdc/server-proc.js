/**
 * Switchboard under test, in its own process (spawned by run.js, pinned to core 0), started
 * from the build (packages/server/dist) against BENCH_DATABASE_URL.
 *
 * The per-subscriber baseline (Supabase's `apply_rls`: one visibility check per subscriber per
 * change) is a bench-side replica, switched on with `{ cmd: 'strategy', perSubscriber: true }`:
 *  - run.js gives every subscriber's token a unique `sid` claim, so each subscriber is its own
 *    auth context, and the policy-claims grouping is switched off (Catalog's policy claim paths
 *    answer null), so the engine authorizes per subscriber instead of per distinct check, and
 *    so is the set-based check of compiled policies (Catalog's inline policies answer null);
 *  - here, RlsAuthorizer.authorize is wrapped to split each (context, table) request into one
 *    request per change, so every change costs one `select … join <table>` per subscriber
 *    (instead of one query covering the whole batch).
 * Everything else (decoding, routing, encoding, fan-out) is the same engine code.
 *
 * IPC: reports `{ ready, port }`; answers `{ id, cmd: 'stats' }` with CPU time and the CDC
 * counters, `{ id, cmd: 'strategy', perSubscriber }` and `{ id, cmd: 'stop' }`.
 */
import { pathToFileURL } from 'node:url'
import { serve } from '../lib/child-ipc.js'
import { runQueueWaitNs } from '../lib/cpu.js'

// BENCH_SERVER_DIST: another build's packages/server/dist (run.js --compare).
const dist = process.env.BENCH_SERVER_DIST ? pathToFileURL(`${process.env.BENCH_SERVER_DIST.replace(/\/$/, '')}/`) : new URL('../../packages/server/dist/', import.meta.url)
const { createLogger, startSwitchboard } = await import(new URL('index.js', dist).href)
const { RlsAuthorizer } = await import(new URL('cdc/rls-authorizer.js', dist).href)
const { Catalog } = await import(new URL('cdc/catalog.js', dist).href)

// ─── optional stage trace (BENCH_TRACE=1): where commit-to-client time goes, per change ──
const trace = process.env.BENCH_TRACE === '1' ? await import('./trace.js') : null
if (trace) await trace.install(dist)

let perSubscriber = false
// The baseline must not share checks between subscribers: no policy-claims grouping
// (policy-claims.ts), else the `tenant` policy's 1,000 subscribers would share ONE check.
// Nor through the set-based check of compiled policies (policy-inline.ts), which evaluates
// all contexts of a batch in one statement: the baseline checks each subscriber on its own.
for (const name of ['cachedPolicyClaimPaths', 'policyClaimPaths', 'cachedInlinePolicy', 'inlinePolicy']) {
  const original = Catalog.prototype[name]
  Catalog.prototype[name] = function (...args) { return perSubscriber ? null : original.apply(this, args) }
}
const authorize = RlsAuthorizer.prototype.authorize
// BENCH_AUTHZ_DELAY_MS (diagnostic): wait before each RLS check (see bench/README.md, lost rows).
const authzDelayMs = Number(process.env.BENCH_AUTHZ_DELAY_MS ?? 0)
RlsAuthorizer.prototype.authorize = async function (requests) {
  if (authzDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, authzDelayMs))
  if (!perSubscriber) return authorize.call(this, requests)
  const split = []
  for (const r of requests) {
    for (const c of r.current) split.push({ parent: r, req: { context: r.context, table: r.table, current: [c], old: [] } })
    for (const c of r.old) split.push({ parent: r, req: { context: r.context, table: r.table, current: [], old: [c] } })
  }
  const results = await authorize.call(this, split.map((s) => s.req))
  const merged = new Map(requests.map((r) => [r, { current: new Set(), old: new Set() }]))
  for (const { parent, req } of split) {
    const got = results.get(req)
    for (const c of got.current) merged.get(parent).current.add(c)
    for (const c of got.old) merged.get(parent).old.add(c)
  }
  return merged
}

const server = await startSwitchboard({
  port: 0,
  host: '127.0.0.1',
  databaseUrl: process.env.BENCH_DATABASE_URL,
  jwtSecret: process.env.BENCH_JWT_SECRET,
  // Warnings and errors only (a failed batch, a lost replication connection), on stderr.
  logger: createLogger({ level: 'warn', destination: process.stderr }),
  // 1,000 sockets join within a second or two; the per-tenant join rate is the only limit in the way.
  limits: { maxJoinsPerSecond: 100_000, maxDbEventsPerSecond: 1_000_000 },
  // run.js --tracing switches the inspector's delivery trace on and off through its API.
  ...(process.env.BENCH_ADMIN_KEY ? { adminKey: process.env.BENCH_ADMIN_KEY } : {}),
})

async function counter(name) {
  const metric = server.metrics.registry.getSingleMetric(name)
  if (!metric) return 0
  const { values } = await metric.get()
  return values.reduce((sum, v) => sum + (v.metricName === undefined || v.metricName === name ? v.value : 0), 0)
}

serve({
  async stats() {
    const { user, system } = process.cpuUsage()
    return {
      cpuUs: user + system,
      waitNs: runQueueWaitNs(),
      rss: process.memoryUsage().rss,
      changes: await counter('switchboard_cdc_changes_total'),
      deliveries: await counter('switchboard_cdc_deliveries_total'),
      authQueries: await counter('switchboard_cdc_auth_queries_total'),
    }
  },
  trace: ({ reset }) => ({ trace: trace ? trace.collect(Boolean(reset)) : null }),
  strategy(args) {
    perSubscriber = Boolean(args.perSubscriber)
  },
  async stop() {
    await Promise.race([server.close(), new Promise((resolve) => setTimeout(resolve, 5_000))])
  },
}, { ready: { port: server.port }, exitAfter: ['stop'] })
