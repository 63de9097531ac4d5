/**
 * `phx_join` payload validation at the edge (join-payload.ts). Shapes follow realtime-js
 * 2.119 (supabase-protocol.md §2.2); structural errors are refused with InvalidJoinPayload.
 */
import { describe, expect, it } from 'vitest'
import { parseJoinPayload, type JoinPayload } from '../src/join-payload.js'
import { ErrorCode, RealtimeError } from '../src/error-codes.js'

function parseOk(raw: unknown): JoinPayload {
  const result = parseJoinPayload(raw)
  if (!result.ok) throw new Error(`expected ok, got ${result.error.reason}`)
  return result.value
}

function parseError(raw: unknown): RealtimeError {
  const result = parseJoinPayload(raw)
  if (result.ok) throw new Error(`expected an error for ${JSON.stringify(raw)}`)
  return result.error
}

const DEFAULTS: JoinPayload = {
  config: {
    broadcast: { self: false, ack: false, replay: null, replicationReady: false },
    presence: { key: '', enabled: false },
    postgresChanges: [],
    private: false,
    postgresChangesOptions: { wait: false, timeoutMs: 15_000 },
  },
  accessToken: null,
  switchboard: null,
}

// The payload element of the §2.2 join frame, byte for byte as realtime-js 2.119 sends it.
const REALTIME_JS_JOIN = `{
  "config": {
    "broadcast": {"ack": false, "self": false},
    "presence":  {"key": "", "enabled": true},
    "postgres_changes": [
      {"event": "INSERT", "schema": "public", "table": "todos", "filter": "id=eq.1"},
      {"event": "*", "schema": "public", "table": "notes", "select": ["id","title"]}
    ],
    "private": false
  },
  "access_token": "eyJhbGciOi..."
}`

describe('parseJoinPayload', () => {
  describe('valid payloads', () => {
    it('parses the exact realtime-js 2.119 join payload (§2.2)', () => {
      expect(parseOk(JSON.parse(REALTIME_JS_JOIN))).toEqual({
        config: {
          ...DEFAULTS.config,
          presence: { key: '', enabled: true },
          postgresChanges: [
            { event: 'INSERT', schema: 'public', table: 'todos', filter: 'id=eq.1' },
            { event: '*', schema: 'public', table: 'notes', select: ['id', 'title'] },
          ],
        },
        accessToken: 'eyJhbGciOi...',
        switchboard: null,
      })
    })

    it('keeps postgres_changes bindings verbatim and in order (the join reply echoes them)', () => {
      const bindings = [
        { event: 'UPDATE', table: 'b', custom: { nested: true } },
        { event: 'DELETE', schema: 'public' },
      ]
      const value = parseOk({ config: { postgres_changes: bindings } })
      expect(value.config.postgresChanges).toEqual(bindings)
      expect(value.config.postgresChanges[0]).toBe(bindings[0])
    })

    it.each([
      ['undefined', undefined],
      ['null', null],
      ['{}', {}],
      ['{config: {}}', { config: {} }],
      ['{config: null}', { config: null }],
      ['null sub-objects', { config: { broadcast: null, presence: null, postgres_changes: null, private: null } }],
      ['empty sub-objects', { config: { broadcast: {}, presence: {}, postgres_changes: [] } }],
    ])('applies the defaults to %s', (_name, raw) => {
      expect(parseOk(raw)).toEqual(DEFAULTS)
    })

    it('fills a shallowly merged broadcast config (realtime-js sends {self:true} without ack)', () => {
      const value = parseOk({ config: { broadcast: { self: true }, presence: { enabled: true }, private: true } })
      expect(value.config.broadcast).toEqual({ self: true, ack: false, replay: null, replicationReady: false })
      expect(value.config.presence).toEqual({ key: '', enabled: true })
      expect(value.config.private).toBe(true)
    })

    it.each([
      ['"true"', 'true', true],
      ['"TRUE"', 'TRUE', true],
      ['"True"', 'True', true],
      ['"false"', 'false', false],
      ['"FALSE"', 'FALSE', false],
      ['"fAlSe"', 'fAlSe', false],
    ])('reads the string %s as a boolean', (_name, text, expected) => {
      const value = parseOk({
        config: { broadcast: { self: text, ack: text }, presence: { enabled: text }, private: text },
      })
      expect(value.config).toMatchObject({
        broadcast: { self: expected, ack: expected },
        presence: { enabled: expected },
        private: expected,
      })
    })

    it('accepts the legacy user_token as the access token', () => {
      expect(parseOk({ config: {}, user_token: 'legacy' }).accessToken).toBe('legacy')
    })

    it('prefers access_token over user_token', () => {
      expect(parseOk({ access_token: 'new', user_token: 'legacy' }).accessToken).toBe('new')
      expect(parseOk({ access_token: null, user_token: 'legacy' }).accessToken).toBe('legacy')
    })

    it('reads replay, replication_ready and postgres_changes_options, and ignores unknown keys', () => {
      const value = parseOk({
        config: {
          broadcast: { self: true, ack: true, replay: { since: 1_700_000_000_000, limit: 10 }, replication_ready: true },
          presence: { key: 'ann', enabled: false, extra: 1 },
          postgres_changes: [],
          postgres_changes_options: { wait: true, timeout: 5_000 },
          private: true,
          future: 'x',
        },
        access_token: 'tok',
        version: 'realtime-js/2.119.1',
      })
      expect(value).toEqual({
        config: {
          broadcast: { self: true, ack: true, replay: { since: 1_700_000_000_000, limit: 10 }, replicationReady: true },
          presence: { key: 'ann', enabled: false },
          postgresChanges: [],
          private: true,
          postgresChangesOptions: { wait: true, timeoutMs: 5_000 },
        },
        accessToken: 'tok',
        switchboard: null,
      })
    })

    it('stringifies a numeric presence key', () => {
      expect(parseOk({ config: { presence: { key: 42 } } }).config.presence.key).toBe('42')
    })

    it('accepts a presence key of 1,000 characters and 100 bindings', () => {
      const value = parseOk({
        config: {
          presence: { key: 'k'.repeat(1_000) },
          postgres_changes: Array.from({ length: 100 }, (_, i) => ({ event: '*', table: `t${i}` })),
        },
      })
      expect(value.config.presence.key).toHaveLength(1_000)
      expect(value.config.postgresChanges).toHaveLength(100)
    })
  })

  describe('structural errors give InvalidJoinPayload', () => {
    it.each([
      ['a payload that is an array', [], /join payload must be an object/],
      ['a payload that is a string', 'config', /join payload must be an object/],
      ['a payload that is a number', 1, /join payload must be an object/],
      ['a config that is an array', { config: [] }, /`config` must be an object/],
      ['a config that is a string', { config: 'broadcast' }, /`config` must be an object/],
      ['a config that is true', { config: true }, /`config` must be an object/],
      ['a broadcast config that is a boolean', { config: { broadcast: true } }, /`config.broadcast` must be an object/],
      ['a broadcast config that is an array', { config: { broadcast: [] } }, /`config.broadcast` must be an object/],
      ['a presence config that is a string', { config: { presence: 'on' } }, /`config.presence` must be an object/],
      ['a presence config that is an array', { config: { presence: [] } }, /`config.presence` must be an object/],
      ['broadcast.self that is "yes"', { config: { broadcast: { self: 'yes' } } }, /must be booleans/],
      ['broadcast.self that is 1', { config: { broadcast: { self: 1 } } }, /must be booleans/],
      ['broadcast.ack that is an object', { config: { broadcast: { ack: {} } } }, /must be booleans/],
      ['presence.enabled that is 0', { config: { presence: { enabled: 0 } } }, /must be booleans/],
      ['private that is " true"', { config: { private: ' true' } }, /must be booleans/],
      ['a presence key that is an object', { config: { presence: { key: {} } } }, /`config.presence.key` must be a string/],
      ['a presence key that is a boolean', { config: { presence: { key: true } } }, /`config.presence.key` must be a string/],
      ['a presence key over 1,000 characters', { config: { presence: { key: 'k'.repeat(1_001) } } }, /longer than 1000 characters/],
      ['postgres_changes that is an object', { config: { postgres_changes: { event: '*' } } }, /`config.postgres_changes` must be an array/],
      ['postgres_changes that is a string', { config: { postgres_changes: '*' } }, /`config.postgres_changes` must be an array/],
      ['more than 100 bindings', { config: { postgres_changes: Array.from({ length: 101 }, () => ({ event: '*' })) } }, /at most 100/],
      ['a null binding', { config: { postgres_changes: [{ event: '*' }, null] } }, /every `config.postgres_changes` entry must be an object/],
      ['a string binding', { config: { postgres_changes: ['*'] } }, /every `config.postgres_changes` entry must be an object/],
      ['an array binding', { config: { postgres_changes: [['*']] } }, /every `config.postgres_changes` entry must be an object/],
      ['a numeric access_token', { access_token: 123 }, /`access_token` must be a string/],
      ['an object access_token', { access_token: { jwt: 'x' } }, /`access_token` must be a string/],
      ['a numeric user_token', { user_token: 123 }, /`access_token` must be a string/],
    ])('rejects %s', (_name, raw, pattern) => {
      const error = parseError(raw)
      expect(error).toBeInstanceOf(RealtimeError)
      expect(error.code).toBe(ErrorCode.InvalidJoinPayload)
      expect(error.message).toMatch(pattern)
      expect(error.reason).toBe(`InvalidJoinPayload: ${error.message}`)
    })
  })
})

describe('the switchboard resume key', () => {
  it('is null when absent, so the channel behaves like Supabase', () => {
    expect(parseOk({ config: {} }).switchboard).toBeNull()
  })

  it('parses a session and a resume point', () => {
    expect(parseOk({ switchboard: { session: 's-1', resume: { epoch: 'e1', position: 42 } } }).switchboard).toEqual({
      session: 's-1',
      resume: { epoch: 'e1', position: 42 },
    })
    expect(parseOk({ switchboard: {} }).switchboard).toEqual({ session: null, resume: null })
  })

  it.each([
    ['not an object', 'x'],
    ['a non-string session', { session: 5 }],
    ['a resume without epoch', { resume: { position: 1 } }],
    ['a negative position', { resume: { epoch: 'e', position: -1 } }],
    ['a fractional position', { resume: { epoch: 'e', position: 1.5 } }],
  ])('refuses %s with InvalidJoinPayload', (_name, value) => {
    const result = parseJoinPayload({ switchboard: value })
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.error.code).toBe('InvalidJoinPayload')
  })
})

describe('join options of newer clients', () => {
  it('clamps the replay limit to 1..25 and the wait to 20 s', () => {
    const value = parseOk({ config: { broadcast: { replay: { since: 5, limit: 500 } }, postgres_changes_options: { wait: true, timeout: 60_000 } } })
    expect(value.config.broadcast.replay).toEqual({ since: 5, limit: 25 })
    expect(value.config.postgresChangesOptions).toEqual({ wait: true, timeoutMs: 20_000 })
    expect(parseOk({ config: { broadcast: { replay: { since: 5, limit: 0 } } } }).config.broadcast.replay).toEqual({ since: 5, limit: 1 })
  })

  it.each([
    ['a replay that is not an object', { config: { broadcast: { replay: 3 } } }],
    ['a replay since that is text', { config: { broadcast: { replay: { since: 'yesterday' } } } }],
    ['a wait that is a number', { config: { postgres_changes_options: { wait: 1 } } }],
    ['a negative timeout', { config: { postgres_changes_options: { wait: true, timeout: -1 } } }],
  ])('refuses %s with InvalidJoinPayload', (_name, raw) => {
    expect(parseError(raw).code).toBe('InvalidJoinPayload')
  })
})
