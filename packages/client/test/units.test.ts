/**
 * Unit tests of the pure parts: backoff, naming, payload checks, rate limiter, the status
 * transition table, the lease table, presence mapping, logger redaction.
 */
import { describe, expect, it } from 'vitest'
import { backoffCeiling, DEFAULT_BACKOFF, DEFAULT_CONNECTION_RETRY, fullJitterDelay } from '../src/backoff.js'
import { createLogger, redact, type LogRecord } from '../src/logger.js'
import { channelName, postgresSpecFor, postgresSpecKey } from '../src/naming.js'
import { checkBroadcastPayload } from '../src/payload.js'
import { presencePayload, presenceUsers } from '../src/presence.js'
import { TokenBucket } from '../src/rate-limiter.js'
import { isGap, Status, transition, type StatusEvent } from '../src/status.js'
import { realtimeEndpoint } from '../src/manager.js'

describe('backoff (full jitter)', () => {
  const policy = { baseDelayMs: 1000, maxDelayMs: 8000 }
  it('doubles the window per attempt up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffCeiling(a, policy))).toEqual([1000, 2000, 4000, 8000, 8000, 8000])
    expect(backoffCeiling(10_000, policy)).toBe(8000)
  })
  it('draws uniformly in [0, ceiling)', () => {
    expect(fullJitterDelay(3, policy, () => 0)).toBe(0)
    expect(fullJitterDelay(3, policy, () => 0.5)).toBe(2000)
    expect(fullJitterDelay(3, policy, () => 0.999999)).toBe(3999)
    for (let attempt = 1; attempt <= 12; attempt++) {
      const ceiling = backoffCeiling(attempt, DEFAULT_CONNECTION_RETRY)
      for (let i = 0; i < 200; i++) {
        const delay = fullJitterDelay(attempt, DEFAULT_CONNECTION_RETRY)
        expect(delay >= 0 && delay < ceiling && Number.isInteger(delay)).toBe(true)
      }
    }
  })
  it('the socket schedule: first window 50 ms, doubling to a 5 s cap (250 ms in the first 5 s after a drop); the channel schedule starts at the seed reconnectDelay', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map((a) => backoffCeiling(a, DEFAULT_CONNECTION_RETRY))).toEqual([50, 100, 200, 400, 800, 1600, 3200, 5000, 5000])
    expect(DEFAULT_CONNECTION_RETRY.quickRetry).toEqual({ forMs: 5000, maxDelayMs: 250 })
    expect(DEFAULT_CONNECTION_RETRY.maxAttempts).toBe(60)
    expect([1, 2, 5, 6].map((a) => backoffCeiling(a, DEFAULT_BACKOFF))).toEqual([3000, 6000, 30_000, 30_000])
  })
})

describe('naming', () => {
  it('builds the documented names', () => {
    expect(channelName('presence', { entityType: 'contact', entityId: '123', tenantId: 'tenant-abc' })).toBe('tenant:tenant-abc:presence:contact:123')
    expect(channelName('subscription', { entityType: 'contact', entityId: '123' })).toBe('subscription:contact:123')
  })
  it('rejects ambiguous or empty segments', () => {
    expect(() => channelName('presence', { entityType: 'a:b', entityId: '1' })).toThrow(/INVALID|may not contain/)
    expect(() => channelName('presence', { entityType: 'a', entityId: '1', tenantId: 'x:y' })).toThrow(/may not contain/)
    expect(() => channelName('presence', { entityType: '', entityId: '1' })).toThrow(/non-empty/)
    expect(() => channelName('presence', { entityType: 'a', entityId: 'x'.repeat(300) })).toThrow(/longer/)
  })
  it('derives the postgres spec defaults', () => {
    expect(postgresSpecFor({ entityType: 'contact', entityId: '123' })).toEqual({ event: '*', schema: 'public', table: 'contacts', filter: 'id=eq.123' })
    expect(postgresSpecFor({ entityType: 'person', entityId: '1', table: 'people', schema: 'crm', event: 'UPDATE', idColumn: 'uuid' })).toEqual({ event: 'UPDATE', schema: 'crm', table: 'people', filter: 'uuid=eq.1' })
    expect(postgresSpecFor({ entityType: 'contact', entityId: 'a,b' }).filter).toBe('id=eq."a,b"')
    expect(postgresSpecFor({ entityType: 'contact', entityId: '1', filter: null }).filter).toBeUndefined()
    expect(() => postgresSpecFor({ entityType: 'contact', entityId: '1', event: 'TRUNCATE' as never })).toThrow(/event/)
  })
  it('gives equal specs equal keys', () => {
    expect(postgresSpecKey(postgresSpecFor({ entityType: 'c', entityId: '1' }))).toBe(postgresSpecKey({ event: '*', schema: 'public', table: 'cs', filter: 'id=eq.1' }))
    expect(postgresSpecKey({ event: '*', schema: 'public', table: 'cs' })).not.toBe(postgresSpecKey({ event: 'INSERT', schema: 'public', table: 'cs' }))
  })
  it('maps project URLs to the realtime endpoint', () => {
    expect(realtimeEndpoint('http://127.0.0.1:4000')).toBe('ws://127.0.0.1:4000/realtime/v1')
    expect(realtimeEndpoint('https://x.supabase.co/')).toBe('wss://x.supabase.co/realtime/v1')
    expect(realtimeEndpoint('ws://h:1/realtime/v1/websocket')).toBe('ws://h:1/realtime/v1')
  })
})

describe('broadcast payload checks', () => {
  const code = (fn: () => unknown) => {
    try {
      fn()
    } catch (err) {
      return (err as { code?: string }).code
    }
    return 'ok'
  }
  it('accepts plain JSON and returns the encoded size', () => {
    expect(checkBroadcastPayload({ x: 1, y: [true, null, 'é'], d: new Date(0), skip: undefined })).toBeGreaterThan(10)
    expect(checkBroadcastPayload('é€😀')).toBe(2 + 2 + 3 + 4) // UTF-8 bytes, quotes included
  })
  it('rejects what JSON would lose or corrupt', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    for (const bad of [{ f: () => 1 }, { n: 1n }, { s: Symbol('x') }, { nan: Number.NaN }, [undefined], cyclic, new Map(), { m: new Map() }]) {
      expect(code(() => checkBroadcastPayload(bad))).toBe('PAYLOAD_NOT_SERIALIZABLE')
    }
  })
  it('rejects prototype keys at any depth', () => {
    expect(code(() => checkBroadcastPayload(JSON.parse('{"a":{"__proto__":{"x":1}}}')))).toBe('PAYLOAD_FORBIDDEN_KEY')
    expect(code(() => checkBroadcastPayload({ constructor: 1 }))).toBe('PAYLOAD_FORBIDDEN_KEY')
    expect(code(() => checkBroadcastPayload([{ prototype: {} }]))).toBe('PAYLOAD_FORBIDDEN_KEY')
  })
  it('enforces the size limit', () => {
    expect(code(() => checkBroadcastPayload({ s: 'x'.repeat(100) }, 50))).toBe('PAYLOAD_TOO_LARGE')
  })
})

describe('token bucket', () => {
  it('allows a burst, then refills at the rate', () => {
    let now = 0
    const bucket = new TokenBucket({ perSecond: 10, burst: 2 }, { now: () => now })
    expect([bucket.take(), bucket.take()]).toEqual([0, 0])
    expect(bucket.take()).toBe(100)
    now += 100
    expect(bucket.take()).toBe(0)
  })
})

describe('status transition table', () => {
  const states = Object.values(Status)
  const events: StatusEvent[] = ['start', 'up', 'down', 'exhausted', 'stop']
  const table: Record<string, Record<StatusEvent, string>> = {
    connecting: { start: 'connecting', up: 'connected', down: 'connecting', exhausted: 'error', stop: 'disconnected' },
    connected: { start: 'connected', up: 'connected', down: 'reconnecting', exhausted: 'error', stop: 'disconnected' },
    reconnecting: { start: 'reconnecting', up: 'connected', down: 'reconnecting', exhausted: 'error', stop: 'disconnected' },
    disconnected: { start: 'connecting', up: 'disconnected', down: 'disconnected', exhausted: 'disconnected', stop: 'disconnected' },
    error: { start: 'connecting', up: 'connected', down: 'error', exhausted: 'error', stop: 'disconnected' },
  }
  for (const from of states) {
    for (const event of events) {
      it(`${from} --${event}--> ${table[from]?.[event]}`, () => {
        expect(transition(from, event)).toBe(table[from]?.[event])
      })
    }
  }
  it('flags a gap only on a return', () => {
    expect(isGap('connecting', 'connected', false)).toBe(false)
    expect(isGap('reconnecting', 'connected', true)).toBe(true)
    expect(isGap('error', 'connected', true)).toBe(true)
    expect(isGap('connected', 'connected', true)).toBe(false)
  })
})

describe('presence users', () => {
  it('tracks identity fields over metadata and maps state to one user per key', () => {
    const payload = presencePayload({ id: 'u1', name: 'Ada' }, { role: 'editor', userId: 'spoof' }, new Date(0))
    expect(payload).toEqual({ role: 'editor', userId: 'u1', userName: 'Ada', onlineAt: '1970-01-01T00:00:00.000Z' })
    const users = presenceUsers({
      u2: [{ userId: 'u2', userName: 'B', onlineAt: '2', presence_ref: 'r' }],
      u1: [
        { userId: 'u1', userName: 'A', onlineAt: '1', presence_ref: 'x' },
        { userId: 'u1', userName: 'A2', onlineAt: '3', presence_ref: 'y' },
      ],
      junk: [{ nope: true }],
    })
    expect(users).toEqual([
      { userId: 'u1', userName: 'A2', onlineAt: '3' },
      { userId: 'u2', userName: 'B', onlineAt: '2' },
    ])
  })
})

describe('logger', () => {
  it('filters by level and redacts tokens', () => {
    const lines: LogRecord[] = []
    const log = createLogger({ level: 'info', sink: (r) => lines.push(r) })
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl'
    log.debug('hidden')
    log.info(`connected to ws://h/realtime/v1/websocket?apikey=${jwt}&vsn=2.0.0`, { access_token: jwt, nested: { note: `Bearer ${jwt}` } })
    expect(lines).toHaveLength(1)
    expect(JSON.stringify(lines)).not.toContain(jwt)
    expect(lines[0]?.fields).toEqual({ access_token: '<redacted>', nested: { note: 'Bearer <redacted>' } })
    expect(redact({ apiKey: 'k', ok: 1 })).toEqual({ apiKey: '<redacted>', ok: 1 })
  })
})
