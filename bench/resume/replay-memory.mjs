#!/usr/bin/env node
/**
 * Heap cost of the replay buffer per 10,000 buffered messages: fills a ReplayLog (from the built
 * server, packages/server/dist) with realistic entries and measures heapUsed before/after with
 * forced GCs. Kinds: `broadcast-user` (realtime-js v2's binary broadcast: a ~120-byte JSON payload
 * in its own Uint8Array, metadata, topic strings), `change` (a real cdc Change: INSERT of a
 * 5-column row, shared RelationInfo) and `broadcast-json` (REST / vsn 1 object payloads).
 *
 *   node --expose-gc bench/resume/replay-memory.mjs [--json]
 */
import { ReplayLog } from '../../packages/server/dist/replay/replay-log.js'
import { Change } from '../../packages/server/dist/cdc/change.js'

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc')
const N = 10_000
const REPS = 5
const clock = { now: () => Date.now(), setTimeout, clearTimeout }
const limits = { maxMessages: 1_000_000, maxBytes: 1 << 30, maxAgeMs: 3_600_000 }
const enc = new TextEncoder()
const relation = {
  id: 16_400, schema: 'public', table: 'messages', replicaIdentity: 'default',
  columns: ['id', 'room_id', 'author', 'body', 'created_at'].map((name, i) => ({ name, isKey: i === 0, type: { kind: 'text' } })),
}
relation.columnIndex = new Map(relation.columns.map((c, i) => [c.name, i]))

const make = {
  'broadcast-user': (i) => {
    const payload = enc.encode(JSON.stringify({ x: i % 1000, y: (i * 7) % 1000, user: `user-${i % 50}`, color: '#3b82f6', ts: 1_760_000_000_000 + i }))
    return [{ kind: 'broadcast-user', topicKey: 'public:room:42', topic: 'realtime:room:42', broadcast: { event: 'cursor-move', encoding: 'json', payload, metadataJson: null }, senderSession: `s-${i % 50}` }, payload.length + 128]
  },
  change: (i) => {
    const tuple = [String(i), 'room-42', `user-${i % 50}`, `message number ${i} with a short body of text`, '2026-11-22 04:00:00.123+00']
    const change = new Change(relation, 'INSERT', tuple, null, null, '2026-11-22T04:00:00.123Z', { lsn: BigInt(i) * 100n, index: 0, seq: 0 }, 120)
    return [{ kind: 'change', change }, 120]
  },
  'broadcast-json': (i) => {
    const payload = { type: 'broadcast', event: 'cursor-move', payload: { x: i % 1000, y: (i * 7) % 1000, user: `user-${i % 50}` } }
    return [{ kind: 'broadcast-json', topicKey: 'public:room:42', topic: 'realtime:room:42', payload, senderSession: null }, JSON.stringify(payload).length]
  },
}

const heap = () => {
  globalThis.gc(); globalThis.gc()
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const result = {}
const alive = [] // keeps each filled log reachable while its heap is measured
function fill(fn) {
  const log = new ReplayLog(limits, clock)
  for (let i = 0; i < N; i++) {
    const [value, bytes] = fn(i)
    log.append(value, bytes)
  }
  if (log.size !== N) throw new Error('log did not keep every entry')
  return log
}
for (const [kind, fn] of Object.entries(make)) {
  // Every filled log stays reachable until the kind is done, so each delta is one more log.
  const samples = []
  let before = heap()
  for (let r = 0; r < REPS; r++) {
    alive.push(fill(fn))
    const after = heap()
    samples.push(after - before)
    before = after
  }
  alive.length = 0
  result[kind] = { bytesPer10k: median(samples), samples }
}
if (process.argv.includes('--json')) console.log(JSON.stringify(result, null, 2))
else for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(15)} ${(v.bytesPer10k / 1024 / 1024).toFixed(2)} MiB per 10,000 (median of ${REPS}; ${v.samples.map((s) => (s / 1048576).toFixed(2)).join(' / ')})`)
