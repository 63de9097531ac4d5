/**
 * A decoder for Postgres's built-in `pgoutput` logical replication protocol (proto_version 1),
 * as pure functions over Buffers. Documented in "Logical Replication Message Formats"
 * (https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html); the
 * same shape as postgres.js `src/subscribe.js` `parse()` and Supabase's `decoder.ex`.
 *
 * Values arrive in text format (we never ask for `binary`), so every column is `string`,
 * `null` (SQL NULL) or `undefined` (an unchanged TOASTed value the WAL did not carry).
 * Turning text into JSON happens later, by type (see value-renderer.ts).
 */

/** One column of a tuple: text, SQL NULL, or `undefined` for "unchanged TOAST, not sent". */
export type TupleValue = string | null | undefined

export interface RelationColumn {
  /** Part of the replica identity (the primary key with DEFAULT, every column with FULL). */
  isKey: boolean
  name: string
  typeOid: number
  typeMod: number
}

/** `d` default (PK), `n` nothing, `f` full, `i` index. */
export type ReplicaIdentity = 'd' | 'n' | 'f' | 'i'

export type PgOutputMessage =
  | { tag: 'begin'; finalLsn: bigint; commitTime: bigint; xid: number }
  | { tag: 'commit'; flags: number; commitLsn: bigint; endLsn: bigint; commitTime: bigint }
  | { tag: 'origin'; originLsn: bigint; name: string }
  | { tag: 'relation'; relationId: number; schema: string; table: string; replicaIdentity: ReplicaIdentity; columns: RelationColumn[] }
  | { tag: 'type'; typeOid: number; schema: string; name: string }
  | { tag: 'insert'; relationId: number; newTuple: TupleValue[] }
  | { tag: 'update'; relationId: number; keyTuple: TupleValue[] | null; oldTuple: TupleValue[] | null; newTuple: TupleValue[] }
  | { tag: 'delete'; relationId: number; keyTuple: TupleValue[] | null; oldTuple: TupleValue[] | null }
  | { tag: 'truncate'; options: number; relationIds: number[] }
  | { tag: 'message'; flags: number; lsn: bigint; prefix: string; content: Buffer }

/** A cursor over one message; each read advances it. */
class Reader {
  offset = 0
  constructor(readonly buf: Buffer) {}
  u8(): number { return this.buf.readUInt8(this.offset++) }
  i16(): number { const v = this.buf.readInt16BE(this.offset); this.offset += 2; return v }
  u32(): number { const v = this.buf.readUInt32BE(this.offset); this.offset += 4; return v }
  i32(): number { const v = this.buf.readInt32BE(this.offset); this.offset += 4; return v }
  u64(): bigint { const v = this.buf.readBigUInt64BE(this.offset); this.offset += 8; return v }
  i64(): bigint { const v = this.buf.readBigInt64BE(this.offset); this.offset += 8; return v }
  cstring(): string {
    const end = this.buf.indexOf(0, this.offset)
    if (end < 0) throw new RangeError('pgoutput: unterminated string')
    const s = this.buf.toString('utf8', this.offset, end)
    this.offset = end + 1
    return s
  }
  bytes(n: number): Buffer {
    if (this.offset + n > this.buf.length) throw new RangeError('pgoutput: value runs past the message')
    const b = this.buf.subarray(this.offset, this.offset + n)
    this.offset += n
    return b
  }
}

function readTuple(r: Reader): TupleValue[] {
  const count = r.i16()
  const values: TupleValue[] = new Array(count)
  for (let i = 0; i < count; i++) {
    const kind = r.u8()
    if (kind === 0x6e /* n */) values[i] = null
    else if (kind === 0x75 /* u */) values[i] = undefined
    else if (kind === 0x74 /* t */ || kind === 0x62 /* b */) {
      const len = r.i32()
      // Binary values are only sent when asked for; decode as text to stay total.
      values[i] = r.bytes(len).toString('utf8')
    } else throw new RangeError(`pgoutput: unknown tuple value kind 0x${kind.toString(16)}`)
  }
  return values
}

/** Decodes one pgoutput message (the payload of an XLogData frame). Throws on malformed input. */
export function decodePgOutput(buf: Buffer): PgOutputMessage {
  const r = new Reader(buf)
  const tag = String.fromCharCode(r.u8())
  switch (tag) {
    case 'B':
      return { tag: 'begin', finalLsn: r.u64(), commitTime: r.i64(), xid: r.u32() }
    case 'C':
      return { tag: 'commit', flags: r.u8(), commitLsn: r.u64(), endLsn: r.u64(), commitTime: r.i64() }
    case 'O':
      return { tag: 'origin', originLsn: r.u64(), name: r.cstring() }
    case 'R': {
      const relationId = r.u32()
      const schema = r.cstring()
      const table = r.cstring()
      const replicaIdentity = String.fromCharCode(r.u8()) as ReplicaIdentity
      const count = r.i16()
      const columns: RelationColumn[] = []
      for (let i = 0; i < count; i++) {
        const flags = r.u8()
        columns.push({ isKey: (flags & 1) === 1, name: r.cstring(), typeOid: r.u32(), typeMod: r.i32() })
      }
      return { tag: 'relation', relationId, schema, table, replicaIdentity, columns }
    }
    case 'Y':
      return { tag: 'type', typeOid: r.u32(), schema: r.cstring(), name: r.cstring() }
    case 'I': {
      const relationId = r.u32()
      r.u8() // 'N'
      return { tag: 'insert', relationId, newTuple: readTuple(r) }
    }
    case 'U': {
      const relationId = r.u32()
      let keyTuple: TupleValue[] | null = null
      let oldTuple: TupleValue[] | null = null
      let kind = r.u8()
      if (kind === 0x4b /* K */) { keyTuple = readTuple(r); kind = r.u8() }
      else if (kind === 0x4f /* O */) { oldTuple = readTuple(r); kind = r.u8() }
      if (kind !== 0x4e /* N */) throw new RangeError('pgoutput: update without new tuple')
      return { tag: 'update', relationId, keyTuple, oldTuple, newTuple: readTuple(r) }
    }
    case 'D': {
      const relationId = r.u32()
      const kind = r.u8()
      const tuple = readTuple(r)
      return { tag: 'delete', relationId, keyTuple: kind === 0x4b ? tuple : null, oldTuple: kind === 0x4f ? tuple : null }
    }
    case 'T': {
      const count = r.u32()
      const options = r.u8()
      const relationIds: number[] = []
      for (let i = 0; i < count; i++) relationIds.push(r.u32())
      return { tag: 'truncate', options, relationIds }
    }
    case 'M': {
      const flags = r.u8()
      const lsn = r.u64()
      const prefix = r.cstring()
      const len = r.u32()
      return { tag: 'message', flags, lsn, prefix, content: r.bytes(len) }
    }
    default:
      throw new RangeError(`pgoutput: unknown message tag ${JSON.stringify(tag)}`)
  }
}
