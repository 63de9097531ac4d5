/** Helpers shared by both serializers (serializer.ts). */
import { describe, expect, it } from 'vitest'
import { decodeUtf8, encodeReply, readRef, userBroadcastPayloadJson } from '../src/serializer.js'
import { serializerV1 } from '../src/serializer-v1.js'
import { serializerV2 } from '../src/serializer-v2.js'
import { hex, utf8 } from './hex.js'

describe('decodeUtf8', () => {
  it('decodes valid UTF-8, including multi-byte and astral characters', () => {
    expect(decodeUtf8(hex('636166c3a9 e29c93 f09f9880'))).toBe('café✓😀')
    expect(decodeUtf8(new Uint8Array(0))).toBe('')
  })

  it('keeps a leading byte-order mark (bytes in, same characters out)', () => {
    expect(decodeUtf8(hex('efbbbf 41'))).toBe('\uFEFFA')
  })

  it.each([
    ['a lone continuation byte', '80'],
    ['a truncated two-byte sequence', '41 c3'],
    ['an overlong encoding of "/"', 'c0 af'],
    ['an encoded UTF-16 surrogate', 'ed a0 80'],
    ['a code point past U+10FFFF', 'f4 90 80 80'],
    ['an invalid byte', 'ff'],
  ])('returns null for %s', (_name, bytes) => {
    expect(decodeUtf8(hex(bytes))).toBeNull()
  })
})

describe('readRef', () => {
  it.each([
    ['a string', '7', '7'],
    ['an empty string', '', ''],
    ['null', null, null],
    ['undefined', undefined, null],
    ['an integer', 7, '7'],
    ['zero', 0, '0'],
  ])('reads %s', (_name, value, expected) => {
    expect(readRef(value)).toBe(expected)
  })

  it.each([
    ['a boolean', true],
    ['an object', {}],
    ['an array', ['1']],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
  ])('refuses %s (undefined)', (_name, value) => {
    expect(readRef(value)).toBeUndefined()
  })
})

describe('userBroadcastPayloadJson', () => {
  it('builds the broadcast payload object from pre-encoded parts', () => {
    const broadcast = { event: 'cursor', encoding: 'json' as const, payload: utf8('{"x":1}'), metadataJson: null }
    expect(userBroadcastPayloadJson(broadcast, '{"x":1}')).toBe('{"type":"broadcast","event":"cursor","payload":{"x":1}}')
  })

  it('adds meta and escapes the event', () => {
    const broadcast = { event: 'a"b', encoding: 'json' as const, payload: utf8('1'), metadataJson: '{"replayed":true,"id":"i"}' }
    expect(userBroadcastPayloadJson(broadcast, '1')).toBe('{"type":"broadcast","event":"a\\"b","payload":1,"meta":{"replayed":true,"id":"i"}}')
  })
})

describe('encodeReply', () => {
  it('encodes an ok reply for vsn 2.0.0', () => {
    expect(encodeReply(serializerV2, '3', '9', 'realtime:room1', 'ok', {})).toBe('["3","9","realtime:room1","phx_reply",{"status":"ok","response":{}}]')
  })

  it('encodes the error reply of §2.4 for vsn 2.0.0', () => {
    const reason = 'Unauthorized: You do not have permissions to read from this Channel topic: room1'
    expect(encodeReply(serializerV2, '3', '3', 'realtime:room1', 'error', { reason })).toBe(
      '["3","3","realtime:room1","phx_reply",{"status":"error","response":{"reason":"Unauthorized: You do not have permissions to read from this Channel topic: room1"}}]',
    )
  })

  it('encodes the unmatched-topic reply of §2.5 (null join_ref)', () => {
    expect(encodeReply(serializerV2, null, '5', 'realtime:other', 'error', { reason: 'unmatched topic' })).toBe(
      '[null,"5","realtime:other","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]',
    )
  })

  it('encodes a reply for vsn 1.0.0', () => {
    expect(encodeReply(serializerV1, '3', '4', 'realtime:room1', 'ok', {})).toBe(
      '{"topic":"realtime:room1","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"4"}',
    )
  })

  it('encodes a bare-string response (the payload_size_exceeded ack of §3.3)', () => {
    expect(encodeReply(serializerV2, '3', '8', 'realtime:room1', 'error', 'payload_size_exceeded')).toBe(
      '["3","8","realtime:room1","phx_reply",{"status":"error","response":"payload_size_exceeded"}]',
    )
  })
})
