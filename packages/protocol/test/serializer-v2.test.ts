/**
 * vsn 2.0.0: JSON array text frames plus the kind-3 (client → server) and kind-4
 * (server → client) binary broadcast frames. Byte fixtures are hex; the kind-3 ones were
 * produced by realtime-js 2.119.1 `Serializer.encode` (supabase-protocol.md §1.2, §3.1).
 */
import { describe, expect, it } from 'vitest'
import { KIND_USER_BROADCAST, KIND_USER_BROADCAST_PUSH, serializerV2 } from '../src/serializer-v2.js'
import type { UserBroadcast } from '../src/message.js'
import type { DecodeResult } from '../src/serializer.js'
import { hex, toHex, utf8 } from './hex.js'

const TOPIC = '7265616c74696d653a726f6f6d31' // "realtime:room1" (14 = 0x0e bytes)
const CURSOR = '637572736f72' // "cursor" (6 bytes)
const X1 = '7b2278223a317d' // {"x":1}

// §1.2: `03 01 01 0E 06 00 01 | "3" | "7" | "realtime:room1" | "cursor" | (no metadata) | {"x":1}`
const KIND3_JSON = `03 01 01 0e 06 00 01 | 33 | 37 | ${TOPIC} | ${CURSOR} | | ${X1}`
// Same send with `persist: true`, the one whitelisted metadata key: metadata {"persist":true} (16 bytes).
const KIND3_WITH_META = `03 01 01 0e 06 10 01 | 33 | 37 | ${TOPIC} | ${CURSOR} | 7b2270657273697374223a747275657d | ${X1}`
// An ArrayBuffer payload [00 ff 01], event "blob", sent with no ref (realtime-js writes ref "" then).
const KIND3_BINARY = `03 01 00 0e 04 00 00 | 33 | | ${TOPIC} | 626c6f62 | | 00 ff 01`
// Multi-byte UTF-8: topic "realtime:café" (14 bytes, 13 chars), event "é" (2 bytes, 1 char).
const KIND3_UTF8 = `03 01 01 0e 02 00 01 | 33 | 37 | 7265616c74696d653a636166c3a9 | c3a9 | | ${X1}`
// §1.2: `04 0E 06 00 01 | "realtime:room1" | "cursor" | {"x":1}`
const KIND4_JSON = `04 0e 06 00 01 | ${TOPIC} | ${CURSOR} | ${X1}`

function decodeOk(data: Uint8Array, isBinary: boolean) {
  const result = serializerV2.decode(data, isBinary)
  if (!result.ok) throw new Error(`expected ok, got error: ${result.error}`)
  return result.message
}

function expectError(result: DecodeResult, pattern: RegExp) {
  expect(result.ok).toBe(false)
  if (!result.ok) expect(result.error).toMatch(pattern)
}

function userBroadcast(overrides: Partial<UserBroadcast> = {}): UserBroadcast {
  return { event: 'cursor', encoding: 'json', payload: utf8('{"x":1}'), metadataJson: null, ...overrides }
}

describe('serializerV2', () => {
  it('is version 2.0.0 and exports the frame kinds', () => {
    expect(serializerV2.vsn).toBe('2.0.0')
    expect(KIND_USER_BROADCAST_PUSH).toBe(3)
    expect(KIND_USER_BROADCAST).toBe(4)
    expect(Object.isFrozen(serializerV2)).toBe(true)
  })

  describe('decode: text frames', () => {
    it('decodes the realtime-js join array', () => {
      const frame = utf8('["3","3","realtime:room1","phx_join",{"config":{"private":false},"access_token":"t"}]')
      expect(decodeOk(frame, false)).toEqual({
        joinRef: '3',
        ref: '3',
        topic: 'realtime:room1',
        event: 'phx_join',
        payload: { config: { private: false }, access_token: 't' },
        userBroadcast: null,
      })
    })

    it('keeps null refs null (a heartbeat has no join_ref)', () => {
      const message = decodeOk(utf8('[null,"12","phoenix","heartbeat",{}]'), false)
      expect(message.joinRef).toBeNull()
      expect(message.ref).toBe('12')
    })

    it('echoes numeric refs as strings', () => {
      const message = decodeOk(utf8('[3,7,"realtime:room1","access_token",{"access_token":"t"}]'), false)
      expect(message.joinRef).toBe('3')
      expect(message.ref).toBe('7')
    })

    it('turns a null payload into {} and ignores elements after the fifth', () => {
      const message = decodeOk(utf8('["3","4","realtime:room1","phx_leave",null,"extra"]'), false)
      expect(message.payload).toEqual({})
      expect(message.event).toBe('phx_leave')
    })

    it('decodes a JSON broadcast sent as text (not a user broadcast)', () => {
      const message = decodeOk(utf8('["3","8","realtime:room1","broadcast",{"type":"broadcast","event":"cursor","payload":{"x":1}}]'), false)
      expect(message.userBroadcast).toBeNull()
      expect(message.payload).toEqual({ type: 'broadcast', event: 'cursor', payload: { x: 1 } })
    })

    it.each([
      ['invalid UTF-8', hex('5b ff 5d'), /UTF-8/],
      ['invalid JSON', utf8('["3","3","realtime:room1","phx_join",'), /not valid JSON/],
      ['an empty frame', utf8(''), /not valid JSON/],
      ['JSON behind a byte-order mark', hex('efbbbf 5b6e756c6c2c6e756c6c2c2274222c2265222c7b7d5d'), /not valid JSON/],
      ['a JSON object (the vsn 1.0.0 shape)', utf8('{"topic":"realtime:room1","event":"phx_join","payload":{},"ref":"1","join_ref":"1"}'), /arrays/],
      ['a JSON string', utf8('"hello"'), /arrays/],
      ['JSON null', utf8('null'), /arrays/],
      ['an array of 4 elements', utf8('["3","3","realtime:room1","phx_join"]'), /arrays/],
      ['an empty array', utf8('[]'), /arrays/],
      ['a numeric topic', utf8('["3","3",42,"phx_join",{}]'), /string topic/],
      ['a null topic', utf8('["3","3",null,"phx_join",{}]'), /string topic/],
      ['a numeric event', utf8('["3","3","realtime:room1",1,{}]'), /string topic and event/],
      ['a boolean ref', utf8('["3",true,"realtime:room1","phx_join",{}]'), /refs/],
      ['an object join_ref', utf8('[{},"3","realtime:room1","phx_join",{}]'), /refs/],
    ])('rejects %s', (_name, frame, pattern) => {
      expectError(serializerV2.decode(frame, false), pattern)
    })
  })

  describe('decode: kind-3 user broadcast push', () => {
    it('decodes the reference example (§1.2)', () => {
      expect(decodeOk(hex(KIND3_JSON), true)).toEqual({
        joinRef: '3',
        ref: '7',
        topic: 'realtime:room1',
        event: 'broadcast',
        payload: null,
        userBroadcast: { event: 'cursor', encoding: 'json', payload: utf8('{"x":1}'), metadataJson: null },
      })
    })

    it('keeps metadata as JSON object text', () => {
      const message = decodeOk(hex(KIND3_WITH_META), true)
      expect(message.userBroadcast?.metadataJson).toBe('{"persist":true}')
      expect(message.userBroadcast?.payload).toEqual(utf8('{"x":1}'))
    })

    it('decodes a raw binary payload (encoding 0) and an empty ref as null', () => {
      const message = decodeOk(hex(KIND3_BINARY), true)
      expect(message.joinRef).toBe('3')
      expect(message.ref).toBeNull()
      expect(message.userBroadcast).toEqual({ event: 'blob', encoding: 'binary', payload: hex('00ff01'), metadataJson: null })
    })

    it('accepts bytes that are not UTF-8 in a raw binary payload', () => {
      const message = decodeOk(hex(`03 00 00 01 01 00 00 | 74 | 65 | ff fe c0`), true)
      expect(message.joinRef).toBeNull()
      expect(message.topic).toBe('t')
      expect(toHex(message.userBroadcast!.payload)).toBe('fffec0')
    })

    it('measures field lengths in UTF-8 bytes, not characters', () => {
      const message = decodeOk(hex(KIND3_UTF8), true)
      expect(message.topic).toBe('realtime:café')
      expect(message.userBroadcast?.event).toBe('é')
      expect(message.userBroadcast?.payload).toEqual(utf8('{"x":1}'))
    })

    it('decodes fields byte for byte (a leading BOM is part of the topic)', () => {
      const message = decodeOk(hex(`03 00 00 11 01 00 01 | efbbbf ${TOPIC} | 65 | 7b7d`), true)
      expect(message.topic).toBe('\uFEFFrealtime:room1')
    })

    it('accepts any JSON value as a JSON payload', () => {
      for (const text of ['"hi"', '42', 'null', '[1,2]', ' {"a" : [true]} ']) {
        const bytes = utf8(text)
        const frame = new Uint8Array([3, 0, 0, 1, 1, 0, 1, 0x74, 0x65, ...bytes])
        expect(decodeOk(frame, true).userBroadcast?.payload).toEqual(bytes)
      }
    })

    it('copies the payload out of the receive buffer', () => {
      const frame = hex(KIND3_JSON)
      const message = decodeOk(frame, true)
      frame.fill(0)
      expect(message.userBroadcast?.payload).toEqual(utf8('{"x":1}'))
    })

    it('reads a frame that is a view into a larger buffer', () => {
      const backing = new Uint8Array(64).fill(0xaa)
      const fixture = hex(KIND3_JSON)
      backing.set(fixture, 10)
      const view = backing.subarray(10, 10 + fixture.length)
      const message = decodeOk(view, true)
      expect(message.topic).toBe('realtime:room1')
      expect(message.userBroadcast?.payload).toEqual(utf8('{"x":1}'))
    })

    it.each([
      ['the kind byte alone', '03', /shorter than its header/],
      ['a 6-byte header', '03 01 01 0e 06 00', /shorter than its header/],
      ['a join_ref length past the end', '03 05 00 00 00 00 01 | 33', /past its end/],
      ['a ref length past the end', '03 01 05 00 00 00 01 | 33 | 37', /past its end/],
      ['a topic length past the end', `03 01 01 0f 06 00 01 | 33 | 37 | ${TOPIC}`, /past its end/],
      ['an event length past the end', `03 01 01 0e 07 00 01 | 33 | 37 | ${TOPIC} | ${CURSOR}`, /past its end/],
      ['a metadata length past the end', `03 01 01 0e 06 ff 01 | 33 | 37 | ${TOPIC} | ${CURSOR} | ${X1}`, /past its end/],
      ['invalid UTF-8 in join_ref', `03 01 01 0e 06 00 01 | ff | 37 | ${TOPIC} | ${CURSOR} | | ${X1}`, /UTF-8/],
      ['invalid UTF-8 in the topic', `03 01 01 0e 06 00 01 | 33 | 37 | 7265616c74696d653a726f6f6dc3 | ${CURSOR} | | ${X1}`, /UTF-8/],
      ['an overlong UTF-8 sequence in the event', `03 01 01 0e 02 00 01 | 33 | 37 | ${TOPIC} | c0af | | ${X1}`, /UTF-8/],
      ['invalid UTF-8 in the metadata', `03 01 01 0e 06 01 01 | 33 | 37 | ${TOPIC} | ${CURSOR} | ff | ${X1}`, /UTF-8/],
      ['encoding 2', `03 01 01 0e 06 00 02 | 33 | 37 | ${TOPIC} | ${CURSOR} | | ${X1}`, /unknown payload encoding 2/],
      ['encoding 255', `03 01 01 0e 06 00 ff | 33 | 37 | ${TOPIC} | ${CURSOR} | | ${X1}`, /unknown payload encoding 255/],
      ['truncated JSON with encoding 1', `03 01 01 0e 06 00 01 | 33 | 37 | ${TOPIC} | ${CURSOR} | | 7b2278223a`, /not valid JSON/],
      ['an empty JSON payload', `03 01 01 0e 06 00 01 | 33 | 37 | ${TOPIC} | ${CURSOR} |`, /not valid JSON/],
      ['invalid UTF-8 in a JSON payload', `03 01 01 0e 06 00 01 | 33 | 37 | ${TOPIC} | ${CURSOR} | | 22 ff 22`, /not valid JSON/],
      ['a JSON payload behind a byte-order mark', `03 01 01 0e 06 00 01 | 33 | 37 | ${TOPIC} | ${CURSOR} | | efbbbf ${X1}`, /not valid JSON/],
      ['metadata that is a JSON array', `03 01 01 0e 06 03 01 | 33 | 37 | ${TOPIC} | ${CURSOR} | 5b315d | ${X1}`, /metadata is not a JSON object/],
      ['metadata that is a JSON number', `03 01 01 0e 06 01 01 | 33 | 37 | ${TOPIC} | ${CURSOR} | 31 | ${X1}`, /metadata is not a JSON object/],
      ['metadata that is JSON null', `03 01 01 0e 06 04 01 | 33 | 37 | ${TOPIC} | ${CURSOR} | 6e756c6c | ${X1}`, /metadata is not a JSON object/],
      ['metadata that is a JSON string', `03 01 01 0e 06 03 01 | 33 | 37 | ${TOPIC} | ${CURSOR} | 226122 | ${X1}`, /metadata is not a JSON object/],
      ['metadata that is not JSON', `03 01 01 0e 06 02 01 | 33 | 37 | ${TOPIC} | ${CURSOR} | 7b61 | ${X1}`, /metadata is not a JSON object/],
    ])('rejects %s', (_name, fixture, pattern) => {
      expectError(serializerV2.decode(hex(fixture), true), pattern)
    })
  })

  describe('decode: other binary frames', () => {
    it('rejects an empty binary frame', () => {
      expectError(serializerV2.decode(new Uint8Array(0), true), /empty binary frame/)
    })

    it.each([
      ['0 (Phoenix push)', 0],
      ['1 (Phoenix reply)', 1],
      ['2 (Phoenix broadcast)', 2],
      ['4 (user broadcast, server → client only)', 4],
      ['5', 5],
      ['255', 255],
    ])('rejects kind %s', (_name, kind) => {
      const frame = kind === 4 ? hex(KIND4_JSON) : new Uint8Array([kind, 0, 0, 0, 0, 0, 0])
      expectError(serializerV2.decode(frame, true), new RegExp(`unsupported binary frame kind ${kind}$`))
    })

    it('rejects a JSON array sent in a binary frame', () => {
      expectError(serializerV2.decode(utf8('["3","3","realtime:room1","phx_join",{}]'), true), /unsupported binary frame kind 91/)
    })
  })

  describe('encode: text frames', () => {
    it('encodes a join reply exactly as §2.4', () => {
      const response = {
        postgres_changes: [{ id: 38606455, event: 'INSERT', schema: 'public', table: 'todos', filter: 'id=eq.1' }],
      }
      expect(serializerV2.encode('3', '3', 'realtime:room1', 'phx_reply', { status: 'ok', response })).toBe(
        '["3","3","realtime:room1","phx_reply",{"status":"ok","response":{"postgres_changes":[{"id":38606455,"event":"INSERT","schema":"public","table":"todos","filter":"id=eq.1"}]}}]',
      )
    })

    it('writes null refs as null', () => {
      expect(serializerV2.encode(null, null, 'realtime:room1', 'presence_diff', { joins: {}, leaves: {} })).toBe(
        '[null,null,"realtime:room1","presence_diff",{"joins":{},"leaves":{}}]',
      )
      expect(serializerV2.encode('3', null, 'realtime:room1', 'presence_state', {})).toBe('["3",null,"realtime:room1","presence_state",{}]')
    })

    it('escapes topics and events as JSON strings', () => {
      expect(serializerV2.encode(null, '1', 'realtime:"q"\\', 'e\n', {})).toBe('[null,"1","realtime:\\"q\\"\\\\","e\\n",{}]')
    })

    it('encodeJsonPayload splices pre-encoded payload text and matches encode', () => {
      const payload = { type: 'broadcast', event: 'cursor', payload: { x: 1 } }
      const spliced = serializerV2.encodeJsonPayload(null, null, 'realtime:room1', 'broadcast', JSON.stringify(payload))
      expect(spliced).toBe('[null,null,"realtime:room1","broadcast",{"type":"broadcast","event":"cursor","payload":{"x":1}}]')
      expect(spliced).toBe(serializerV2.encode(null, null, 'realtime:room1', 'broadcast', payload))
    })

    it('jsonPayloadAffixes are the text around the payload of encodeJsonPayload', () => {
      for (const [joinRef, ref, topic] of [[null, null, 'realtime:"q" ☕'], ['3', '7', 'realtime:room']] as const) {
        const { prefix, suffix } = serializerV2.jsonPayloadAffixes(joinRef, ref, topic, 'postgres_changes')
        expect(prefix + '{"ids":[1]}' + suffix).toBe(serializerV2.encodeJsonPayload(joinRef, ref, topic, 'postgres_changes', '{"ids":[1]}'))
      }
    })

    it('round-trips through decode', () => {
      const text = serializerV2.encode('3', '9', 'realtime:room1', 'phx_leave', {})
      expect(decodeOk(utf8(text), false)).toEqual({
        joinRef: '3', ref: '9', topic: 'realtime:room1', event: 'phx_leave', payload: {}, userBroadcast: null,
      })
    })
  })

  describe('encodeUserBroadcast: kind 4', () => {
    it('encodes the reference example (§1.2)', () => {
      const frame = serializerV2.encodeUserBroadcast('realtime:room1', userBroadcast())
      expect(frame).toBeInstanceOf(Uint8Array)
      expect(toHex(frame as Uint8Array)).toBe(toHex(hex(KIND4_JSON)))
    })

    it('forwards a decoded kind-3 push as kind 4 without touching the payload bytes', () => {
      const pushed = decodeOk(hex(KIND3_JSON), true)
      const frame = serializerV2.encodeUserBroadcast(pushed.topic, pushed.userBroadcast!)
      expect(toHex(frame as Uint8Array)).toBe(toHex(hex(KIND4_JSON)))
    })

    it('carries metadata (database broadcasts put {"id":…} there)', () => {
      const frame = serializerV2.encodeUserBroadcast('realtime:room1', userBroadcast({ metadataJson: '{"id":"a1"}' }))
      expect(toHex(frame as Uint8Array)).toBe(toHex(hex(`04 0e 06 0b 01 | ${TOPIC} | ${CURSOR} | 7b226964223a226131227d | ${X1}`)))
    })

    it('treats empty metadata text as no metadata', () => {
      const frame = serializerV2.encodeUserBroadcast('realtime:room1', userBroadcast({ metadataJson: '' }))
      expect(toHex(frame as Uint8Array)).toBe(toHex(hex(KIND4_JSON)))
    })

    it('encodes a raw binary payload with encoding 0', () => {
      const frame = serializerV2.encodeUserBroadcast('realtime:room1', userBroadcast({ event: 'blob', encoding: 'binary', payload: hex('00ff01') }))
      expect(toHex(frame as Uint8Array)).toBe(toHex(hex(`04 0e 04 00 00 | ${TOPIC} | 626c6f62 | 00ff01`)))
    })

    it('encodes an empty binary payload', () => {
      const frame = serializerV2.encodeUserBroadcast('t', userBroadcast({ event: 'e', encoding: 'binary', payload: new Uint8Array(0) }))
      expect(toHex(frame as Uint8Array)).toBe('040101000074' + '65')
    })

    it('writes lengths in UTF-8 bytes', () => {
      const frame = serializerV2.encodeUserBroadcast('realtime:café', userBroadcast({ event: 'é' }))
      expect(toHex(frame as Uint8Array)).toBe(toHex(hex(`04 0e 02 00 01 | 7265616c74696d653a636166c3a9 | c3a9 | ${X1}`)))
    })

    it('keeps a 255-byte topic binary', () => {
      const topic = 'realtime:' + 'a'.repeat(246)
      const frame = serializerV2.encodeUserBroadcast(topic, userBroadcast())
      expect(frame).toBeInstanceOf(Uint8Array)
      expect((frame as Uint8Array)[1]).toBe(255)
      expect((frame as Uint8Array).length).toBe(5 + 255 + 6 + 7)
    })
  })

  describe('encodeUserBroadcast: JSON text fallback past 255 bytes', () => {
    it('falls back to a text broadcast when the topic is 256 bytes', () => {
      const topic = 'realtime:' + 'a'.repeat(247)
      expect(serializerV2.encodeUserBroadcast(topic, userBroadcast())).toBe(
        `[null,null,"${topic}","broadcast",{"type":"broadcast","event":"cursor","payload":{"x":1}}]`,
      )
    })

    it('counts bytes, not characters (128 × "é" = 256 bytes)', () => {
      const topic = 'é'.repeat(128)
      const frame = serializerV2.encodeUserBroadcast(topic, userBroadcast())
      expect(typeof frame).toBe('string')
      expect(JSON.parse(frame as string)).toEqual([null, null, topic, 'broadcast', { type: 'broadcast', event: 'cursor', payload: { x: 1 } }])
    })

    it('falls back when the event is longer than 255 bytes', () => {
      const event = 'e'.repeat(256)
      expect(serializerV2.encodeUserBroadcast('realtime:room1', userBroadcast({ event }))).toBe(
        `[null,null,"realtime:room1","broadcast",{"type":"broadcast","event":"${event}","payload":{"x":1}}]`,
      )
    })

    it('falls back when the metadata is longer than 255 bytes, keeping it as meta', () => {
      const metadataJson = JSON.stringify({ id: 'i'.repeat(260) })
      expect(serializerV2.encodeUserBroadcast('realtime:room1', userBroadcast({ metadataJson }))).toBe(
        `[null,null,"realtime:room1","broadcast",{"type":"broadcast","event":"cursor","payload":{"x":1},"meta":${metadataJson}}]`,
      )
    })

    it('returns null for a binary payload that cannot fit in kind 4', () => {
      const topic = 'realtime:' + 'a'.repeat(247)
      expect(serializerV2.encodeUserBroadcast(topic, userBroadcast({ encoding: 'binary', payload: hex('00ff') }))).toBeNull()
    })
  })
})
