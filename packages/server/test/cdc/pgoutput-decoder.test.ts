import { describe, expect, it } from 'vitest'
import { Change, relationInfo } from '../../src/cdc/change.js'
import { decodePgOutput, type PgOutputMessage } from '../../src/cdc/pgoutput-decoder.js'
import { decodeReplicationFrame, encodeStandbyStatus, formatCommitTimestamp, formatLsn, parseLsn } from '../../src/cdc/replication-frames.js'
import type { TypeInfo } from '../../src/cdc/value-renderer.js'
import { PGOUTPUT_V1 as F } from './fixtures/pgoutput-v1.js'

const decode = (hex: string) => decodePgOutput(Buffer.from(hex, 'hex'))
const text = (oid: number, name: string): TypeInfo => ({ oid, name, kind: oid === 23 ? 'number' : 'text', element: null, delimiter: ',' })
const TYPES = new Map<number, TypeInfo>([
  [23, text(23, 'int4')], [25, text(25, 'text')],
  [1009, { oid: 1009, name: '_text', kind: 'array', element: text(25, 'text'), delimiter: ',' }],
])

describe('pgoutput decoder (captured bytes)', () => {
  it('Begin and Commit', () => {
    expect(decode(F.begin)).toEqual({ tag: 'begin', finalLsn: 0x1b8ecd8n, commitTime: 0x303d485ff4379n, xid: 0x2f3 })
    expect(decode(F.commit)).toEqual({ tag: 'commit', flags: 0, commitLsn: 0x1b8ecd8n, endLsn: 0x1b8ed08n, commitTime: 0x303d485ff4379n })
  })

  it('Relation with key flags, type oids and replica identity', () => {
    const rel = decode(F.relationT)
    expect(rel).toMatchObject({ tag: 'relation', schema: 'public', table: 't', replicaIdentity: 'd' })
    expect((rel as Extract<PgOutputMessage, { tag: 'relation' }>).columns).toEqual([
      { isKey: true, name: 'id', typeOid: 23, typeMod: -1 },
      { isKey: false, name: 'name', typeOid: 25, typeMod: -1 },
      { isKey: false, name: 'tags', typeOid: 1009, typeMod: -1 },
      { isKey: false, name: 'big', typeOid: 25, typeMod: -1 },
    ])
    expect(decode(F.relationFull)).toMatchObject({ replicaIdentity: 'f', columns: [{ isKey: true }, { isKey: true }] })
  })

  it("Update with an unchanged TOAST value ('u')", () => {
    expect(decode(F.updateToast)).toEqual({ tag: 'update', relationId: 0x4001, keyTuple: null, oldTuple: null, newTuple: ['1', 'b', '{x,y}', undefined] })
  })

  it("Update that changed the key carries a 'K' tuple; Delete with DEFAULT identity too", () => {
    expect(decode(F.updateKeyChange)).toEqual({ tag: 'update', relationId: 0x4001, keyTuple: ['1', null, null, null], oldTuple: null, newTuple: ['2', 'b', '{x,y}', undefined] })
    expect(decode(F.deleteDefault)).toEqual({ tag: 'delete', relationId: 0x4001, keyTuple: ['2', null, null, null], oldTuple: null })
  })

  it("REPLICA IDENTITY FULL: 'O' tuples, NULL values ('n')", () => {
    expect(decode(F.insertNull)).toEqual({ tag: 'insert', relationId: 0x400b, newTuple: ['1', null] })
    expect(decode(F.updateFull)).toEqual({ tag: 'update', relationId: 0x400b, keyTuple: null, oldTuple: ['1', null], newTuple: ['1', 'q'] })
    expect(decode(F.deleteFull)).toEqual({ tag: 'delete', relationId: 0x400b, keyTuple: null, oldTuple: ['1', 'q'] })
  })

  it('Truncate', () => {
    expect(decode(F.truncate)).toEqual({ tag: 'truncate', options: 0, relationIds: [0x4001] })
  })

  it('rejects unknown tags and truncated messages', () => {
    expect(() => decode('5a00')).toThrow(/unknown message tag/)
    expect(() => decode(F.insertNull.slice(0, 24))).toThrow()
  })

  it('builds Changes: TOAST omitted without an old row, key columns for old_record, K tuple non-keys absent', () => {
    const rel = decode(F.relationT) as Extract<PgOutputMessage, { tag: 'relation' }>
    const info = relationInfo(rel, TYPES)
    const upd = decode(F.updateToast) as Extract<PgOutputMessage, { tag: 'update' }>
    const change = new Change(info, 'UPDATE', upd.newTuple, upd.oldTuple, upd.keyTuple, 'ts', { lsn: 1n, index: 0, seq: 0 }, 10)
    expect(change.record).toEqual({ id: 1, name: 'b', tags: ['x', 'y'] })
    expect(change.oldRecord).toEqual({ id: 1 })
    const del = decode(F.deleteDefault) as Extract<PgOutputMessage, { tag: 'delete' }>
    const gone = new Change(info, 'DELETE', null, del.oldTuple, del.keyTuple, 'ts', { lsn: 1n, index: 0, seq: 0 }, 10)
    expect(gone.oldRecord).toEqual({ id: 2 })
    expect(gone.value('id')).toBe('2')
    expect(gone.value('name')).toBeUndefined()
  })
})

describe('replication frames', () => {
  it('XLogData and keepalive', () => {
    const x = Buffer.concat([Buffer.from('77', 'hex'), Buffer.alloc(24), Buffer.from(F.begin, 'hex')])
    x.writeBigUInt64BE(5n, 1)
    expect(decodeReplicationFrame(x)).toMatchObject({ kind: 'xlog', walStart: 5n, data: Buffer.from(F.begin, 'hex') })
    const k = Buffer.alloc(18)
    k[0] = 0x6b
    k.writeBigUInt64BE(0x1234n, 1)
    k[17] = 1
    expect(decodeReplicationFrame(k)).toEqual({ kind: 'keepalive', walEnd: 0x1234n, sendTime: 0n, replyRequested: true })
  })

  it('standby status update', () => {
    const s = encodeStandbyStatus(0x10n, Date.UTC(2000, 0, 1) + 1)
    expect(s.length).toBe(34)
    expect(s[0]).toBe(0x72)
    expect(s.readBigUInt64BE(9)).toBe(0x10n)
    expect(s.readBigInt64BE(25)).toBe(1000n)
  })

  it('LSN text and commit timestamps', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n)
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848')
    expect(formatCommitTimestamp(0n)).toBe('2000-01-01T00:00:00.000Z')
    expect(formatCommitTimestamp(1_500_000n)).toBe('2000-01-01T00:00:01.500Z')
  })
})
