/**
 * A decoded batch of changes as bytes, for shipping from the node that reads the replication
 * slot (the leader) to every node of a cluster, and back into objects that behave exactly like
 * the ones the leader decoded: real `Change` (or `OmittedChanges`) instances over the same
 * RelationInfo/TypeInfo, and plain DatabaseBroadcasts. Pure: Buffer in, objects out.
 *
 * Why not JSON: tuples hold `undefined` (unchanged TOAST) apart from `null`, positions hold a
 * bigint, broadcasts hold raw bytes, and every change would repeat its relation (names, types,
 * key flags). Here a relation (and each TypeInfo) is written once per batch, where it is first
 * used, and later items refer to it by index; the transaction's fields (LSN, commit timestamp,
 * xid) are written once per run of changes that share them.
 *
 *   batch   := 'S' 'B' version:u8 count:u32le item*             (nothing may follow)
 *   item    := head:u8 …                 head = kind | type<<2 | sameTxn<<4 | tuples<<5
 *     change   : txn? relRef index seq byteSize tuple{new, old, key as flagged}
 *     omitted  : txn? relRef index seq count
 *     broadcast: flags:u8 topic event id payloadJson? binary? lsn:u64 index seq
 *   txn     := lsn:u64le commitTimestamp:text xid:uvarint       (absent when sameTxn)
 *   relRef  := uvarint: an earlier relation's index, or the next index and its definition:
 *              id:uvarint schema table replicaIdentity:u8 n:uvarint (name isKey:u8 typeRef)*n
 *   typeRef := the same scheme: oid:uvarint name kind:u8 delimiter elementRef (0 = none, i+1)
 *   text    := 0 (null) | 1 (undefined) | 2 len:u32le bytes | 3+len bytes   (len ≤ 252 inline)
 *
 * Types are numbered after their element type (post-order), so a reference always points
 * backwards: a decoded graph has no cycles, and nesting is bounded (MAX_TYPE_DEPTH).
 *
 * Garbage in: every count is checked against the bytes left before anything is allocated, every
 * read is bounds-checked, and each enum byte is validated, so `decodeChangeBatch` either returns
 * or throws a ChangeCodecError — in time linear in the input, never a hang.
 */
import { Change, type ChangePosition, type RelationInfo } from './change.js'
import type { DatabaseBroadcast } from './database-broadcast.js'
import type { ReplicaIdentity, TupleValue } from './pgoutput-decoder.js'
import type { ChangeType } from './subscription-index.js'
import { OmittedChanges } from './transaction-overflow.js'
import type { RenderKind, TypeInfo } from './value-renderer.js'

/** What the service's decode step produces, and what a batch carries. */
export type ChangeBatchItem = Change | DatabaseBroadcast

/** Bumped on any change of the layout: nodes of different versions refuse each other's batches loudly. */
export const CHANGE_CODEC_VERSION = 1

/** Thrown for bytes that are not a batch of this version (truncated, corrupt, foreign). */
export class ChangeCodecError extends Error {
  readonly code = 'ChangeCodecError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(`change codec: ${message}`, options)
    this.name = 'ChangeCodecError'
  }
}

const MAGIC_0 = 0x53 // S
const MAGIC_1 = 0x42 // B

const KIND_CHANGE = 0
const KIND_OMITTED = 1
const KIND_BROADCAST = 2

const TYPES: readonly ChangeType[] = ['INSERT', 'UPDATE', 'DELETE']
const TYPE_CODE: Readonly<Record<ChangeType, number>> = { INSERT: 0, UPDATE: 1, DELETE: 2 }
const SAME_TXN = 1 << 4
const HAS_NEW = 1 << 5
const HAS_OLD = 1 << 6
const HAS_KEY = 1 << 7

const BROADCAST_PRIVATE = 1
const BROADCAST_JSON = 2
const BROADCAST_BINARY = 4

const RENDER_KINDS: readonly RenderKind[] = ['number', 'bool', 'json', 'timestamp', 'timestamptz', 'bytea', 'text', 'array']
const RENDER_KIND_CODE = new Map<RenderKind, number>(RENDER_KINDS.map((k, i) => [k, i]))
const REPLICA_IDENTITIES: ReadonlySet<string> = new Set<ReplicaIdentity>(['d', 'n', 'f', 'i'])

const TEXT_NULL = 0
const TEXT_UNDEFINED = 1
const TEXT_LONG = 2
const TEXT_INLINE = 3
/** Longest inline text, bytes (header byte 3 + len ≤ 255). */
const INLINE_MAX_BYTES = 252
/** Strings this short fit inline whatever their characters (UTF-8 takes ≤ 3 bytes per UTF-16 unit). */
const INLINE_MAX_CHARS = Math.floor(INLINE_MAX_BYTES / 3)
/** Element-of-element-of… nesting accepted (Postgres itself has one level; this also stops a cyclic TypeInfo). */
const MAX_TYPE_DEPTH = 8

// ─── encoding ──────────────────────────────────────────────────────────────────────────────

/** An append-only byte buffer that doubles when full. */
class Writer {
  buf: Buffer
  offset = 0

  constructor(initial: number) {
    this.buf = Buffer.allocUnsafe(initial)
  }

  ensure(n: number): void {
    if (this.offset + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.offset + n) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.offset)
    this.buf = next
  }

  u8(v: number): void {
    this.ensure(1)
    this.buf[this.offset++] = v
  }

  /** Unsigned LEB128 for any safe integer (arithmetic, not bit operations: those stop at 2^31). */
  uvarint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new ChangeCodecError(`cannot encode ${v} as an unsigned integer`)
    this.ensure(8)
    while (v >= 0x80) {
      this.buf[this.offset++] = (v % 0x80) | 0x80
      v = Math.floor(v / 0x80)
    }
    this.buf[this.offset++] = v
  }

  u64(v: bigint): void {
    this.ensure(8)
    this.buf.writeBigUInt64LE(v, this.offset)
    this.offset += 8
  }

  text(s: string | null | undefined): void {
    if (s === null) return this.u8(TEXT_NULL)
    if (s === undefined) return this.u8(TEXT_UNDEFINED)
    const n = s.length
    if (n <= INLINE_MAX_CHARS) {
      this.ensure(1 + n * 3)
      const start = this.offset + 1
      // Short ASCII (most column values, names, timestamps) is copied here: a call into
      // Buffer#write per value costs more than the loop.
      let i = 0
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) break
        this.buf[start + i] = c
      }
      const len = i === n ? n : this.buf.write(s, start, 'utf8')
      this.buf[this.offset] = TEXT_INLINE + len
      this.offset = start + len
      return
    }
    this.ensure(5 + n * 3)
    const len = this.buf.write(s, this.offset + 5, 'utf8')
    this.buf[this.offset] = TEXT_LONG
    this.buf.writeUInt32LE(len, this.offset + 1)
    this.offset += 5 + len
  }

  bytes(b: Uint8Array): void {
    this.uvarint(b.length)
    this.ensure(b.length)
    this.buf.set(b, this.offset)
    this.offset += b.length
  }
}

class BatchEncoder {
  readonly w: Writer
  readonly #relations = new Map<RelationInfo, number>()
  readonly #types = new Map<TypeInfo, number>()
  #lastTxn: { lsn: bigint; commitTimestamp: string; xid: number } | null = null

  constructor(sizeHint: number) {
    this.w = new Writer(sizeHint)
  }

  item(item: ChangeBatchItem): void {
    if (item instanceof Change) this.#change(item)
    else if (isDatabaseBroadcast(item)) this.#broadcast(item)
    else throw new ChangeCodecError('cannot encode an item that is neither a Change nor a DatabaseBroadcast')
  }

  #change(c: Change): void {
    const omitted = c instanceof OmittedChanges
    const same = this.#lastTxn !== null && this.#lastTxn.lsn === c.position.lsn &&
      this.#lastTxn.commitTimestamp === c.commitTimestamp && this.#lastTxn.xid === c.xid
    const typeCode = TYPE_CODE[c.type]
    if (typeCode === undefined) throw new ChangeCodecError(`cannot encode change type ${JSON.stringify(c.type)}`)
    let head = (omitted ? KIND_OMITTED : KIND_CHANGE) | (typeCode << 2) | (same ? SAME_TXN : 0)
    if (!omitted) {
      if (c.newTuple) head |= HAS_NEW
      if (c.oldTuple) head |= HAS_OLD
      if (c.keyTuple) head |= HAS_KEY
    }
    const w = this.w
    w.u8(head)
    if (!same) {
      w.u64(c.position.lsn)
      w.text(c.commitTimestamp)
      w.uvarint(c.xid)
      this.#lastTxn = { lsn: c.position.lsn, commitTimestamp: c.commitTimestamp, xid: c.xid }
    }
    this.#relation(c.relation)
    w.uvarint(c.position.index)
    w.uvarint(c.position.seq)
    if (omitted) {
      w.uvarint(c.count)
      return
    }
    w.uvarint(c.byteSize)
    if (c.newTuple) this.#tuple(c.newTuple)
    if (c.oldTuple) this.#tuple(c.oldTuple)
    if (c.keyTuple) this.#tuple(c.keyTuple)
  }

  #tuple(t: readonly TupleValue[]): void {
    this.w.uvarint(t.length)
    for (let i = 0; i < t.length; i++) this.w.text(t[i])
  }

  #relation(r: RelationInfo): void {
    const known = this.#relations.get(r)
    if (known !== undefined) return this.w.uvarint(known)
    const index = this.#relations.size
    this.#relations.set(r, index)
    const w = this.w
    w.uvarint(index)
    w.uvarint(r.id)
    w.text(r.schema)
    w.text(r.table)
    w.u8(r.replicaIdentity.charCodeAt(0))
    w.uvarint(r.columns.length)
    for (const column of r.columns) {
      if (!column.type) throw new ChangeCodecError(`column ${r.schema}.${r.table}.${column.name} has no type`)
      w.text(column.name)
      w.u8(column.isKey ? 1 : 0)
      this.#type(column.type)
    }
  }

  /** References `t`: an earlier type's index, or the next index and its definition. */
  #type(t: TypeInfo): void {
    const known = this.#types.get(t)
    if (known !== undefined) return this.w.uvarint(known)
    this.w.uvarint(this.#types.size)
    this.#typeDefinition(t, 0)
  }

  /** Defines `t` after its element (post-order): its index is taken once the element has one. */
  #typeDefinition(t: TypeInfo, depth: number): void {
    if (depth >= MAX_TYPE_DEPTH) throw new ChangeCodecError(`type ${t.name}: array element types nested deeper than ${MAX_TYPE_DEPTH}`)
    const w = this.w
    w.uvarint(t.oid)
    w.text(t.name)
    const kind = RENDER_KIND_CODE.get(t.kind)
    if (kind === undefined) throw new ChangeCodecError(`cannot encode render kind ${JSON.stringify(t.kind)}`)
    w.u8(kind)
    w.text(t.delimiter)
    // The element's reference is shifted by one (0 = no element).
    if (t.element === null) w.uvarint(0)
    else {
      const element = this.#types.get(t.element)
      if (element !== undefined) w.uvarint(element + 1)
      else {
        w.uvarint(this.#types.size + 1)
        this.#typeDefinition(t.element, depth + 1)
      }
    }
    this.#types.set(t, this.#types.size)
  }

  #broadcast(b: DatabaseBroadcast): void {
    const w = this.w
    w.u8(KIND_BROADCAST)
    w.u8((b.private ? BROADCAST_PRIVATE : 0) | (b.payloadJson !== null ? BROADCAST_JSON : 0) | (b.binaryPayload !== null ? BROADCAST_BINARY : 0))
    w.text(b.topic)
    w.text(b.event)
    w.text(b.id)
    if (b.payloadJson !== null) w.text(b.payloadJson)
    if (b.binaryPayload !== null) w.bytes(b.binaryPayload)
    w.u64(b.position.lsn)
    w.uvarint(b.position.index)
    w.uvarint(b.position.seq)
  }
}

function isDatabaseBroadcast(item: unknown): item is DatabaseBroadcast {
  return typeof item === 'object' && item !== null && typeof (item as DatabaseBroadcast).topic === 'string' && 'position' in item
}

const HEADER_BYTES = 7

function startBatch(sizeHint: number): BatchEncoder {
  const encoder = new BatchEncoder(Math.max(256, sizeHint))
  const w = encoder.w
  w.u8(MAGIC_0)
  w.u8(MAGIC_1)
  w.u8(CHANGE_CODEC_VERSION)
  w.ensure(4)
  w.offset += 4 // the item count, written by finishBatch
  return encoder
}

function finishBatch(encoder: BatchEncoder, count: number): Buffer {
  const w = encoder.w
  w.buf.writeUInt32LE(count, HEADER_BYTES - 4)
  // A copy of the used part: the working buffer may be up to twice as large.
  return Buffer.from(w.buf.subarray(0, w.offset))
}

/**
 * Encodes decoded items (in order) into one Buffer.
 *
 * @example
 * const bytes = encodeChangeBatch(items)          // on the leader, after decoding
 * const same = decodeChangeBatch(bytes)           // on every node: Change instances again
 */
export function encodeChangeBatch(items: readonly ChangeBatchItem[]): Buffer {
  const encoder = startBatch(items.length * 64)
  for (const item of items) encoder.item(item)
  return finishBatch(encoder, items.length)
}

/** Default `maxBytes` of encodeChangeBatches: well under Redis's 512 MB bulk-string ceiling, small enough not to stall a connection. */
export const DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024

/**
 * Encodes items into as many batches as it takes to keep each near `maxBytes` (cut between
 * items, so one item bigger than that makes a batch of its own). Each batch decodes on its own
 * (its relations are defined in it); decoding them in order gives the items in order.
 * A transaction's changes may be cut across batches: the receiver sees them in order either way.
 */
export function encodeChangeBatches(items: readonly ChangeBatchItem[], maxBytes = DEFAULT_MAX_BATCH_BYTES): Buffer[] {
  if (!(maxBytes > HEADER_BYTES)) throw new RangeError(`maxBytes must exceed ${HEADER_BYTES}`)
  const out: Buffer[] = []
  let encoder: BatchEncoder | null = null
  let count = 0
  for (const item of items) {
    encoder ??= startBatch(Math.min(maxBytes, items.length * 64))
    encoder.item(item)
    count++
    if (encoder.w.offset >= maxBytes) {
      out.push(finishBatch(encoder, count))
      encoder = null
      count = 0
    }
  }
  if (encoder) out.push(finishBatch(encoder, count))
  return out
}

// ─── decoding ──────────────────────────────────────────────────────────────────────────────

/** A bounds-checked cursor: every read past the end throws a ChangeCodecError. */
class Reader {
  offset = 0
  constructor(readonly buf: Buffer) {}

  get left(): number {
    return this.buf.length - this.offset
  }

  #need(n: number, what: string): void {
    if (this.offset + n > this.buf.length) throw new ChangeCodecError(`truncated batch: ${what} runs past the end at byte ${this.offset}`)
  }

  u8(what: string): number {
    this.#need(1, what)
    return this.buf[this.offset++]!
  }

  uvarint(what: string): number {
    let v = 0
    let scale = 1
    for (let i = 0; i < 8; i++) {
      const b = this.u8(what)
      v += (b & 0x7f) * scale
      if (b < 0x80) {
        if (!Number.isSafeInteger(v)) break
        return v
      }
      scale *= 0x80
    }
    throw new ChangeCodecError(`${what}: integer out of range at byte ${this.offset}`)
  }

  /** A count of things that take at least one byte each: more than the bytes left is corruption. */
  count(what: string): number {
    const n = this.uvarint(what)
    if (n > this.left) throw new ChangeCodecError(`${what}: ${n} exceeds the ${this.left} bytes left`)
    return n
  }

  u32(what: string): number {
    this.#need(4, what)
    const v = this.buf.readUInt32LE(this.offset)
    this.offset += 4
    return v
  }

  u64(what: string): bigint {
    this.#need(8, what)
    const v = this.buf.readBigUInt64LE(this.offset)
    this.offset += 8
    return v
  }

  /** A text that may be null/undefined (tuple values). */
  value(what: string): TupleValue {
    const h = this.u8(what)
    if (h === TEXT_NULL) return null
    if (h === TEXT_UNDEFINED) return undefined
    let len: number
    if (h === TEXT_LONG) len = this.u32(what)
    else len = h - TEXT_INLINE
    this.#need(len, what)
    const start = this.offset
    this.offset += len
    return this.buf.toString('utf8', start, start + len)
  }

  text(what: string): string {
    const v = this.value(what)
    if (typeof v !== 'string') throw new ChangeCodecError(`${what}: expected text, got ${v === null ? 'null' : 'undefined'} at byte ${this.offset - 1}`)
    return v
  }

  bytes(what: string): Buffer {
    const n = this.count(what)
    const b = Buffer.from(this.buf.subarray(this.offset, this.offset + n)) // a copy: must not pin the batch
    this.offset += n
    return b
  }
}

class BatchDecoder {
  readonly #relations: RelationInfo[] = []
  readonly #types: TypeInfo[] = []
  #txn: { lsn: bigint; commitTimestamp: string; xid: number } | null = null

  constructor(readonly r: Reader) {}

  item(): ChangeBatchItem {
    const head = this.r.u8('item header')
    const kind = head & 0b11
    if (kind === KIND_BROADCAST) {
      if (head !== KIND_BROADCAST) throw new ChangeCodecError(`invalid broadcast header 0x${head.toString(16)}`)
      return this.#broadcast()
    }
    if (kind !== KIND_CHANGE && kind !== KIND_OMITTED) throw new ChangeCodecError(`invalid item kind ${kind}`)
    const type = TYPES[(head >> 2) & 0b11]
    if (type === undefined) throw new ChangeCodecError(`invalid change type ${(head >> 2) & 0b11}`)
    if (kind === KIND_OMITTED && (head & (HAS_NEW | HAS_OLD | HAS_KEY)) !== 0) throw new ChangeCodecError('an omitted change with tuples')
    const r = this.r
    let txn = this.#txn
    if (head & SAME_TXN) {
      if (txn === null) throw new ChangeCodecError('first change refers to a previous transaction')
    } else {
      txn = { lsn: r.u64('lsn'), commitTimestamp: r.text('commit timestamp'), xid: r.uvarint('xid') }
      this.#txn = txn
    }
    const relation = this.#relation()
    const position: ChangePosition = { lsn: txn.lsn, index: r.uvarint('index'), seq: r.uvarint('seq') }
    if (kind === KIND_OMITTED) {
      return new OmittedChanges(relation, type, txn.commitTimestamp, position, r.uvarint('omitted count'), txn.xid)
    }
    const byteSize = r.uvarint('byte size')
    const newTuple = head & HAS_NEW ? this.#tuple() : null
    const oldTuple = head & HAS_OLD ? this.#tuple() : null
    const keyTuple = head & HAS_KEY ? this.#tuple() : null
    return new Change(relation, type, newTuple, oldTuple, keyTuple, txn.commitTimestamp, position, byteSize, txn.xid)
  }

  #tuple(): TupleValue[] {
    const r = this.r
    const n = r.count('tuple length')
    const values: TupleValue[] = new Array(n)
    for (let i = 0; i < n; i++) values[i] = r.value('tuple value')
    return values
  }

  #relation(): RelationInfo {
    const r = this.r
    const ref = r.uvarint('relation reference')
    if (ref < this.#relations.length) return this.#relations[ref]!
    if (ref !== this.#relations.length) throw new ChangeCodecError(`relation reference ${ref} is ahead of the ${this.#relations.length} defined`)
    const id = r.uvarint('relation id')
    const schema = r.text('schema')
    const table = r.text('table')
    const identity = String.fromCharCode(r.u8('replica identity'))
    if (!REPLICA_IDENTITIES.has(identity)) throw new ChangeCodecError(`invalid replica identity ${JSON.stringify(identity)}`)
    const n = r.count('column count')
    const columns: RelationInfo['columns'] = []
    for (let i = 0; i < n; i++) {
      const name = r.text('column name')
      const isKey = r.u8('key flag')
      if (isKey > 1) throw new ChangeCodecError(`invalid key flag ${isKey}`)
      columns.push({ name, isKey: isKey === 1, type: this.#typeRef(r.uvarint('type reference'), 0) })
    }
    const relation: RelationInfo = {
      id, schema, table, replicaIdentity: identity as ReplicaIdentity, columns,
      columnIndex: new Map(columns.map((c, i) => [c.name, i])),
    }
    this.#relations.push(relation)
    return relation
  }

  /** Resolves a type reference; the next index means a definition follows. */
  #typeRef(ref: number, depth: number): TypeInfo {
    if (ref < this.#types.length) return this.#types[ref]!
    if (ref !== this.#types.length) throw new ChangeCodecError(`type reference ${ref} is ahead of the ${this.#types.length} defined`)
    if (depth >= MAX_TYPE_DEPTH) throw new ChangeCodecError(`array element types nested deeper than ${MAX_TYPE_DEPTH}`)
    const r = this.r
    const oid = r.uvarint('type oid')
    const name = r.text('type name')
    const kind = RENDER_KINDS[r.u8('render kind')]
    if (kind === undefined) throw new ChangeCodecError('invalid render kind')
    const delimiter = r.text('array delimiter')
    const elementRef = r.uvarint('element type reference')
    const element = elementRef === 0 ? null : this.#typeRef(elementRef - 1, depth + 1)
    const type: TypeInfo = { oid, name, kind, element, delimiter }
    this.#types.push(type)
    return type
  }

  #broadcast(): DatabaseBroadcast {
    const r = this.r
    const flags = r.u8('broadcast flags')
    if (flags > (BROADCAST_PRIVATE | BROADCAST_JSON | BROADCAST_BINARY)) throw new ChangeCodecError(`invalid broadcast flags 0x${flags.toString(16)}`)
    const topic = r.text('topic')
    const event = r.text('event')
    const id = r.text('broadcast id')
    const payloadJson = flags & BROADCAST_JSON ? r.text('payload') : null
    const binaryPayload = flags & BROADCAST_BINARY ? r.bytes('binary payload') : null
    const position: ChangePosition = { lsn: r.u64('lsn'), index: r.uvarint('index'), seq: r.uvarint('seq') }
    return { topic, event, private: (flags & BROADCAST_PRIVATE) !== 0, id, payloadJson, binaryPayload, position }
  }
}

/**
 * Decodes a batch written by `encodeChangeBatch`. Changes come back as `Change`/`OmittedChanges`
 * instances; items sharing a relation share one RelationInfo (as on the leader). Each item gets
 * its own position object (the log assigns `seq` per node).
 *
 * @throws ChangeCodecError for anything that is not a whole batch of this version.
 */
export function decodeChangeBatch(buf: Buffer): ChangeBatchItem[] {
  const r = new Reader(buf)
  try {
    if (r.u8('magic') !== MAGIC_0 || r.u8('magic') !== MAGIC_1) throw new ChangeCodecError('not a change batch (bad magic)')
    const version = r.u8('version')
    if (version !== CHANGE_CODEC_VERSION) throw new ChangeCodecError(`unsupported version ${version} (this node reads ${CHANGE_CODEC_VERSION})`)
    const n = r.u32('item count')
    if (n > r.left) throw new ChangeCodecError(`item count: ${n} exceeds the ${r.left} bytes left`)
    const decoder = new BatchDecoder(r)
    const items: ChangeBatchItem[] = new Array(n)
    for (let i = 0; i < n; i++) items[i] = decoder.item()
    if (r.left !== 0) throw new ChangeCodecError(`${r.left} bytes after the last item`)
    return items
  } catch (error) {
    if (error instanceof ChangeCodecError) throw error
    throw new ChangeCodecError(`malformed batch at byte ${r.offset}`, { cause: error })
  }
}
