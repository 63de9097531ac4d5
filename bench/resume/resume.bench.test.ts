/**
 * Resume under chaos (issue 6) and server restart → 100 channels connected (issue 4).
 * `npx vitest run --config bench/resume/vitest.config.ts`; writes bench/results/resume-<time>.json.
 * Repetitions: RUNS (env, default 3).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { runChaos, seeded } from '../../packages/client/test/chaos-scenario.js'
import { createHarness, waitFor, type Harness } from '../../packages/client/test/helpers.js'

const RUNS = Number(process.env.RUNS ?? 3)
let h: Harness
beforeAll(async () => {
  h = await createHarness({ limits: { maxChannelsPerSocket: 200 } })
})
afterAll(async () => {
  await h?.dispose()
})

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}
const median = (xs: number[]) => pct(xs, 50)
const out: Record<string, unknown> = { machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, runs: RUNS }

it('delivery rate and replay latency under chaos', async () => {
  const runs = []
  for (let i = 0; i < RUNS; i++) {
    const r = await runChaos(h, { clients: 4, messages: 10_000, durationMs: 20_000, random: seeded(100 + i), entity: `bench${i}` })
    const entitled = r.clients.length * (5000 + r.sentBroadcasts.length)
    const unique = r.clients.reduce((n, c) => n + new Set(c.inserts).size + new Set(c.broadcasts).size, 0)
    const received = r.clients.reduce((n, c) => n + c.inserts.length + c.broadcasts.length, 0)
    const replay = r.clients.flatMap((c) => c.replayMs)
    runs.push({
      deliveryPct: (100 * unique) / entitled,
      duplicates: received - unique,
      drops: r.clients.reduce((n, c) => n + c.drops, 0),
      recoveries: replay.length,
      gaps: r.clients.reduce((n, c) => n + c.gaps.length, 0),
      replayP50: pct(replay, 50),
      replayP99: pct(replay, 99),
      replayMax: Math.max(...replay),
    })
    console.log(JSON.stringify(runs.at(-1)))
  }
  out.chaos = { runs, median: { deliveryPct: median(runs.map((r) => r.deliveryPct)), replayP99: median(runs.map((r) => r.replayP99)), replayP50: median(runs.map((r) => r.replayP50)) } }
  expect(runs.length).toBe(RUNS)
}, 600_000)

it('server restart → all of 100 channels back to connected', async () => {
  const runs = []
  for (let i = 0; i < RUNS; i++) {
    const m = h.manager({ reconnect: { baseDelayMs: 100, maxDelayMs: 1000, maxAttempts: 100 } })
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
  out.restart100 = { policy: 'baseDelayMs 100, maxDelayMs 1000 (full jitter)', downMs: 300, runs, median: { fromServerListeningMs: median(runs.map((r) => r.fromServerListeningMs)) } }
  mkdirSync('bench/results', { recursive: true })
  const file = `bench/results/resume-${new Date().toISOString().replace(/[:.]/g, '-')}.json`
  writeFileSync(file, JSON.stringify(out, null, 2))
  console.log(file, JSON.stringify(out, null, 2))
}, 600_000)
