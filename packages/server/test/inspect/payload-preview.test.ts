/**
 * What the trace keeps of a payload: a prefix, with secrets removed before it is stored, also
 * when the cut falls inside a secret.
 */
import { describe, expect, test } from 'vitest'
import { PREVIEW_BYTES, previewBytes, previewJson, redact, redactValue } from '../../src/inspect/payload-preview.js'

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJl'

describe('redact', () => {
  test('members whose key names a secret, whatever the value', () => {
    expect(redact('{"user":"ann","password":"hunter2","apiKey":"k-1","refresh_token":null,"n":1}'))
      .toBe('{"user":"ann","password":"<redacted>","apiKey":"<redacted>","refresh_token":<redacted>,"n":1}')
  })

  test('credentials under innocent keys: JWTs, bearer values, Supabase keys', () => {
    expect(redact(`{"note":"${JWT}","h":"Bearer abc.def","k":"sb_secret_123abc"}`)).toBe('{"note":"<redacted>","h":"Bearer <redacted>","k":"<redacted>"}')
  })

  test('a cut inside a secret value or a JWT still hides it', () => {
    expect(redact('{"access_token":"eyJhbGciOiJIUzI1')).toBe('{"access_token":"<redacted>"')
    expect(redact('{"x":"eyJhbGciOiJIUzI1NiJ9.eyJz')).toBe('{"x":"<redacted>')
  })

  test('text without anything secret-looking is kept as it is', () => {
    const text = '{"event":"cursor","x":12,"y":40,"author":"Ann"}'
    expect(redact(text)).toBe(text)
  })
})

describe('previews', () => {
  test('JSON bytes: the first PREVIEW_BYTES, with the full size said', () => {
    const long = new TextEncoder().encode(JSON.stringify({ blob: 'x'.repeat(1000) }))
    const preview = previewBytes(long, 'json')
    expect(preview.startsWith('{"blob":"xxx')).toBe(true)
    expect(preview).toContain(`… (${long.length} bytes)`)
    expect(preview.length).toBeLessThan(PREVIEW_BYTES + 40)
  })

  test('binary payloads: their size only', () => {
    expect(previewBytes(new Uint8Array([1, 2, 3]), 'binary')).toBe('<binary, 3 bytes>')
  })

  test('JSON values are redacted on the way in', () => {
    expect(previewJson({ token: JWT, ok: true })).toBe('{"token":"<redacted>","ok":true}')
  })

  test('presence metas: secret fields replaced, everything else kept', () => {
    const state = Object.assign(Object.create(null), { ann: { metas: [{ phx_ref: 'r1', status: 'online', session_id: 's', auth: { jwt: JWT } }] } })
    expect(redactValue(state)).toEqual({ ann: { metas: [{ phx_ref: 'r1', status: 'online', session_id: '<redacted>', auth: { jwt: '<redacted>' } }] } })
  })
})
