/**
 * Broadcast conformance (supabase-protocol.md §1.2, §3): self/ack, the REST endpoints,
 * `httpSend`, vsn 1.0.0 ↔ 2.0.0, large and binary payloads, ordering, and privacy namespaces.
 */
import type { RealtimeChannel } from '@supabase/supabase-js'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startHarness, subscribe, waitFor, type Harness } from './support/harness.js'
import { RawSocket, joinPayload, userBroadcastPush } from './support/raw-socket.js'

const MAX_PAYLOAD = 200_000

let h: Harness
beforeAll(async () => {
  h = await startHarness({ limits: { maxPayloadBytes: MAX_PAYLOAD } })
})
afterAll(async () => {
  await h?.close()
})

const unique = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}`

interface Received {
  type: string
  event: string
  payload: unknown
  meta?: unknown
}

function collect(channel: RealtimeChannel, event = '*'): Received[] {
  const got: Received[] = []
  channel.on('broadcast', { event }, (message) => got.push(message as Received))
  return got
}

async function joined(channel: RealtimeChannel): Promise<RealtimeChannel> {
  const { status, error } = await subscribe(channel)
  expect(status, error?.message).toBe('SUBSCRIBED')
  return channel
}

const events = (got: Received[]) => got.map((m) => m.event)

/** A sender plus a vsn 2.0.0 and a vsn 1.0.0 receiver, all joined to `topic`. */
async function senderAndReceivers(topic: string, senderConfig: Record<string, unknown> = {}) {
  const sender = await joined(h.client().channel(topic, { config: senderConfig }))
  const r2 = h.client().channel(topic)
  const r1 = h.client({ vsn: '1.0.0' }).channel(topic)
  const got2 = collect(r2)
  const got1 = collect(r1)
  await joined(r2)
  await joined(r1)
  return { sender, got1, got2 }
}

function rest(path: string, init: { body?: BodyInit; headers?: Record<string, string>; token?: string | null } = {}): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...init.headers }
  const token = init.token === undefined ? h.server.anonKey : init.token
  if (token) headers.authorization = `Bearer ${token}`
  return fetch(`${h.server.url}/realtime/v1/api${path}`, { method: 'POST', headers, body: init.body })
}

describe('self and ack', () => {
  test('self: true echoes to the sender, self: false does not', async () => {
    const topic = unique('self')
    const a = await joined(h.client().channel(topic, { config: { broadcast: { self: true, ack: true } } }))
    const b = h.client().channel(topic, { config: { broadcast: { self: false, ack: true } } })
    const c = h.client().channel(topic)
    const gotA = collect(a)
    const gotB = collect(b)
    const gotC = collect(c)
    await joined(b)
    await joined(c)

    expect(await a.send({ type: 'broadcast', event: 'a1', payload: { from: 'a' } })).toBe('ok')
    expect(await b.send({ type: 'broadcast', event: 'b1', payload: { from: 'b' } })).toBe('ok')
    expect(await a.send({ type: 'broadcast', event: 'a2', payload: { from: 'a' } })).toBe('ok')
    // Fan-out of one message to all receivers happens before the ack, so once b has a2 it
    // would already have had its own b1 if the server echoed it.
    await waitFor(() => gotB.length >= 2 && gotC.length >= 3 && gotA.length >= 3, 5_000, 'all broadcasts')

    expect(events(gotA)).toEqual(['a1', 'b1', 'a2'])
    expect(events(gotB)).toEqual(['a1', 'a2'])
    expect(events(gotC)).toEqual(['a1', 'b1', 'a2'])
    expect(gotC[0]).toEqual({ type: 'broadcast', event: 'a1', payload: { from: 'a' } })
  })

  test('ack: true gets an ok reply echoing the ref; ack: false gets no reply', async () => {
    const raw = await RawSocket.connect(h.server.url, h.server.anonKey)
    try {
      const acked = `realtime:${unique('ack')}`
      const silent = `realtime:${unique('noack')}`
      const j1 = await raw.join(acked, joinPayload({ broadcast: { ack: true, self: false } }))
      const j2 = await raw.join(silent, joinPayload({ broadcast: { ack: false, self: false } }))
      expect(j1.reply.payload.status).toBe('ok')
      expect(j2.reply.payload.status).toBe('ok')

      raw.sendBinary(userBroadcastPush(j1.joinRef, 'ack-me', acked, 'ev', { x: 1 }))
      const reply = await raw.reply('ack-me')
      expect(reply).toMatchObject({ joinRef: j1.joinRef, ref: 'ack-me', topic: acked, payload: { status: 'ok', response: {} } })

      raw.sendBinary(userBroadcastPush(j2.joinRef, 'no-ack', silent, 'ev', { x: 1 }))
      await raw.heartbeat()
      expect(raw.all((f) => f.ref === 'no-ack')).toEqual([])
    } finally {
      raw.close()
    }
  })

  test('the official client resolves an acked send with "ok"', async () => {
    const topic = unique('ack-client')
    const sender = await joined(h.client().channel(topic, { config: { broadcast: { ack: true } } }))
    const receiver = h.client().channel(topic)
    const got = collect(receiver, 'ping')
    await joined(receiver)
    expect(await sender.send({ type: 'broadcast', event: 'ping', payload: { n: 1 } })).toBe('ok')
    await waitFor(() => got.length === 1)
  })
})

describe('REST broadcast', () => {
  test('batch POST /realtime/v1/api/broadcast delivers to v2 and v1 subscribers (202)', async () => {
    const topic = unique('rest-batch')
    const v2 = h.client().channel(topic)
    const v1 = h.client({ vsn: '1.0.0' }).channel(topic)
    const got2 = collect(v2)
    const got1 = collect(v1)
    await joined(v2)
    await joined(v1)

    const response = await rest('/broadcast', {
      body: JSON.stringify({
        messages: [
          { topic, event: 'one', payload: { n: 1 } },
          { topic, event: 'two', payload: { n: 2 }, id: 'msg-2' },
          { topic: unique('elsewhere'), event: 'other', payload: {} },
        ],
      }),
    })
    expect(response.status).toBe(202)
    await waitFor(() => got2.length === 2 && got1.length === 2, 5_000, 'REST batch broadcasts')
    for (const got of [got1, got2]) {
      expect(got).toEqual([
        { type: 'broadcast', event: 'one', payload: { n: 1 } },
        { type: 'broadcast', event: 'two', payload: { n: 2 }, meta: { id: 'msg-2' } },
      ])
    }
  })

  test('batch accepts the apikey header and refuses bad tokens (401) and bad bodies (422)', async () => {
    const body = JSON.stringify({ messages: [{ topic: 'x', event: 'e', payload: {} }] })
    const viaApikey = await rest('/broadcast', { token: null, headers: { apikey: h.server.anonKey }, body })
    expect(viaApikey.status).toBe(202)

    const missing = await rest('/broadcast', { token: null, body })
    expect(missing.status).toBe(401)
    expect(await missing.json()).toEqual({ message: 'Unauthorized' })

    const forged = await rest('/broadcast', { token: `${h.server.anonKey.slice(0, -4)}AAAA`, body })
    expect(forged.status).toBe(401)

    const expired = await rest('/broadcast', { token: await h.token({ role: 'anon' }, -10), body })
    expect(expired.status).toBe(401)

    for (const bad of [{ messages: 'nope' }, { messages: [{ topic: 'x', event: 'e', payload: 'not an object' }] }, { messages: [{ event: 'e', payload: {} }] }]) {
      const response = await rest('/broadcast', { body: JSON.stringify(bad) })
      expect(response.status, JSON.stringify(bad)).toBe(422)
      expect(await response.json()).toHaveProperty('errors')
    }

    const tooBig = await rest('/broadcast', { body: JSON.stringify({ messages: [{ topic: 'x', event: 'e', payload: { s: 'x'.repeat(MAX_PAYLOAD + 1) } }] }) })
    expect(tooBig.status).toBe(422)
  })

  test('single event POST …/broadcast/:topic/events/:event delivers JSON and bytes (202)', async () => {
    const topic = unique('rest-single')
    const v2 = h.client().channel(topic)
    const v1 = h.client({ vsn: '1.0.0' }).channel(topic)
    const got2 = collect(v2)
    const got1 = collect(v1)
    await joined(v2)
    await joined(v1)

    const json = await rest(`/broadcast/${encodeURIComponent(topic)}/events/cursor`, { body: JSON.stringify({ x: 1, y: [2, 3] }) })
    expect(json.status).toBe(202)
    const bytes = await rest(`/broadcast/${encodeURIComponent(topic)}/events/blob`, {
      headers: { 'content-type': 'application/octet-stream' },
      body: new Uint8Array([0, 1, 2, 250]),
    })
    expect(bytes.status).toBe(202)
    const marker = await rest(`/broadcast/${encodeURIComponent(topic)}/events/marker`, { body: '{}' })
    expect(marker.status).toBe(202)

    await waitFor(() => got2.length === 3 && events(got1).includes('marker'), 5_000, 'single-event broadcasts')
    expect(got2[0]).toEqual({ type: 'broadcast', event: 'cursor', payload: { x: 1, y: [2, 3] } })
    expect(got2[1]!.event).toBe('blob')
    expect(got2[1]!.payload).toBeInstanceOf(ArrayBuffer)
    expect([...new Uint8Array(got2[1]!.payload as ArrayBuffer)]).toEqual([0, 1, 2, 250])
    // Binary payloads cannot be carried to vsn 1.0.0 sockets: skipped, not mangled.
    expect(events(got1)).toEqual(['cursor', 'marker'])
    expect(got1[0]).toEqual({ type: 'broadcast', event: 'cursor', payload: { x: 1, y: [2, 3] } })
  })

  test('single event errors: 401 bad token, 415 unsupported type, 422 too large', async () => {
    const path = '/broadcast/room/events/e'
    const noToken = await rest(path, { token: null, body: '{}' })
    expect(noToken.status).toBe(401)
    expect(await noToken.json()).toEqual({ message: 'Unauthorized' })
    const badToken = await rest(path, { token: 'not-a-jwt', body: '{}' })
    expect(badToken.status).toBe(401)

    const text = await rest(path, { headers: { 'content-type': 'text/plain' }, body: 'hello' })
    expect(text.status).toBe(415)
    expect(await text.json()).toEqual({ error: 'Unsupported Media Type. Use application/json or application/octet-stream' })

    const big = await rest(path, { headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(MAX_PAYLOAD + 1) })
    expect(big.status).toBe(422)
  })

  test('channel.httpSend() sends JSON and binary through the single-event endpoint', async () => {
    const topic = unique('http-send')
    const senderChannel = h.client().channel(topic)
    const receiver = h.client().channel(topic)
    const got = collect(receiver)
    await joined(receiver)
    expect(await senderChannel.httpSend('hello', { text: 'hi' })).toEqual({ success: true })
    expect(await senderChannel.httpSend('bytes', new Uint8Array([9, 8, 7]).buffer)).toEqual({ success: true })
    await waitFor(() => got.length === 2, 5_000, 'httpSend broadcasts')
    expect(got[0]).toEqual({ type: 'broadcast', event: 'hello', payload: { text: 'hi' } })
    expect([...new Uint8Array(got[1]!.payload as ArrayBuffer)]).toEqual([9, 8, 7])
  })
})

describe('wire versions and payloads', () => {
  test('a vsn 1.0.0 client and a vsn 2.0.0 client talk both ways', async () => {
    const topic = unique('versions')
    const v1 = h.client({ vsn: '1.0.0' }).channel(topic, { config: { broadcast: { ack: true } } })
    const v2 = h.client({ vsn: '2.0.0' }).channel(topic, { config: { broadcast: { ack: true } } })
    const got1 = collect(v1)
    const got2 = collect(v2)
    await joined(v1)
    await joined(v2)
    expect(await v1.send({ type: 'broadcast', event: 'from-v1', payload: { text: 'héllo ✓', n: [1, 2] } })).toBe('ok')
    expect(await v2.send({ type: 'broadcast', event: 'from-v2', payload: { text: 'wörld ✓', nested: { ok: true } } })).toBe('ok')
    await waitFor(() => got1.length === 1 && got2.length === 1, 5_000, 'cross-version broadcasts')
    expect(got2).toEqual([{ type: 'broadcast', event: 'from-v1', payload: { text: 'héllo ✓', n: [1, 2] } }])
    expect(got1).toEqual([{ type: 'broadcast', event: 'from-v2', payload: { text: 'wörld ✓', nested: { ok: true } } }])
  })

  test('a 100 KB payload arrives intact at v2 and v1 receivers', async () => {
    const topic = unique('large')
    const { sender, got1, got2 } = await senderAndReceivers(topic, { broadcast: { ack: true } })
    const payload = { blob: 'x'.repeat(100 * 1024), items: Array.from({ length: 100 }, (_, i) => ({ i })) }
    expect(await sender.send({ type: 'broadcast', event: 'big', payload })).toBe('ok')
    await waitFor(() => got2.length === 1 && got1.length === 1, 5_000, '100 KB broadcast')
    expect(got2[0]!.payload).toEqual(payload)
    expect(got1[0]!.payload).toEqual(payload)
  })

  test('a burst of 200 broadcasts arrives complete and in order', async () => {
    const topic = unique('burst')
    const { sender, got1, got2 } = await senderAndReceivers(topic)
    await Promise.all(Array.from({ length: 200 }, (_, i) => sender.send({ type: 'broadcast', event: 'seq', payload: { i } })))
    await waitFor(() => got2.length === 200 && got1.length === 200, 10_000, '200 broadcasts')
    const expected = Array.from({ length: 200 }, (_, i) => i)
    expect(got2.map((m) => (m.payload as { i: number }).i)).toEqual(expected)
    expect(got1.map((m) => (m.payload as { i: number }).i)).toEqual(expected)
  })

  test('a binary (ArrayBuffer) payload goes to v2 clients and not to v1 clients', async () => {
    const topic = unique('binary')
    const { sender, got1, got2 } = await senderAndReceivers(topic, { broadcast: { ack: true } })
    const bytes = new Uint8Array([0, 1, 127, 128, 255, 10, 13])
    expect(await sender.send({ type: 'broadcast', event: 'bin', payload: bytes.buffer })).toBe('ok')
    expect(await sender.send({ type: 'broadcast', event: 'after', payload: { done: true } })).toBe('ok')
    await waitFor(() => got2.length === 2 && got1.length >= 1, 5_000, 'binary then marker')
    expect(got2[0]!.event).toBe('bin')
    expect(got2[0]!.payload).toBeInstanceOf(ArrayBuffer)
    expect([...new Uint8Array(got2[0]!.payload as ArrayBuffer)]).toEqual([...bytes])
    expect(got1).toEqual([{ type: 'broadcast', event: 'after', payload: { done: true } }])
  })

  test('a public and a private channel with the same name are different rooms', async () => {
    const name = unique('same-name')
    const service = { key: h.server.serviceRoleKey }
    const priv1 = await joined(h.client(service).channel(name, { config: { private: true, broadcast: { ack: true } } }))
    const priv2 = h.client(service).channel(name, { config: { private: true, presence: { key: 'p2' } } })
    const pub1 = await joined(h.client().channel(name, { config: { broadcast: { ack: true } } }))
    const pub2 = h.client().channel(name, { config: { presence: { key: 'q2' } } })
    const gotPriv = collect(priv2)
    const gotPub = collect(pub2)
    priv2.on('presence', { event: 'sync' }, () => {})
    pub2.on('presence', { event: 'sync' }, () => {})
    await joined(priv2)
    await joined(pub2)

    expect(await priv1.send({ type: 'broadcast', event: 'private-1', payload: {} })).toBe('ok')
    expect(await pub1.send({ type: 'broadcast', event: 'public-1', payload: {} })).toBe('ok')
    expect(await priv1.track({ who: 'private tracker' })).toBe('ok')
    expect(await priv1.send({ type: 'broadcast', event: 'private-end', payload: {} })).toBe('ok')
    expect(await pub1.send({ type: 'broadcast', event: 'public-end', payload: {} })).toBe('ok')
    await waitFor(() => events(gotPriv).includes('private-end') && events(gotPub).includes('public-end'), 5_000, 'both rooms')

    expect(events(gotPriv)).toEqual(['private-1', 'private-end'])
    expect(events(gotPub)).toEqual(['public-1', 'public-end'])
    await waitFor(() => Object.keys(priv2.presenceState()).length === 1, 5_000, 'private presence')
    expect(pub2.presenceState()).toEqual({})
  })
})
