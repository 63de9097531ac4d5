/**
 * Issue 6 chaos: 10,000 inserts and broadcasts while every client's connection drops at random;
 * then the same with the server closed and restarted once mid-run. See chaos-scenario.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runChaos, seeded } from './chaos-scenario.js'
import { createHarness, type Harness } from './helpers.js'

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(async () => {
  await h?.dispose()
})

const range = (n: number) => Array.from({ length: n }, (_, i) => i)
const increasing = (xs: number[]) => xs.every((x, i) => i === 0 || x > xs[i - 1]!)

describe('chaos', () => {
  it('random drops: every client ends with exactly the messages it was entitled to, in order, none twice', async () => {
    const result = await runChaos(h, { clients: 4, messages: 10_000, durationMs: 20_000, random: seeded(1), entity: 'drops' })
    expect(result.sentBroadcasts).toHaveLength(5000)
    for (const c of result.clients) {
      expect(c.drops).toBeGreaterThanOrEqual(3)
      expect(c.inserts).toEqual(range(5000))
      expect(c.broadcasts).toEqual(range(5000))
      expect(c.gaps).toEqual([])
      expect(c.recoveries.length).toBeGreaterThanOrEqual(1)
    }
  }, 60_000)

  it('server restart mid-run: every client that lost messages got a gap; after its rejoin everything arrives once, in order', async () => {
    const result = await runChaos(h, { clients: 4, messages: 10_000, durationMs: 20_000, restartAt: 8000, random: seeded(2), entity: 'restart' })
    expect(result.restart?.upAt).toBeGreaterThan(0)
    for (const c of result.clients) {
      expect(increasing(c.inserts)).toBe(true)
      expect(increasing(c.broadcasts)).toBe(true)
      const lostInserts = 5000 - c.inserts.length
      const lostBroadcasts = result.sentBroadcasts.length - c.broadcasts.length
      // Never silence: the restart changed the epoch, so a gap is signalled whatever was lost.
      const epochGaps = c.gaps.filter((g) => g.resume?.code === 'Gap' && g.resume.reason === 'epoch')
      expect(epochGaps.length).toBeGreaterThanOrEqual(1)
      if (lostInserts + lostBroadcasts > 0) expect(c.gaps.length).toBeGreaterThanOrEqual(1)
      // Everything produced after the client's (last) gap arrives, exactly once.
      const after = Math.max(...c.gaps.map((g) => g.restoredAt))
      const gotInserts = new Set(c.inserts)
      const gotBroadcasts = new Set(c.broadcasts)
      const missingInserts = result.insertedAt.filter((x) => x.at > after && !gotInserts.has(x.id))
      const missingBroadcasts = result.sentBroadcasts.filter((x) => x.at > after && !gotBroadcasts.has(x.n))
      expect(missingInserts).toEqual([])
      expect(missingBroadcasts).toEqual([])
    }
  }, 60_000)
})
