import { describe, expect, it } from 'vitest'
import { formatStreamPoint, parsePgLsn, parseResumeRequest, parseStreamPoint, STREAM_START } from '../src/index.js'

describe('stream points', () => {
  it('round-trip and compare as strings the way they compare as points', () => {
    const a = formatStreamPoint(0x16b3748n, 3)
    expect(a).toBe('00000000016B3748.00000003')
    expect(parseStreamPoint(a)).toEqual({ lsn: 0x16b3748n, index: 3 })
    const points = [formatStreamPoint(0x16b3748n, 10), formatStreamPoint(0x16b3748n, 2), formatStreamPoint(0x100000000n, 0), STREAM_START]
    expect([...points].sort()).toEqual([STREAM_START, formatStreamPoint(0x16b3748n, 2), formatStreamPoint(0x16b3748n, 10), formatStreamPoint(0x100000000n, 0)])
  })

  it('parses pg_lsn text', () => {
    expect(parsePgLsn('0/16B3748')).toBe(0x16b3748n)
    expect(parsePgLsn('1/0')).toBe(0x100000000n)
    expect(parsePgLsn('nope')).toBeNull()
  })

  it('refuses malformed points', () => {
    expect(parseStreamPoint('16B3748.3')).toBeNull()
    expect(parseStreamPoint('00000000016b3748.00000003')).toBeNull()
  })
})

describe('parseResumeRequest', () => {
  it('reads session, epoch, position and an optional stream point', () => {
    expect(parseResumeRequest({ session: 's', resume: { epoch: 'e', position: 4, lsn: STREAM_START } })).toEqual({ session: 's', resume: { epoch: 'e', position: 4, lsn: STREAM_START } })
    expect(parseResumeRequest({ resume: { epoch: 'e', position: 0 } })).toEqual({ session: null, resume: { epoch: 'e', position: 0 } })
    expect(parseResumeRequest(undefined)).toBeNull()
  })

  it.each([
    ['a negative position', { resume: { epoch: 'e', position: -1 } }],
    ['a fractional position', { resume: { epoch: 'e', position: 1.5 } }],
    ['an empty epoch', { resume: { epoch: '', position: 1 } }],
    ['a malformed stream point', { resume: { epoch: 'e', position: 1, lsn: '0/16B3748' } }],
    ['a session that is a number', { session: 5 }],
  ])('refuses %s', (_name, raw) => {
    expect(parseResumeRequest(raw)).toBeUndefined()
  })
})
