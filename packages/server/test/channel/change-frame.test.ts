/**
 * The postgres_changes frame encoder (src/channel/change-frame.ts): for every kind of row and
 * payload variant, both wire formats, odd topics, several binding ids and position marks, its
 * wire bytes equal what the server sent before it: the message as one string
 * (`serializer.encodeJsonPayload` around `{"ids":[…],"data":…<mark>}`), framed by ws's own
 * `Sender.frame`. Pure: no sockets, no database.
 */
import { formatStreamPoint, serializerV1, serializerV2, type Serializer } from '@switchboard/protocol'
import { describe, expect, it } from 'vitest'
import * as wsModule from 'ws'
import { ChangeFrameEncoder } from '../../src/channel/change-frame.js'
import { Change, relationInfo, tupleBytes, type ChangePosition } from '../../src/cdc/change.js'
import { buildChangeData, buildErrorData, ChangeData, ERROR_401, type PayloadVariant } from '../../src/cdc/change-payload.js'
import type { TupleValue } from '../../src/cdc/pgoutput-decoder.js'
import type { TypeInfo } from '../../src/cdc/value-renderer.js'
import { markMember } from '../../src/hub/log-entry.js'
import { textFrameHeaderLength, writeTextFrameHeader } from '../../src/socket/outbound-queue.js'

type FrameFn = (data: Buffer, options: { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean }) => Buffer[]
const senderFrame = (wsModule as unknown as { Sender: { frame: FrameFn } }).Sender.frame

/** ws's framing of a server text message (what OutboundQueue wrote for a string frame). */
function wsTextFrame(text: string): Buffer {
  return Buffer.concat(senderFrame(Buffer.from(text, 'utf8'), { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false }))
}

/** The frame as the channel built it before the encoder (channel.ts `changeFrame` of 2026-12-02). */
function referenceFrame(serializer: Serializer, topic: string, ids: readonly number[], dataJson: string, position: ChangePosition, wantsPositions: boolean): Buffer {
  const mark = wantsPositions && position.seq > 0 ? `,${markMember({ position: position.seq, point: formatStreamPoint(position.lsn, position.index) })}` : ''
  const payload = `{"ids":[${ids.join(',')}],"data":${dataJson}${mark}}`
  return wsTextFrame(serializer.encodeJsonPayload(null, null, topic, 'postgres_changes', payload))
}

const type = (oid: number, name: string, kind: TypeInfo['kind'], element: TypeInfo | null = null): TypeInfo => ({ oid, name, kind, element, delimiter: ',' })
const INT4 = type(23, 'int4', 'number')
const TEXT = type(25, 'text', 'text')
const TYPES = new Map<number, TypeInfo>([
  [23, INT4],
  [25, TEXT],
  [16, type(16, 'bool', 'bool')],
  [3802, type(3802, 'jsonb', 'json')],
  [1184, type(1184, 'timestamptz', 'timestamptz')],
  [1009, type(1009, '_text', 'array', TEXT)],
  [1007, type(1007, '_int4', 'array', INT4)],
  [17, type(17, 'bytea', 'bytea')],
])
const relation = relationInfo({
  relationId: 16384, schema: 'public', table: 'tâches "todo"', replicaIdentity: 'f',
  columns: [
    { name: 'id', isKey: true, typeOid: 23 },
    { name: 'title', isKey: false, typeOid: 25 },
    { name: 'done', isKey: false, typeOid: 16 },
    { name: 'meta', isKey: false, typeOid: 3802 },
    { name: 'at', isKey: false, typeOid: 1184 },
    { name: 'tags', isKey: false, typeOid: 1009 },
    { name: 'nums', isKey: false, typeOid: 1007 },
    { name: 'blob', isKey: false, typeOid: 17 },
  ].map((c) => ({ ...c, typeMod: -1 })),
}, TYPES)

const ROWS: Record<string, TupleValue[]> = {
  plain: ['1', 'buy milk', 'f', '{"a": 1}', '2026-12-02 03:42:00.123+00', '{a,b}', '{1,2,NULL}', '\\x00ff'],
  nulls: ['2', null, null, null, null, null, null, null],
  unicode: ['3', 'naïve café ☕ 𝄞 "quoted" \\ back\nline\u2028', 't', '{"ключ": "значение", "emoji": "🎉"}', '2026-01-01 00:00:00+05:30', '{"a,b","ü"}', '{}', '\\x'],
  empty: ['4', '', 'f', '[]', '1999-12-31 23:59:59+00', '{""}', '{-1}', '\\xdeadbeef'],
}

function change(kind: 'INSERT' | 'UPDATE' | 'DELETE', row: TupleValue[], old: TupleValue[] | null, seq: number): Change {
  const position = { lsn: 0x1_6b3_7a10n + BigInt(seq), index: seq % 3, seq }
  const newTuple = kind === 'DELETE' ? null : row
  return new Change(relation, kind, newTuple, old, null, '2026-12-02T03:42:00.123Z', position, tupleBytes(newTuple, old))
}

const VARIANTS: { name: string; variant: PayloadVariant }[] = [
  { name: 'all columns', variant: { columns: null, oldRecordKeyOnly: false, primaryKey: ['id'] } },
  { name: 'a column subset (select / column privileges)', variant: { columns: new Set(['id', 'title', 'tags']), oldRecordKeyOnly: false, primaryKey: ['id'] } },
  { name: 'old record key only', variant: { columns: null, oldRecordKeyOnly: true, primaryKey: ['id'] } },
  { name: 'subset, key only', variant: { columns: new Set(['id', 'meta']), oldRecordKeyOnly: true, primaryKey: ['id'] } },
]

const TOPICS = ['realtime:todos', 'realtime:"quoted" \\ tâche ☕', 'realtime:' + 'x'.repeat(300)]
const IDS: readonly number[][] = [[41_235_842], [1, 2, 3], [0]]
const SERIALIZERS: [string, Serializer][] = [['vsn 1.0.0', serializerV1], ['vsn 2.0.0', serializerV2]]

describe('ChangeFrameEncoder', () => {
  it('frames every row, variant, topic, id list and mark byte for byte as before', () => {
    let seq = 0
    let checked = 0
    const kept: [Buffer, Buffer][] = []
    for (const [rowName, row] of Object.entries(ROWS)) {
      const changes = [change('INSERT', row, null, ++seq), change('UPDATE', row, ROWS.plain!, ++seq), change('DELETE', row, row, ++seq), change('UPDATE', row, null, 0)]
      for (const c of changes) {
        const payloads = [
          ...VARIANTS.map(({ name, variant }) => ({ name, json: buildChangeData(c, variant, 1024 * 1024) })),
          { name: 'over the record limit', json: buildChangeData(c, VARIANTS[0]!.variant, 10) },
          { name: 'error payload', json: buildErrorData(c, ERROR_401) },
        ]
        for (const { name, json } of payloads) {
          const data = new ChangeData(json, c.position)
          for (const [vsn, serializer] of SERIALIZERS) {
            for (const topic of TOPICS) {
              const encoder = new ChangeFrameEncoder(serializer, topic)
              for (const ids of IDS) {
                for (const wantsPositions of [false, true]) {
                  const label = `${rowName} ${c.type} seq ${c.position.seq}, ${name}, ${vsn}, topic ${topic.slice(0, 30)}, ids ${ids.join(',')}, mark ${wantsPositions}`
                  const frame = encoder.frame(ids, data, wantsPositions)
                  const expected = referenceFrame(serializer, topic, ids, json, c.position, wantsPositions)
                  expect(frame.wire!.equals(expected), label).toBe(true)
                  kept.push([frame.wire!, expected])
                  expect(frame.binary).toBe(false)
                  // `data` is the payload alone (the bytes the fallback `ws.send` would frame).
                  expect(Buffer.from(frame.data as Buffer).equals(expected.subarray(expected.length - frame.data.length)), label).toBe(true)
                  checked++
                }
              }
            }
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(1000)
    // Frames share Node's buffer pool: none was overwritten by a later one.
    expect(kept.every(([wire, expected]) => wire.equals(expected))).toBe(true)
  })

  it('gives the parsed message the client reads: topic, event, ids, data, and the mark beside them', () => {
    const c = change('UPDATE', ROWS.unicode!, ROWS.plain!, 7)
    const json = buildChangeData(c, VARIANTS[0]!.variant, 1024 * 1024)
    const frame = new ChangeFrameEncoder(serializerV2, 'realtime:room').frame([5, 6], new ChangeData(json, c.position), true)
    const [joinRef, ref, topic, event, payload] = JSON.parse((frame.data as Buffer).toString('utf8')) as [null, null, string, string, Record<string, unknown>]
    expect([joinRef, ref, topic, event]).toEqual([null, null, 'realtime:room', 'postgres_changes'])
    expect(payload.ids).toEqual([5, 6])
    expect(payload.data).toEqual(JSON.parse(json))
    expect(payload.switchboard).toEqual({ position: 7, lsn: formatStreamPoint(c.position.lsn, c.position.index) })
  })

  it('marks each change with its own position when channels frame the same changes one channel at a time (a crowd replaying)', () => {
    const changes = [11, 12, 13].map((seq) => change('INSERT', ROWS.plain!, null, seq))
    const data = changes.map((c) => new ChangeData(buildChangeData(c, VARIANTS[0]!.variant, 1024 * 1024), c.position))
    const markOf = (frame: { data: Buffer | string }) => (JSON.parse(frame.data.toString('utf8'))[4] as { switchboard: unknown }).switchboard
    for (const topic of ['realtime:a', 'realtime:b', 'realtime:a']) {
      const encoder = new ChangeFrameEncoder(serializerV2, topic)
      for (const [i, c] of changes.entries()) {
        expect(markOf(encoder.frame([1], data[i]!, true))).toEqual({ position: c.position.seq, lsn: formatStreamPoint(c.position.lsn, c.position.index) })
      }
    }
    // A position object whose seq is assigned again (re-positioned) gets the new mark.
    changes[0]!.position.seq = 21
    expect(markOf(new ChangeFrameEncoder(serializerV2, 'realtime:c').frame([1], data[0]!, true))).toMatchObject({ position: 21 })
  })

  it('frames payloads across the header-length boundaries (125/126, 65535/65536 bytes)', () => {
    const encoder = new ChangeFrameEncoder(serializerV2, 'realtime:t')
    const overhead = encoder.frame([1], new ChangeData('""', { lsn: 1n, index: 0, seq: 0 }), false).data.length - 2
    for (const size of [0, 1, 124, 125, 126, 127, 65_534, 65_535, 65_536, 70_000]) {
      const body = size - overhead - 2
      if (body < 0) continue
      const json = JSON.stringify('é'.repeat(body >> 1) + 'a'.repeat(body & 1))
      const position = { lsn: 1n, index: 0, seq: 0 }
      const frame = encoder.frame([1], new ChangeData(json, position), false)
      expect(frame.wire!.equals(referenceFrame(serializerV2, 'realtime:t', [1], json, position, false)), `payload ${frame.data.length} bytes`).toBe(true)
    }
  })
})

describe('writeTextFrameHeader', () => {
  it('writes the header ws writes, for every length class', () => {
    for (const length of [0, 1, 125, 126, 65_535, 65_536, 1_000_000]) {
      const wire = Buffer.alloc(textFrameHeaderLength(length) + length, 0x61)
      writeTextFrameHeader(wire, 0, length)
      expect(wire.equals(wsTextFrame('a'.repeat(length))), `length ${length}`).toBe(true)
    }
  })
})
