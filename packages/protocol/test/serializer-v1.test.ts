/**
 * vsn 1.0.0: JSON objects in text frames only (Phoenix V1 JSONSerializer,
 * supabase-protocol.md §1.2). The server never sends `join_ref` and never sends binary.
 */
import { describe, expect, it } from 'vitest'
import { serializerV1 } from '../src/serializer-v1.js'
import type { UserBroadcast } from '../src/message.js'
import type { DecodeResult } from '../src/serializer.js'
import { hex, utf8 } from './hex.js'

function decodeOk(text: string) {
  const result = serializerV1.decode(utf8(text), false)
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

describe('serializerV1', () => {
  it('is version 1.0.0', () => {
    expect(serializerV1.vsn).toBe('1.0.0')
    expect(Object.isFrozen(serializerV1)).toBe(true)
  })

  describe('decode', () => {
    it('decodes the realtime-js broadcast push of §3.1', () => {
      const text = '{"topic":"realtime:room1","event":"broadcast","payload":{"type":"broadcast","event":"cursor","payload":{"x":1}},"ref":"8","join_ref":"3"}'
      expect(decodeOk(text)).toEqual({
        joinRef: '3',
        ref: '8',
        topic: 'realtime:room1',
        event: 'broadcast',
        payload: { type: 'broadcast', event: 'cursor', payload: { x: 1 } },
        userBroadcast: null,
      })
    })

    it('treats missing or null refs as null and a missing payload as {}', () => {
      expect(decodeOk('{"topic":"phoenix","event":"heartbeat"}')).toEqual({
        joinRef: null, ref: null, topic: 'phoenix', event: 'heartbeat', payload: {}, userBroadcast: null,
      })
      const message = decodeOk('{"topic":"phoenix","event":"heartbeat","payload":null,"ref":null,"join_ref":null}')
      expect(message.ref).toBeNull()
      expect(message.payload).toEqual({})
    })

    it('echoes numeric refs as strings', () => {
      const message = decodeOk('{"topic":"realtime:room1","event":"phx_join","payload":{},"ref":5,"join_ref":5}')
      expect(message.ref).toBe('5')
      expect(message.joinRef).toBe('5')
    })

    it('ignores unknown keys', () => {
      expect(decodeOk('{"topic":"t","event":"e","payload":{"a":1},"ref":"1","extra":true}').payload).toEqual({ a: 1 })
    })

    it('rejects binary frames (not part of vsn 1.0.0)', () => {
      const json = utf8('{"topic":"t","event":"e","payload":{},"ref":"1"}')
      expectError(serializerV1.decode(json, true), /binary frames/)
      expectError(serializerV1.decode(hex('0301010e06000133'), true), /binary frames/)
    })

    it.each([
      ['invalid UTF-8', hex('7b ff 7d'), /UTF-8/],
      ['invalid JSON', utf8('{"topic":'), /not valid JSON/],
      ['an empty frame', utf8(''), /not valid JSON/],
      ['a JSON array (the vsn 2.0.0 shape)', utf8('["3","3","realtime:room1","phx_join",{}]'), /JSON objects/],
      ['JSON null', utf8('null'), /JSON objects/],
      ['a JSON number', utf8('42'), /JSON objects/],
      ['a JSON string', utf8('"x"'), /JSON objects/],
      ['a missing topic', utf8('{"event":"phx_join","payload":{},"ref":"1"}'), /string topic/],
      ['a numeric topic', utf8('{"topic":1,"event":"phx_join","payload":{},"ref":"1"}'), /string topic/],
      ['a missing event', utf8('{"topic":"t","payload":{},"ref":"1"}'), /string topic and event/],
      ['a boolean ref', utf8('{"topic":"t","event":"e","payload":{},"ref":true}'), /refs/],
      ['an array join_ref', utf8('{"topic":"t","event":"e","payload":{},"ref":"1","join_ref":[1]}'), /refs/],
    ])('rejects %s', (_name, frame, pattern) => {
      expectError(serializerV1.decode(frame, false), pattern)
    })
  })

  describe('encode', () => {
    it('encodes the reply of §1.2 exactly, without join_ref', () => {
      expect(serializerV1.encode('3', '4', 'realtime:room1', 'phx_reply', { status: 'ok', response: {} })).toBe(
        '{"topic":"realtime:room1","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"4"}',
      )
    })

    it('writes a null ref as null', () => {
      expect(serializerV1.encode(null, null, 'realtime:room1', 'presence_diff', { joins: {}, leaves: {} })).toBe(
        '{"topic":"realtime:room1","event":"presence_diff","payload":{"joins":{},"leaves":{}},"ref":null}',
      )
    })

    it('encodeJsonPayload splices pre-encoded payload text and matches encode', () => {
      const payload = { type: 'broadcast', event: 'cursor', payload: { x: 1 } }
      const spliced = serializerV1.encodeJsonPayload('3', null, 'realtime:"q"', 'broadcast', JSON.stringify(payload))
      expect(spliced).toBe('{"topic":"realtime:\\"q\\"","event":"broadcast","payload":{"type":"broadcast","event":"cursor","payload":{"x":1}},"ref":null}')
      expect(spliced).toBe(serializerV1.encode('3', null, 'realtime:"q"', 'broadcast', payload))
    })

    it('jsonPayloadAffixes are the text around the payload of encodeJsonPayload', () => {
      for (const [ref, topic] of [[null, 'realtime:"q" ☕'], ['7', 'realtime:room']] as const) {
        const { prefix, suffix } = serializerV1.jsonPayloadAffixes(null, ref, topic, 'postgres_changes')
        expect(prefix + '{"ids":[1]}' + suffix).toBe(serializerV1.encodeJsonPayload(null, ref, topic, 'postgres_changes', '{"ids":[1]}'))
      }
    })
  })

  describe('encodeUserBroadcast', () => {
    it('delivers a JSON user broadcast as a text broadcast', () => {
      expect(serializerV1.encodeUserBroadcast('realtime:room1', userBroadcast())).toBe(
        '{"topic":"realtime:room1","event":"broadcast","payload":{"type":"broadcast","event":"cursor","payload":{"x":1}},"ref":null}',
      )
    })

    it('adds metadata as meta', () => {
      expect(serializerV1.encodeUserBroadcast('realtime:room1', userBroadcast({ metadataJson: '{"id":"a1"}' }))).toBe(
        '{"topic":"realtime:room1","event":"broadcast","payload":{"type":"broadcast","event":"cursor","payload":{"x":1},"meta":{"id":"a1"}},"ref":null}',
      )
    })

    it('decodes multi-byte UTF-8 payloads', () => {
      const frame = serializerV1.encodeUserBroadcast('realtime:café', userBroadcast({ event: 'é', payload: utf8('{"t":"naïve ✓"}') }))
      expect(JSON.parse(frame as string)).toEqual({
        topic: 'realtime:café', event: 'broadcast', payload: { type: 'broadcast', event: 'é', payload: { t: 'naïve ✓' } }, ref: null,
      })
    })

    it('keeps topics longer than 255 bytes (text has no length fields)', () => {
      const topic = 'realtime:' + 'a'.repeat(300)
      expect(JSON.parse(serializerV1.encodeUserBroadcast(topic, userBroadcast()) as string).topic).toBe(topic)
    })

    it('returns null for a binary payload: vsn 1.0.0 clients cannot receive it', () => {
      expect(serializerV1.encodeUserBroadcast('realtime:room1', userBroadcast({ encoding: 'binary', payload: hex('00ff01') }))).toBeNull()
      expect(serializerV1.encodeUserBroadcast('realtime:room1', userBroadcast({ encoding: 'binary', payload: utf8('{"x":1}') }))).toBeNull()
    })
  })
})
