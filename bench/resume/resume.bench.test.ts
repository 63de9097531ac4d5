/**
 * Delivery under chaos (issue 10) and server restart → 100 channels connected (issue 4).
 * `npm run build && npx vitest run --config bench/resume/vitest.config.ts`; writes
 * bench/results/resume-<time>.json. Repetitions: RUNS (env, default 3); cases: CASES (env, e.g.
 * `CASES=withKill`; default all three).
 *
 * The chaos is the test's (packages/client/test/chaos-scenario.ts), at the scale: 20 SDK
 * clients behind TCP proxies that all drop at once every 3–5 s (offline 0–2 s), 5,000 RLS-checked
 * rows (one per transaction) and 5,000 broadcasts over 25 s, the server a child process; per
 * repetition one run without and one with a SIGKILL of the server at 10 s, and one with three
 * nodes on Redis behind a round-robin proxy whose slot reader is SIGKILLed at 10 s (issue 11). Reported per run:
 * delivery (unique deliveries / entitled), duplicates, gap signals, catch-up (network back →
 * the channel's `Resumed`, i.e. everything missed replayed) p50/p99, commit-to-client p50/p99
 * (the writer's clock before its INSERT → the client's handler).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { runChaos, seeded, type ChaosResult } from '../../packages/client/test/chaos-scenario.js'
import { createHarness, waitFor, type Harness } from '../../packages/client/test/helpers.js'
import { createTestDatabase, type TestDatabase } from '../../test-support/database.js'
import { RedisProcess } from '../../packages/server/test/support/redis-process.js'

const RUNS = Number(process.env.RUNS ?? 3)
let h: Harness
let db: TestDatabase
beforeAll(async () => {
  h = await createHarness({ limits: { maxChannelsPerSocket: 200 } })
  db = await createTestDatabase('resumebench')
})
afterAll(async () => {
  await h?.dispose()
  await db?.drop()
})

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}
const median = (xs: number[]) => pct(xs, 50)
const out: Record<string, unknown> = { machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, runs: RUNS }

function summarize(r: ChaosResult, rows: number) {
  const entitled = r.clients.length * (rows + r.sentBroadcasts.length)
  // Broadcasts whose request got no answer (a node died mid-request) are nobody's: not counted.
  const unanswered = new Set(r.unansweredBroadcasts)
  const owed = (c: ChaosResult['clients'][number]) => c.broadcasts.filter((n) => !unanswered.has(n))
  const unique = r.clients.reduce((n, c) => n + new Set(c.rows).size + new Set(owed(c)).size, 0)
  const received = r.clients.reduce((n, c) => n + c.rows.length + owed(c).length, 0)
  const catchUp = r.clients.flatMap((c) => c.catchUpMs)
  const wait = r.clients.flatMap((c) => c.reconnectWaitMs)
  const rejoin = r.clients.flatMap((c) => c.rejoinMs)
  const latency = r.clients.flatMap((c) => c.rowLatencyMs)
  return {
    deliveryPct: (100 * unique) / entitled,
    duplicates: received - unique,
    gaps: r.clients.reduce((n, c) => n + c.gaps.length, 0),
    drops: r.clients[0]?.drops ?? 0,
    recoveries: r.clients.reduce((n, c) => n + c.recoveries.length, 0),
    catchUpP50: pct(catchUp, 50),
    catchUpP99: pct(catchUp, 99),
    // The same recoveries split at the socket's open: the reconnect wait, then rejoin + replay.
    reconnectWaitP50: pct(wait, 50),
    reconnectWaitP99: pct(wait, 99),
    rejoinP50: pct(rejoin, 50),
    rejoinP99: pct(rejoin, 99),
    commitToClientP50: pct(latency, 50),
    commitToClientP99: pct(latency, 99),
  }
}

/** The chaos runs of one repetition: drops only; the server SIGKILLed; three nodes on Redis with the slot reader SIGKILLed. */
const CASES = [
  { name: 'drops', killAt: undefined, cluster: false },
  { name: 'withKill', killAt: 10_000, cluster: false },
  { name: 'clusterNodeKill', killAt: 10_000, cluster: true },
] as const
/** `CASES=withKill,drops`: only these cases (default: all three). */
const SELECTED = process.env.CASES ? CASES.filter((c) => process.env.CASES!.split(',').includes(c.name)) : CASES

it('delivery, catch-up and commit-to-client latency under chaos: drops, a SIGKILL, a node SIGKILLed in a cluster', async () => {
  const runs: Record<string, unknown>[] = []
  for (let i = 0; i < RUNS; i++) {
    for (const c of SELECTED) {
      const redis = c.cluster ? await RedisProcess.start() : null
      try {
        const r = await runChaos({
          databaseUrl: db.url, clients: 20, rows: 5_000, broadcasts: 5_000, durationMs: 25_000, killAt: c.killAt,
          random: seeded(100 + i), entity: `bench${i}${c.name.toLowerCase()}`, cluster: redis ? { redisUrl: redis.url } : undefined,
        })
        runs.push({ case: c.name, ...summarize(r, 5_000) })
      } finally {
        await redis?.stop()
      }
      console.log(JSON.stringify(runs.at(-1)))
    }
  }
  const of = (name: string, key: string) => median(runs.filter((r) => r.case === name).map((r) => r[key] as number))
  out.chaos = {
    runs,
    median: Object.fromEntries(
      SELECTED.map((c) => [c.name, Object.fromEntries(['deliveryPct', 'catchUpP99', 'catchUpP50', 'reconnectWaitP99', 'rejoinP99', 'commitToClientP50', 'commitToClientP99'].map((k) => [k, of(c.name, k)]))]),
    ),
  }
  expect(runs.length).toBe(RUNS * SELECTED.length)
}, 1_800_000)

it('server restart → all of 100 channels back to connected', async () => {
  const runs = []
  for (let i = 0; i < RUNS; i++) {
    const m = h.manager({ connectionRetry: { maxAttempts: 100 } })
    const leases = await Promise.all(Array.from({ length: 100 }, (_, k) => m.subscribeToEntity({ entityType: 'hundred', entityId: `${i}-${k}`, maxReconnectAttempts: 100, reconnectDelay: 100 })))
    await h.stop()
    const down = Date.now()
    await new Promise((r) => setTimeout(r, 300))
    await h.start()
    const up = Date.now()
    await waitFor(() => leases.every((l) => l.status === 'connected'), 30_000, '100 channels back')
    const done = Date.now()
    runs.push({ fromServerListeningMs: done - up, fromCloseMs: done - down })
    console.log(JSON.stringify(runs.at(-1)))
    await m.destroy()
  }
  out.restart100 = { policy: 'SDK defaults (socket retry: first attempt within 50 ms, doubling per failure, at most 250 ms for the first 5 s, then up to 5 s)', downMs: 300, runs, median: { fromServerListeningMs: median(runs.map((r) => r.fromServerListeningMs)) } }
  mkdirSync('bench/results', { recursive: true })
  const file = `bench/results/resume-${new Date().toISOString().replace(/[:.]/g, '-')}.json`
  writeFileSync(file, JSON.stringify(out, null, 2))
  console.log(file, JSON.stringify(out, null, 2))
}, 600_000)
