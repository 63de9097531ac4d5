/** The package entry point: serializer negotiation by `vsn` and the public exports (index.ts). */
import { describe, expect, it } from 'vitest'
import * as protocol from '../src/index.js'
import { serializerFor, serializerV1, serializerV2 } from '../src/index.js'

describe('serializerFor', () => {
  it('defaults to 1.0.0 when vsn is missing, as Phoenix does', () => {
    expect(serializerFor(undefined)).toBe(serializerV1)
    expect(serializerFor(null)).toBe(serializerV1)
  })

  it.each(['1.0.0', '1.0.1', '1.0.99'])('matches %s as ~> 1.0.0', (vsn) => {
    expect(serializerFor(vsn)).toBe(serializerV1)
  })

  it.each(['2.0.0', '2.0.1', '2.0.42'])('matches %s as ~> 2.0.0', (vsn) => {
    expect(serializerFor(vsn)).toBe(serializerV2)
  })

  it.each(['', '1', '2', '1.0', '2.0', '1.1.0', '2.1.0', '0.9.0', '3.0.0', 'v2.0.0', ' 2.0.0', '2.0.0 ', '2.0.0\n', '2.0.x', '2.0.0-rc.1', 'latest'])(
    'refuses %j',
    (vsn) => {
      expect(serializerFor(vsn)).toBeNull()
    },
  )
})

describe('public exports', () => {
  it('exposes the serializers, frame kinds, join validation and error registry', () => {
    expect(protocol.serializerV1.vsn).toBe('1.0.0')
    expect(protocol.serializerV2.vsn).toBe('2.0.0')
    expect(protocol.KIND_USER_BROADCAST_PUSH).toBe(3)
    expect(protocol.KIND_USER_BROADCAST).toBe(4)
    expect(typeof protocol.parseJoinPayload).toBe('function')
    expect(typeof protocol.encodeReply).toBe('function')
    expect(typeof protocol.realtimeError).toBe('function')
    expect(protocol.ALL_ERROR_CODES).toContain('InvalidJoinPayload')
    expect(protocol.PhxEvent.join).toBe('phx_join')
  })
})
