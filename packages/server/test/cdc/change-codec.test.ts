/**
 * The change codec (src/cdc/change-codec.ts): batches decoded from a real Postgres survive the
 * trip through bytes with every downstream behaviour intact (routing, filters, rendered
 * payloads, positions, sizes, relations), and bytes that are not a batch are refused with a
 * ChangeCodecError.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Change, relationInfo, tupleBytes, type RelationInfo } from '../../src/cdc/change.js'
import { ChangeCodecError, CHANGE_CODEC_VERSION, decodeChangeBatch, encodeChangeBatch, encodeChangeBatches, type ChangeBatchItem } from '../../src/cdc/change-codec.js'
import { buildChangeData, buildErrorData, ERROR_413, type PayloadVariant } from '../../src/cdc/change-payload.js'
import type { DatabaseBroadcast } from '../../src/cdc/database-broadcast.js'
import { SubscriptionIndex } from '../../src/cdc/subscription-index.js'
import { OmittedChanges } from '../../src/cdc/transaction-overflow.js'
import type { TypeInfo } from '../../src/cdc/value-renderer.js'
import type { ChangeLogPort } from '../../src/hub/tenant-hub.js'
import { createHarness, serviceRole, type Harness } from './cdc-harness.js'

/** A tenant log that keeps every item the service appends (positions like the real one). */
class RecordingLog implements ChangeLogPort {
  lastSeq = 0
  readonly items: ChangeBatchItem[] = []
  get evictedThrough(): number { return this.lastSeq }
  appendChanges(items: readonly ChangeBatchItem[]): void {
    for (const item of items) {
      item.position.seq = ++this.lastSeq
      this.items.push(item)
    }
  }
  setPendingChangesFrom(): void {}
  startAt(): void {}
  deliverDatabaseBroadcast(): void {}
  markRebuilt(): void {}
  appendSharedChanges(): void {}
  receiveRuns(): void {}

  async until(n: number, ms = 10_000): Promise<ChangeBatchItem[]> {
    const deadline = Date.now() + ms
    while (this.items.length < n) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} items; have ${this.items.length}`)
      await new Promise((r) => setTimeout(r, 20))
    }
    return this.items
  }
}

const COLUMNS = `id int primary key, title text, done bool, tags text[], meta jsonb, at timestamptz, ts timestamp,
  price numeric(12,3), ratio float8, blob bytea, big text, nums int4[]`
const SETUP = `
  create table public.items (${COLUMNS});
  create table public.full_items (${COLUMNS});
  alter table public.full_items replica identity full;
  -- Out-of-line without compression: any value over ~2 kB is TOASTed, so an update that leaves
  -- it alone sends it as 'u' (unchanged, not sent).
  alter table public.items alter column big set storage external;
  alter table public.full_items alter column big set storage external;
  create table public.bulk (id int primary key, v text);
  alter publication supabase_realtime add table public.items, public.full_items, public.bulk;
  grant all on all tables in schema public to anon, authenticated, service_role;
`

const BIG = 'x'.repeat(5_000)

const VARIANTS: { name: string; variant: PayloadVariant; maxRecordBytes: number }[] = [
  { name: 'all columns', variant: { columns: null, oldRecordKeyOnly: false, primaryKey: ['id'] }, maxRecordBytes: 1024 * 1024 },
  { name: 'some columns', variant: { columns: new Set(['id', 'title', 'tags', 'at']), oldRecordKeyOnly: false, primaryKey: ['id'] }, maxRecordBytes: 1024 * 1024 },
  { name: 'old record key only', variant: { columns: null, oldRecordKeyOnly: true, primaryKey: ['id'] }, maxRecordBytes: 1024 * 1024 },
  { name: 'over the record limit', variant: { columns: null, oldRecordKeyOnly: false, primaryKey: ['id'] }, maxRecordBytes: 100 },
]

/** Compares two rendered payloads: same text, and field by field (for a readable failure). */
function expectSamePayload(before: string, after: string, label: string): void {
  const a = JSON.parse(before) as Record<string, unknown>
  const b = JSON.parse(after) as Record<string, unknown>
  expect(Object.keys(b), label).toEqual(Object.keys(a))
  for (const key of Object.keys(a)) expect(b[key], `${label}: ${key}`).toStrictEqual(a[key])
  expect(after, label).toBe(before)
}

function expectSameChange(a: Change, b: ChangeBatchItem, label: string): void {
  expect(b, label).toBeInstanceOf(Change)
  const c = b as Change
  expect(c.constructor, label).toBe(a.constructor)
  expect(c.schema).toBe(a.schema)
  expect(c.table).toBe(a.table)
  expect(c.type).toBe(a.type)
  expect(c.commitTimestamp).toBe(a.commitTimestamp)
  expect(c.position).toStrictEqual(a.position)
  expect(typeof c.position.lsn).toBe('bigint')
  expect(c.byteSize).toBe(a.byteSize)
  expect(c.xid).toBe(a.xid)
  expect(c.rowOmitted).toBe(a.rowOmitted)
  expect(c.hasFullOldRow).toBe(a.hasFullOldRow)
  expect(c.relation).toStrictEqual(a.relation)
  // toStrictEqual tells an unchanged TOAST value (undefined) from a missing one and from null.
  expect(c.newTuple).toStrictEqual(a.newTuple)
  expect(c.oldTuple).toStrictEqual(a.oldTuple)
  expect(c.keyTuple).toStrictEqual(a.keyTuple)
  expect(c.record).toStrictEqual(a.record)
  expect(c.oldRecord).toStrictEqual(a.oldRecord)
  expect(c.oldText()).toStrictEqual(a.oldText())
  for (const column of [...a.relation.columns.map((col) => col.name), 'no_such_column']) {
    expect(c.value(column), `${label}: value(${column})`).toBe(a.value(column))
    expect(c.kindOf(column), `${label}: kindOf(${column})`).toBe(a.kindOf(column))
  }
  if (a instanceof OmittedChanges) {
    expect((c as OmittedChanges).count).toBe(a.count)
    expectSamePayload(buildErrorData(a, ERROR_413), buildErrorData(c, ERROR_413), `${label} (413)`)
  } else {
    for (const { name, variant, maxRecordBytes } of VARIANTS) {
      expectSamePayload(buildChangeData(a, variant, maxRecordBytes), buildChangeData(c, variant, maxRecordBytes), `${label}: ${name}`)
    }
  }
}

function expectSameItem(a: ChangeBatchItem, b: ChangeBatchItem, label: string): void {
  if (a instanceof Change) return expectSameChange(a, b, label)
  expect(b, label).not.toBeInstanceOf(Change)
  expect(b).toStrictEqual(a)
  const broadcast = b as DatabaseBroadcast
  if (a.binaryPayload) expect(Buffer.compare(broadcast.binaryPayload!, a.binaryPayload)).toBe(0)
}

const isChange = (item: ChangeBatchItem): item is Change => item instanceof Change

describe('change codec: changes decoded from a real Postgres', () => {
  let h: Harness
  const log = new RecordingLog()
  let items: ChangeBatchItem[] = []

  beforeAll(async () => {
    // A small transaction bound, so one transaction below overflows into an OmittedChanges.
    h = await createHarness(SETUP, { maxTransactionChanges: 20 })
    const service = h.newService({ slotName: 'sb_codec_test', log })
    await service.start()
    let n = 0
    for (const table of ['items', 'full_items']) {
      const t = h.sql(table)
      await h.sql`insert into ${t} (id, title, done, tags, meta, at, ts, price, ratio, blob, big, nums)
        values (1, 'milk', true, '{a,"b c",NULL,"q\\"uote"}', '{"k":[1,{"x":null}],"s":"é ✓ 😀"}', '2025-03-01 12:00:00.5+05:30',
                '2025-03-01 12:00:00', 12.5, 'NaN', '\\x00ff10', ${BIG}, '{{1,2},{3,4}}')`
      await h.sql`insert into ${t} (id) values (2)` // nulls everywhere else
      await h.sql`update ${t} set title = 'oat milk', price = -0.001 where id = 1` // big unchanged: TOAST
      await h.sql`update ${t} set id = 3 where id = 2` // the key changed
      await h.sql`update ${t} set big = ${BIG + 'y'}, ratio = '-Infinity' where id = 1`
      await h.sql`delete from ${t} where id = 3`
      await h.sql`delete from ${t} where id = 1`
      n += 7
    }
    await h.sql`select realtime.send('{"hello":"world","n":[1,2]}'::jsonb, 'greet', 'room:1', false)`
    await h.sql`select realtime.send_binary('\\x00010203fffe'::bytea, 'bin', 'room:2', true)`
    n += 2
    // A relation change mid-stream: a new RelationInfo for the same relation id.
    await h.sql`alter table public.items add column extra text default 'e'`
    await h.sql`insert into items (id, title, extra) values (4, 'after alter', 'ex')`
    n += 1
    // Over the transaction bound: 20 kept, the other 5 inserts and 3 updates become two OmittedChanges.
    await h.sql.begin(async (sql) => {
      await sql`insert into bulk select i, 'v' || i from generate_series(1, 25) i`
      await sql`update bulk set v = 'w' where id <= 3`
    })
    n += 22
    items = await log.until(n)
  }, 60_000)
  afterAll(async () => { await h.close() })

  it('the stream holds every shape the codec must carry', () => {
    const changes = items.filter(isChange)
    expect(changes.some((c) => c.newTuple?.includes(undefined))).toBe(true) // unchanged TOAST
    expect(changes.some((c) => c.keyTuple !== null)).toBe(true) // DEFAULT identity, key changed / delete
    expect(changes.some((c) => c.oldTuple !== null && c.table === 'full_items')).toBe(true) // FULL
    expect(changes.some((c) => c.newTuple?.includes(null))).toBe(true)
    expect(changes.filter((c) => c instanceof OmittedChanges).map((c) => [c.type, (c as OmittedChanges).count])).toEqual([['INSERT', 5], ['UPDATE', 3]])
    const broadcasts = items.filter((i) => !isChange(i)) as DatabaseBroadcast[]
    expect(broadcasts.map((b) => [b.payloadJson === null, b.binaryPayload?.toString('hex') ?? null])).toEqual([[false, null], [true, '00010203fffe']])
    const itemsRelations = new Set(changes.filter((c) => c.table === 'items').map((c) => c.relation))
    expect(itemsRelations.size).toBe(2)
  })

  it('round-trips the whole stream as one batch, item by item', () => {
    const bytes = encodeChangeBatch(items)
    const decoded = decodeChangeBatch(bytes)
    expect(decoded).toHaveLength(items.length)
    items.forEach((item, i) => expectSameItem(item, decoded[i]!, `item ${i}`))
    // Relations are shared within the decoded batch as they were before (and each written once).
    const relationsBefore = new Set(items.filter(isChange).map((c) => c.relation))
    const relationsAfter = new Set(decoded.filter(isChange).map((c) => c.relation))
    expect(relationsAfter.size).toBe(relationsBefore.size)
    // Positions are per item: the receiving log assigns seq on its own objects.
    expect(new Set(decoded.map((d) => d.position)).size).toBe(decoded.length)
  })

  it('round-trips each item as a batch of its own', () => {
    items.forEach((item, i) => {
      const [decoded, ...rest] = decodeChangeBatch(encodeChangeBatch([item]))
      expect(rest).toEqual([])
      expectSameItem(item, decoded!, `item ${i} alone`)
    })
  })

  it('routes decoded changes to the same bindings (filters by column type)', async () => {
    const raw = [
      { event: '*', schema: 'public', table: 'items' },
      { event: 'UPDATE', schema: 'public', table: 'full_items', filter: 'id=eq.1' },
      { event: '*', schema: 'public', table: 'items', filter: 'price=gt.1' },
      { event: 'DELETE', schema: 'public', table: 'full_items', filter: 'title=eq.oat milk' },
      { event: '*', schema: 'public', table: 'items', filter: 'id=in.(2,3)' },
      { event: 'INSERT', schema: 'public', table: 'bulk', filter: 'id=eq.7' },
      { event: '*', schema: 'public', table: 'full_items', filter: 'done=eq.true' },
    ]
    const prepared = await h.service.prepare(raw, serviceRole)
    if (!prepared.ok) throw new Error(prepared.error)
    const index = new SubscriptionIndex<string>()
    prepared.bindings.forEach((b, i) => index.add({ ...b, subscriber: `s${i}` }))
    const route = (c: Change) => [...index.match(c)].map(([s, bs]) => `${s}:${bs.map((b) => b.id).join(',')}`).sort()
    const changes = items.filter(isChange)
    const decoded = decodeChangeBatch(encodeChangeBatch(changes)) as Change[]
    let routed = 0
    changes.forEach((c, i) => {
      expect(route(decoded[i]!), `change ${i}`).toEqual(route(c))
      if (route(c).length > 1) routed++
    })
    expect(routed).toBeGreaterThan(3)
  })
})

// ─── without Postgres ──────────────────────────────────────────────────────────────────────

const type = (oid: number, name: string, kind: TypeInfo['kind']): TypeInfo => ({ oid, name, kind, element: null, delimiter: ',' })
const TYPES = new Map<number, TypeInfo>([
  [23, type(23, 'int4', 'number')], [25, type(25, 'text', 'text')], [16, type(16, 'bool', 'bool')],
  [1184, type(1184, 'timestamptz', 'timestamptz')], [1700, type(1700, 'numeric', 'number')],
])
const RELATION: RelationInfo = relationInfo({
  relationId: 16_385, schema: 'public', table: 'todos', replicaIdentity: 'd',
  columns: [
    { isKey: true, name: 'id', typeOid: 23, typeMod: -1 }, { isKey: false, name: 'title', typeOid: 25, typeMod: -1 },
    { isKey: false, name: 'done', typeOid: 16, typeMod: -1 }, { isKey: false, name: 'due', typeOid: 1184, typeMod: -1 },
    { isKey: false, name: 'price', typeOid: 1700, typeMod: -1 },
  ],
}, TYPES)

/** `n` changes of a typical 5-column table: 60% inserts, 30% updates, 10% deletes, 10 per transaction. */
function typicalChanges(n: number): Change[] {
  const out: Change[] = []
  for (let i = 0; i < n; i++) {
    const lsn = 0x1_6b37_4d48n + BigInt(Math.floor(i / 10) * 512)
    const ts = new Date(1_740_830_400_000 + Math.floor(i / 10) * 7).toISOString()
    const row = [String(i), `buy milk and bread #${i}`, i % 2 ? 't' : 'f', '2025-03-01 12:00:00.123+00', `${i}.50`]
    const position = { lsn, index: i % 10, seq: i + 1 }
    const xid = 1_000 + Math.floor(i / 10)
    const kind = i % 10
    if (kind < 6) out.push(new Change(RELATION, 'INSERT', row, null, null, ts, position, tupleBytes(row), xid))
    else if (kind < 9) out.push(new Change(RELATION, 'UPDATE', row, null, null, ts, position, tupleBytes(row), xid))
    else {
      const key = [String(i), null, null, null, null]
      out.push(new Change(RELATION, 'DELETE', null, null, key, ts, position, tupleBytes(key), xid))
    }
  }
  return out
}

describe('change codec: speed', () => {
  it('encodes and decodes 10,000 typical changes (time printed, not asserted)', () => {
    const changes = typicalChanges(10_000)
    // Warm up (JIT), then measure the best of a few rounds.
    for (let i = 0; i < 3; i++) decodeChangeBatch(encodeChangeBatch(changes))
    let best = { encode: Infinity, decode: Infinity }
    let bytes = 0
    for (let round = 0; round < 5; round++) {
      const t0 = performance.now()
      const buf = encodeChangeBatch(changes)
      const t1 = performance.now()
      const back = decodeChangeBatch(buf)
      const t2 = performance.now()
      expect(back).toHaveLength(changes.length)
      bytes = buf.length
      best = { encode: Math.min(best.encode, t1 - t0), decode: Math.min(best.decode, t2 - t1) }
    }
    const json = Buffer.byteLength(JSON.stringify(changes.map((c) => ({ t: c.type, n: c.newTuple, k: c.keyTuple, r: c.relation, ts: c.commitTimestamp, p: { ...c.position, lsn: String(c.position.lsn) } }))))
    console.log(`change codec: 10,000 changes (5 columns): encode ${best.encode.toFixed(1)} ms, decode ${best.decode.toFixed(1)} ms, ` +
      `${bytes} bytes (${(bytes / 10_000).toFixed(1)} B/change; JSON with the relation per change: ${json} bytes)`)
    const decoded = decodeChangeBatch(encodeChangeBatch(changes)) as Change[]
    expect(decoded[9]!.oldRecord).toStrictEqual(changes[9]!.oldRecord)
    expect(decoded[123]!.record).toStrictEqual(changes[123]!.record)
  })
})

describe('change codec: bad input', () => {
  const sample = (): ChangeBatchItem[] => {
    const broadcast: DatabaseBroadcast = {
      topic: 'room:1', event: 'bin', private: true, id: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', payloadJson: null,
      binaryPayload: Buffer.from([0, 1, 2, 255]), position: { lsn: 99n, index: 3, seq: 7 },
    }
    const array: TypeInfo = { oid: 1009, name: '_text', kind: 'array', element: type(25, 'text', 'text'), delimiter: ',' }
    const withArray = relationInfo({ relationId: 7, schema: 's', table: 't', replicaIdentity: 'f', columns: [
      { isKey: true, name: 'tags', typeOid: 1009, typeMod: -1 }, { isKey: true, name: 'more', typeOid: 1009, typeMod: -1 },
    ] }, new Map([[1009, array]]))
    return [
      ...typicalChanges(10), broadcast,
      // Inline and long texts, ASCII and not.
      new Change(withArray, 'UPDATE', ['{a,b}', undefined], ['{a}', `{${'"ü ✓ 😀",'.repeat(100)}"x"}`], null, 'ts', { lsn: 100n, index: 0, seq: 8 }, 10, 5),
      new OmittedChanges(RELATION, 'DELETE', 'ts', { lsn: 100n, index: 1, seq: 9 }, 12_345, 5),
    ]
  }

  it('round-trips the hand-built sample (nested array type, broadcast, omitted)', () => {
    const items = sample()
    const decoded = decodeChangeBatch(encodeChangeBatch(items))
    items.forEach((item, i) => expectSameItem(item, decoded[i]!, `item ${i}`))
    const arrayColumns = (decoded[11] as Change).relation.columns
    expect(arrayColumns[0]!.type).toBe(arrayColumns[1]!.type) // one TypeInfo, as before
  })

  it('splits into batches near maxBytes, each decodable on its own, together the items in order', () => {
    const items = [...sample(), ...typicalChanges(500)]
    const batches = encodeChangeBatches(items, 2_000)
    expect(batches.length).toBeGreaterThan(10)
    for (const b of batches) expect(b.length).toBeLessThan(2_000 + 300) // cut after the item that crossed it
    const decoded = batches.flatMap((b) => decodeChangeBatch(b))
    expect(decoded).toHaveLength(items.length)
    items.forEach((item, i) => expectSameItem(item, decoded[i]!, `item ${i}`))
    expect(encodeChangeBatches(items)).toHaveLength(1)
    expect(encodeChangeBatches([])).toEqual([])
    expect(decodeChangeBatch(encodeChangeBatch([]))).toEqual([])
  })

  it('throws a ChangeCodecError for the wrong magic, a foreign version, trailing bytes, an empty buffer', () => {
    const good = encodeChangeBatch(sample())
    expect(() => decodeChangeBatch(Buffer.alloc(0))).toThrow(ChangeCodecError)
    expect(() => decodeChangeBatch(Buffer.from('{"not":"a batch"}'))).toThrow(/bad magic/)
    const version = Buffer.from(good)
    version[2] = CHANGE_CODEC_VERSION + 1
    expect(() => decodeChangeBatch(version)).toThrow(/unsupported version/)
    expect(() => decodeChangeBatch(Buffer.concat([good, Buffer.from([0])]))).toThrow(/after the last item/)
    // A huge count is refused before anything is allocated.
    expect(() => decodeChangeBatch(Buffer.from([0x53, 0x42, CHANGE_CODEC_VERSION, 0xff, 0xff, 0xff, 0x7f, 0]))).toThrow(/exceeds/)
    expect(() => encodeChangeBatch([{ nope: true } as unknown as ChangeBatchItem])).toThrow(ChangeCodecError)
  })

  it('every truncation, every single-byte corruption and random bytes: decoded or a ChangeCodecError, never anything else', () => {
    const good = encodeChangeBatch(sample())
    const attempt = (buf: Buffer): void => {
      try {
        decodeChangeBatch(buf)
      } catch (error) {
        expect(error).toBeInstanceOf(ChangeCodecError)
      }
    }
    for (let n = 0; n < good.length; n++) expect(() => decodeChangeBatch(good.subarray(0, n))).toThrow(ChangeCodecError)
    for (let i = 0; i < good.length; i++) {
      for (const value of [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, good[i]! ^ 0x10]) {
        const bad = Buffer.from(good)
        bad[i] = value
        attempt(bad)
      }
    }
    let seed = 42
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
    for (let i = 0; i < 2_000; i++) {
      const buf = Buffer.alloc(1 + Math.floor(random() * 200))
      for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(random() * 256)
      if (i % 2 === 0) { buf[0] = 0x53; buf[1] = 0x42; buf[2] = CHANGE_CODEC_VERSION } // past the magic
      attempt(buf)
    }
  })
})
