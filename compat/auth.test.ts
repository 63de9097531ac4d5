/**
 * Auth conformance (supabase-protocol.md §2.4, §2.8, §6): refused upgrades (HTTP 401 + JSON),
 * join errors for bad access tokens, token refresh, expiry while joined, service_role.
 */
import type { RealtimeChannel } from '@supabase/supabase-js'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startHarness, subscribe, waitFor, type Harness } from './support/harness.js'
import { clientWithToken } from './support/checks.js'
import { RawSocket, epochSeconds, joinPayload, refusedUpgrade, signJwt, socketUrl } from './support/raw-socket.js'

let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(async () => {
  await h?.close()
})

const unique = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}`
const sign = (claims: Record<string, unknown>, header?: Record<string, unknown>) => signJwt(h.server.jwtSecret, claims, header)
const valid = (claims: Record<string, unknown> = {}) => sign({ role: 'anon', exp: epochSeconds(3600), ...claims })

interface SystemMessage {
  extension: string
  status: string
  message: string
  channel: string
}

function systemMessages(channel: RealtimeChannel): SystemMessage[] {
  const got: SystemMessage[] = []
  channel.on('system', {}, (payload: SystemMessage) => got.push(payload))
  return got
}

describe('the WebSocket upgrade is refused with HTTP 401 and a JSON body', () => {
  const cases: [string, () => string | null, string | RegExp][] = [
    ['no apikey', () => null, 'API key is missing'],
    ['a wrong secret', () => signJwt('another-secret-that-is-at-least-32-characters', { role: 'anon', exp: epochSeconds(3600) }), 'Failed to validate JWT signature'],
    ['an expired token', () => valid({ exp: epochSeconds(-30) }), 'Token has expired'],
    ['alg: none', () => sign({ role: 'anon', exp: epochSeconds(3600) }, { alg: 'none', typ: 'JWT' }), /^Failed to generate JWT signer/],
    ['no role', () => sign({ exp: epochSeconds(3600) }), 'Fields `role` and `exp` are required in JWT'],
    ['no exp', () => sign({ role: 'anon' }), 'Fields `role` and `exp` are required in JWT'],
    ['not a JWT', () => 'definitely-not-a-jwt', 'The token provided is not a valid JWT'],
  ]
  for (const [name, token, message] of cases) {
    test(name, async () => {
      const { status, body } = await refusedUpgrade(socketUrl(h.server.url, { apikey: token(), vsn: '2.0.0' }))
      expect(status).toBe(401)
      expect(body).toEqual({ error: typeof message === 'string' ? message : expect.stringMatching(message) })
    })
  }

  test('the x-api-key header wins over the apikey query parameter', async () => {
    const refused = await refusedUpgrade(socketUrl(h.server.url, { apikey: h.server.anonKey, vsn: '2.0.0' }), { 'x-api-key': 'bad-key' })
    expect(refused).toEqual({ status: 401, body: { error: 'The token provided is not a valid JWT' } })
  })

  test('a valid key is accepted (the refusals above are not a broken endpoint)', async () => {
    const raw = await RawSocket.connect(h.server.url, valid())
    expect((await raw.heartbeat()).payload).toEqual({ status: 'ok', response: {} })
    raw.close()
  })
})

describe('joins with a bad access_token get the join error reason', () => {
  const cases: [string, () => string, string | RegExp][] = [
    ['wrong secret', () => signJwt('another-secret-that-is-at-least-32-characters', { role: 'anon', exp: epochSeconds(3600) }), 'JwtSignatureError: Failed to validate JWT signature'],
    ['expired', () => valid({ exp: epochSeconds(-30) }), /^InvalidJWTToken: Token has expired \d+ seconds ago$/],
    ['alg: none', () => sign({ role: 'anon', exp: epochSeconds(3600) }, { alg: 'none' }), /^JwtSignerError: Failed to generate JWT signer/],
    ['missing role', () => sign({ exp: epochSeconds(3600) }), 'InvalidJWTToken: Fields `role` and `exp` are required in JWT'],
    ['malformed', () => 'a.b.c', 'MalformedJWT: The token provided is not a valid JWT'],
  ]
  for (const [name, token, reason] of cases) {
    test(`raw socket: ${name}`, async () => {
      const raw = await RawSocket.connect(h.server.url, h.server.anonKey)
      try {
        const topic = `realtime:${unique('bad-token')}`
        const { joinRef, reply } = await raw.join(topic, joinPayload({}, token()))
        expect(reply).toMatchObject({ joinRef, ref: joinRef, topic, event: 'phx_reply' })
        expect(reply.payload).toEqual({ status: 'error', response: { reason: typeof reason === 'string' ? reason : expect.stringMatching(reason) } })
        // The channel was not joined: a broadcast on it is an unmatched topic.
        const ref = raw.push(topic, 'broadcast', { type: 'broadcast', event: 'e', payload: {} }, { joinRef })
        expect((await raw.reply(ref)).payload).toEqual({ status: 'error', response: { reason: 'unmatched topic' } })
      } finally {
        raw.close()
      }
    })
  }

  test('raw socket: user_token is the legacy alias of access_token; an sb_ key means "use the apikey"', async () => {
    const raw = await RawSocket.connect(h.server.url, h.server.anonKey)
    try {
      const legacy = await raw.join(`realtime:${unique('legacy')}`, { config: joinPayload().config, user_token: 'a.b.c' })
      expect(legacy.reply.payload).toEqual({ status: 'error', response: { reason: 'MalformedJWT: The token provided is not a valid JWT' } })
      const topic = `realtime:${unique('sb-key')}`
      const sb = await raw.join(topic, joinPayload({}, 'sb_publishable_not_a_jwt'))
      expect(sb.reply.payload.status).toBe('ok')
      // An sb_ key in access_token is ignored, not treated as a bad token.
      raw.push(topic, 'access_token', { access_token: 'sb_publishable_not_a_jwt' }, { joinRef: sb.joinRef })
      await raw.heartbeat()
      expect(raw.all((f) => f.event === 'system' || f.event === 'phx_close')).toEqual([])
    } finally {
      raw.close()
    }
  })

  test('official client: CHANNEL_ERROR carries the reason', async () => {
    const badToken = signJwt('another-secret-that-is-at-least-32-characters', { role: 'authenticated', exp: epochSeconds(3600) })
    const client = await clientWithToken(h, () => badToken)
    const channel = client.channel(unique('client-bad-token'))
    const { status, error } = await subscribe(channel)
    expect(status).toBe('CHANNEL_ERROR')
    expect(error?.message).toBe('JwtSignatureError: Failed to validate JWT signature')
    await client.removeChannel(channel)
  })
})

describe('tokens while joined', () => {
  test('setAuth(newToken) keeps the channel past the old token’s expiry', async () => {
    const shortLived = await h.token({ role: 'authenticated', sub: 'user-1' }, 2)
    const expiresAt = JSON.parse(Buffer.from(shortLived.split('.')[1]!, 'base64url').toString()).exp as number
    let current = shortLived
    const client = await clientWithToken(h, () => current)
    const topic = unique('refresh')
    const channel = client.channel(topic, { config: { broadcast: { self: true, ack: true } } })
    const system = systemMessages(channel)
    const got: unknown[] = []
    channel.on('broadcast', { event: 'ping' }, ({ payload }) => got.push(payload))
    expect((await subscribe(channel)).status).toBe('SUBSCRIBED')

    current = await h.token({ role: 'authenticated', sub: 'user-1' }, 3600)
    await client.realtime.setAuth(current)
    await waitFor(() => Date.now() / 1000 > expiresAt + 0.5, 5_000, 'old token expiry')

    expect(system).toEqual([])
    expect(channel.state).toBe('joined')
    expect(await channel.send({ type: 'broadcast', event: 'ping', payload: { after: 'expiry' } })).toBe('ok')
    await waitFor(() => got.length === 1, 5_000, 'broadcast after refresh')
  })

  test('a token that expires while joined ⇒ system error, then the channel closes', async () => {
    const token = await h.token({ role: 'authenticated', sub: 'user-1' }, 2)
    const client = await clientWithToken(h, () => token)
    const topic = unique('expiry')
    const channel = client.channel(topic)
    const system = systemMessages(channel)
    expect((await subscribe(channel)).status).toBe('SUBSCRIBED')
    await waitFor(() => system.length > 0 && channel.state === 'closed', 5_000, 'expiry shutdown')
    expect(system).toEqual([{ extension: 'system', status: 'error', message: expect.stringMatching(/^Token has expired \d+ seconds ago$/), channel: topic }])
  })

  test('raw socket: refresh to an invalid token ⇒ system error then phx_close with the join_ref', async () => {
    const raw = await RawSocket.connect(h.server.url, h.server.anonKey)
    try {
      const topic = `realtime:${unique('bad-refresh')}`
      const { joinRef, reply } = await raw.join(topic, joinPayload({}, h.server.anonKey))
      expect(reply.payload.status).toBe('ok')
      raw.push(topic, 'access_token', { access_token: valid({ exp: epochSeconds(-5) }) }, { joinRef })
      const system = await raw.next((f) => f.event === 'system')
      expect(system).toMatchObject({ joinRef, ref: null, topic })
      expect(system.payload).toEqual({ extension: 'system', status: 'error', message: expect.stringMatching(/^Token has expired \d+ seconds ago$/), channel: topic.slice('realtime:'.length) })
      const close = await raw.next((f) => f.event === 'phx_close')
      expect(close).toMatchObject({ joinRef, ref: joinRef, topic, payload: {} })
    } finally {
      raw.close()
    }
  })
})

describe('service_role', () => {
  test('service_role joins and uses a private channel without policies; anon is refused', async () => {
    const topic = unique('service')
    const service = h.client({ key: h.server.serviceRoleKey })
    const a = service.channel(topic, { config: { private: true, broadcast: { self: true, ack: true } } })
    const got: unknown[] = []
    a.on('broadcast', { event: 'e' }, ({ payload }) => got.push(payload))
    expect((await subscribe(a)).status).toBe('SUBSCRIBED')
    expect(await a.send({ type: 'broadcast', event: 'e', payload: { n: 1 } })).toBe('ok')
    await waitFor(() => got.length === 1)

    // REST with the service key reaches the private room.
    const response = await fetch(`${h.server.url}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${h.server.serviceRoleKey}` },
      body: JSON.stringify({ messages: [{ topic, event: 'e', payload: { n: 2 }, private: true }] }),
    })
    expect(response.status).toBe(202)
    await waitFor(() => got.length === 2)

    const anonClient = h.client()
    const b = anonClient.channel(topic, { config: { private: true } })
    const { status, error } = await subscribe(b)
    expect(status).toBe('CHANNEL_ERROR')
    expect(error?.message).toBe(`Unauthorized: You do not have permissions to read from this Channel topic: ${topic}`)
    await anonClient.removeChannel(b)
  })
})
