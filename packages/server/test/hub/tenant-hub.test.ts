/**
 * The hub with a manual clock: positions come from the log, a subscriber registered at a
 * position receives what is appended after it, changes are positioned before they are routed,
 * broadcasts wait behind changes in flight for ordered subscribers, history is never delivered
 * live, and the first ephemeral broadcast of a topic waits for its mark (bounded).
 */
import { describe, expect, test } from 'vitest'
import { formatStreamPoint, serializerV1, STREAM_START, type Serializer } from '@switchboard/protocol'
import type { FanoutSubscriber } from '../../src/broadcast/topic-registry.js'
import { ManualClock } from '../support/manual-clock.js'
import { LocalClusterAdapter } from '../../src/cluster/cluster-adapter.js'
import { DEFAULT_LOG_LIMITS } from '../../src/hub/delivery-log.js'
import type { Mark } from '../../src/hub/log-entry.js'
import { TenantHub, type OrderedSubscriber } from '../../src/hub/tenant-hub.js'
import type { TopicMarks } from '../../src/hub/topic-marks.js'
import { silentLogger } from '../../src/logger.js'
import type { OutFrame } from '../../src/socket/outbound-queue.js'
import type { DatabaseBroadcast } from '../../src/cdc/database-broadcast.js'

/** A subscriber that records what reaches it (what a channel's feed would be handed). */
class Recorder implements FanoutSubscriber, OrderedSubscriber {
  readonly serializer: Serializer = serializerV1
  readonly wantsPositions = true
  readonly receivesBroadcast = true
  readonly receivesPresence = true
  readonly received: { text: string; mark: Mark | null }[] = []
  releases = 0
  enqueue(frame: OutFrame, mark: Mark | null): void {
    this.received.push({ text: frame.data.toString('utf8'), mark })
  }
  releaseHeld(): void {
    this.releases++
  }
  restarts: string[] = []
  restart(reason: string): void {
    this.restarts.push(reason)
  }
}

const instantMarks: TopicMarks = { mark: async () => {}, marked: async () => false }

function hub(clock = new ManualClock(1_000_000), marks: TopicMarks = instantMarks): TenantHub {
  return new TenantHub({ limits: DEFAULT_LOG_LIMITS, clock, logger: silentLogger, cluster: new LocalClusterAdapter(), marks })
}

const flush = () => new Promise((r) => setImmediate(r))

function dbBroadcast(lsn: bigint, index: number, topic = 'room'): DatabaseBroadcast {
  return { topic, event: 'e', private: false, id: `id-${lsn}-${index}`, payloadJson: '{"x":1}', binaryPayload: null, position: { lsn, index, seq: 0 } }
}

describe('TenantHub', () => {
  test('a subscriber registered at a position receives exactly what is appended after it, with marks', async () => {
    const h = hub()
    h.startAt(formatStreamPoint(0x500n, 0))
    const before = new Recorder()
    h.topics.add('public:room', before)
    h.publishJson('public:room', 'realtime:room', { n: 1 })
    await flush()
    const cursor = h.log.lastSeq
    const after = new Recorder()
    h.topics.add('public:room', after)
    h.publishJson('public:room', 'realtime:room', { n: 2 })
    expect(before.received.map((r) => r.mark)).toEqual([
      { position: 1, point: formatStreamPoint(0x500n, 0) },
      { position: 2, point: formatStreamPoint(0x500n, 0) },
    ])
    expect(after.received.map((r) => r.mark!.position)).toEqual([cursor + 1])
  })

  test('changes are positioned when appended (before routing); a broadcast after them waits for ordered subscribers', () => {
    const h = hub()
    const change = dbBroadcast(0x600n, 0) // any stream item; positioned like a change
    h.appendChanges([change], false)
    expect(change.position.seq).toBe(1)
    expect(h.log.headPoint).toBe(formatStreamPoint(0x600n, 0))
    // Pretend position 1 is a change still being authorized:
    h.setPendingChangesFrom(1)
    expect(h.changesPendingBefore(2)).toBe(true)
    expect(h.changesPendingBefore(1)).toBe(false)
    const ordered = new Recorder()
    h.waitForChanges(ordered)
    h.setPendingChangesFrom(Infinity) // delivered
    expect(ordered.releases).toBe(1)
    expect(h.changesPendingBefore(1_000)).toBe(false)
  })

  test('historical entries are logged for resumes, never delivered live; markRebuilt wakes the waiters with the floor', async () => {
    const h = hub()
    const live = new Recorder()
    h.topics.add('public:room', live)
    const historical = dbBroadcast(0x700n, 0)
    h.appendChanges([historical], true)
    expect(live.received).toEqual([])
    let woke = false
    const waiting = h.whenRebuilt().then(() => { woke = true })
    await flush()
    expect(woke).toBe(false)
    h.markRebuilt(formatStreamPoint(0x680n, 0))
    await waiting
    const served = h.log.sinceStreamPoint(formatStreamPoint(0x690n, 0))
    expect(served.ok && served.entries.map((e) => [e.seq, e.historical])).toEqual([[1, true]])
    expect(h.log.sinceStreamPoint(STREAM_START)).toEqual({ ok: false, reason: 'evicted' })
  })

  test('the first ephemeral broadcast of a topic waits for its mark, in order with those behind it, at most 1 s', async () => {
    const clock = new ManualClock(1_000_000)
    let recorded: () => void = () => {}
    const slowMarks: TopicMarks = { mark: () => new Promise<void>((resolve) => { recorded = resolve }), marked: async () => true }
    const h = hub(clock, slowMarks)
    const sub = new Recorder()
    h.topics.add('public:slow', sub)
    h.publishJson('public:slow', 'realtime:slow', { n: 1 })
    h.publishJson('public:slow', 'realtime:slow', { n: 2 })
    expect(sub.received).toEqual([])
    recorded()
    await flush()
    expect(sub.received.map((r) => r.mark!.position)).toEqual([1, 2])
    h.publishJson('public:slow', 'realtime:slow', { n: 3 }) // marked: at once
    expect(sub.received).toHaveLength(3)

    // A mark that never completes does not hold a topic for more than a second.
    h.topics.add('public:stuck', sub)
    h.publishJson('public:stuck', 'realtime:stuck', { n: 4 })
    expect(sub.received).toHaveLength(3)
    clock.advance(999)
    expect(sub.received).toHaveLength(3)
    clock.advance(1)
    expect(sub.received).toHaveLength(4)
  })
})
