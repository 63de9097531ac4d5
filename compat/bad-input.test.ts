/**
 * Bad input and limits (supabase-protocol.md §1.2, §2.1, §2.4, §7): malformed frames are
 * dropped with the socket kept open, oversized frames close it (1009), join refusals carry
 * Supabase's reasons, rate limits shut channels or sockets, slow readers are cut off. After
 * each case the server must still serve a good client.
 */
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import { startHarness, type Harness } from './support/harness.js'
import { errorCount, expectRoundTrip } from './support/checks.js'
import { RawSocket, joinPayload, userBroadcastPush } from './support/raw-socket.js'

const LIMITS = {
  maxChannelsPerSocket: 3,
  maxJoinsPerSecond: 5,
  maxEventsPerSecond: 20,
  maxPresenceCallsPerWindow: 3,
  maxPayloadBytes: 10_000,
  maxBufferedBytesPerSocket: 256 * 1024,
}

let h: Harness
const sockets: RawSocket[] = []
beforeAll(async () => {
  h = await startHarness({ limits: LIMITS })
})
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close()
  await expectRoundTrip(h)
})
afterAll(async () => {
  await h?.close()
})

const unique = (name: string) => `realtime:${name}-${Math.random().toString(36).slice(2, 8)}`

async function connect(vsn: '1.0.0' | '2.0.0' = '2.0.0'): Promise<RawSocket> {
  const socket = await RawSocket.connect(h.server.url, h.server.anonKey, { vsn })
  sockets.push(socket)
  return socket
}

async function expectAlive(socket: RawSocket): Promise<void> {
  expect((await socket.heartbeat()).payload).toEqual({ status: 'ok', response: {} })
  expect(socket.isClosed).toBe(false)
}

test('garbage text and unknown binary frames are dropped; the socket stays open', async () => {
  const before = await errorCount(h, 'MalformedWebSocketMessage')
  const socket = await connect()
  socket.sendText('this is not json')
  socket.sendText('["unterminated", ')
  socket.sendText('')
  socket.sendBinary(Buffer.from([0xff, 1, 2, 3]))
  socket.sendBinary(Buffer.from([3, 10, 10])) // kind 3 cut short
  socket.sendBinary(Buffer.from([0, 1, 1, 1, 1]))
  await expectAlive(socket)
  expect(socket.frames.filter((f) => f.topic !== 'phoenix')).toEqual([])
  expect(await errorCount(h, 'MalformedWebSocketMessage')).toBeGreaterThanOrEqual(before + 6)
})

test('vsn 2.0.0: JSON that is not a 5-element array is dropped', async () => {
  const socket = await connect('2.0.0')
  socket.sendText(JSON.stringify({ topic: 'phoenix', event: 'heartbeat', payload: {}, ref: 'object-form' }))
  socket.sendText(JSON.stringify([null, 'short', 'phoenix']))
  socket.sendText(JSON.stringify('phoenix'))
  socket.sendText('42')
  socket.sendText('null')
  await expectAlive(socket)
  expect(socket.all((f) => f.ref === 'object-form' || f.ref === 'short')).toEqual([])
})

test('vsn 1.0.0: JSON that is not an object is dropped', async () => {
  const socket = await connect('1.0.0')
  socket.sendText(JSON.stringify([null, 'array-form', 'phoenix', 'heartbeat', {}]))
  socket.sendText('"a string"')
  socket.sendText('17')
  socket.sendText('null')
  socket.sendText('{"topic": 5}')
  await expectAlive(socket)
  expect(socket.all((f) => f.ref === 'array-form')).toEqual([])
})

test('a frame over 5 MB closes the socket with 1009', async () => {
  const before = await errorCount(h, 'FrameTooLarge')
  const socket = await connect()
  socket.sendText(JSON.stringify([null, 'big', 'phoenix', 'heartbeat', { blob: 'x'.repeat(5_000_001) }]))
  expect((await socket.closed).code).toBe(1009)
  expect(await errorCount(h, 'FrameTooLarge')).toBe(before + 1)
})

test('an unknown event on a joined channel gets an error reply; the channel keeps working', async () => {
  const socket = await connect()
  const topic = unique('unknown-event')
  const { joinRef, reply } = await socket.join(topic, joinPayload({ broadcast: { ack: true, self: true } }))
  expect(reply.payload.status).toBe('ok')
  const ref = socket.push(topic, 'definitely_not_an_event', { x: 1 }, { joinRef })
  const answer = await socket.reply(ref)
  expect(answer).toMatchObject({ joinRef, topic, payload: { status: 'error' } })

  socket.sendBinary(userBroadcastPush(joinRef, 'after', topic, 'still-here', { ok: true }))
  expect((await socket.reply('after')).payload.status).toBe('ok')
  const echo = await socket.next((f) => f.event === 'broadcast')
  expect(echo.payload).toEqual({ type: 'broadcast', event: 'still-here', payload: { ok: true } })
})

test('messages for a topic the socket has not joined get "unmatched topic"', async () => {
  const socket = await connect()
  const topic = unique('never-joined')
  const ref = socket.push(topic, 'broadcast', { type: 'broadcast', event: 'e', payload: {} }, { joinRef: 'stale' })
  const reply = await socket.reply(ref)
  expect(reply).toEqual({ joinRef: null, ref, topic, event: 'phx_reply', payload: { status: 'error', response: { reason: 'unmatched topic' } }, kind: null })

  socket.sendBinary(userBroadcastPush('stale', 'bin', topic, 'e', {}))
  expect((await socket.reply('bin')).payload).toEqual({ status: 'error', response: { reason: 'unmatched topic' } })

  const join = await socket.join('not-a-realtime-topic')
  expect(join.reply.payload).toEqual({ status: 'error', response: { reason: 'unmatched topic' } })

  // Leaving a topic that is not joined is fine.
  const leave = socket.push(topic, 'phx_leave', {})
  expect((await socket.reply(leave)).payload).toEqual({ status: 'ok', response: {} })
})

test('an empty topic name is refused with TopicNameRequired', async () => {
  const socket = await connect()
  const { joinRef, reply } = await socket.join('realtime:')
  expect(reply).toMatchObject({ joinRef, ref: joinRef, topic: 'realtime:' })
  expect(reply.payload).toEqual({ status: 'error', response: { reason: 'TopicNameRequired: You must provide a topic name' } })
})

test('an invalid join payload is refused with InvalidJoinPayload', async () => {
  const socket = await connect()
  for (const payload of [{ config: 'not an object' }, 'not an object', { config: { broadcast: { self: 'maybe' } } }, { config: { postgres_changes: {} } }]) {
    const { reply } = await socket.join(unique('bad-payload'), payload)
    expect(reply.payload.status, JSON.stringify(payload)).toBe('error')
    expect(reply.payload.response.reason, JSON.stringify(payload)).toMatch(/^InvalidJoinPayload: /)
  }
  await expectAlive(socket)
})

test('more channels than maxChannelsPerSocket: ChannelRateLimitReached', async () => {
  const socket = await connect()
  const topics = [unique('c1'), unique('c2'), unique('c3')]
  for (const topic of topics) expect((await socket.join(topic)).reply.payload.status).toBe('ok')
  const fourth = await socket.join(unique('c4'))
  expect(fourth.reply.payload).toEqual({ status: 'error', response: { reason: 'ChannelRateLimitReached: Too many channels' } })
  // Rejoining a topic already joined is not a new channel.
  expect((await socket.join(topics[0]!)).reply.payload.status).toBe('ok')
  await expectAlive(socket)
})

test('more joins per second than maxJoinsPerSecond: ClientJoinRateLimitReached and the socket closes (1001)', async () => {
  const socket = await connect()
  const topic = unique('join-rate')
  for (let i = 0; i < LIMITS.maxJoinsPerSecond; i++) expect((await socket.join(topic)).reply.payload.status).toBe('ok')
  const over = await socket.join(topic)
  expect(over.reply.payload).toEqual({ status: 'error', response: { reason: 'ClientJoinRateLimitReached: Too many joins per second' } })
  expect((await socket.closed).code).toBe(1001)
})

test('more events per second than maxEventsPerSecond: the channel is shut down', async () => {
  const socket = await connect()
  const topic = unique('event-rate')
  const { joinRef } = await socket.join(topic)
  for (let i = 0; i < LIMITS.maxEventsPerSecond + 5; i++) socket.sendBinary(userBroadcastPush(joinRef, `e${i}`, topic, 'flood', { i }))
  const system = await socket.next((f) => f.event === 'system')
  expect(system).toMatchObject({ joinRef, ref: null, topic })
  expect(system.payload).toEqual({ extension: 'system', status: 'error', message: 'Too many messages per second', channel: topic.slice('realtime:'.length) })
  expect(await socket.next((f) => f.event === 'phx_close')).toMatchObject({ joinRef, ref: joinRef, topic })
  await expectAlive(socket)
})

test('more presence calls than the window allows: the channel is shut down', async () => {
  const socket = await connect()
  const topic = unique('presence-rate')
  const { joinRef } = await socket.join(topic, joinPayload({ presence: { key: 'k', enabled: true } }))
  for (let i = 0; i < LIMITS.maxPresenceCallsPerWindow; i++) {
    const ref = socket.push(topic, 'presence', { type: 'presence', event: 'track', payload: { i } }, { joinRef })
    expect((await socket.reply(ref)).payload.status).toBe('ok')
  }
  socket.push(topic, 'presence', { type: 'presence', event: 'track', payload: { i: 'over' } }, { joinRef })
  const system = await socket.next((f) => f.event === 'system')
  expect(system.payload).toMatchObject({ status: 'error', message: 'Client presence rate limit exceeded' })
  expect(await socket.next((f) => f.event === 'phx_close')).toMatchObject({ joinRef, ref: joinRef })
})

test('a broadcast over the payload limit: "payload_size_exceeded" with ack, dropped without', async () => {
  const socket = await connect()
  const acked = unique('too-big-ack')
  const silent = unique('too-big')
  const a = await socket.join(acked, joinPayload({ broadcast: { ack: true, self: true } }))
  const b = await socket.join(silent, joinPayload({ broadcast: { ack: false, self: true } }))
  const big = { blob: 'x'.repeat(LIMITS.maxPayloadBytes) }

  socket.sendBinary(userBroadcastPush(a.joinRef, 'big-ack', acked, 'big', big))
  expect(await socket.reply('big-ack')).toMatchObject({ joinRef: a.joinRef, payload: { status: 'error', response: 'payload_size_exceeded' } })
  socket.sendBinary(userBroadcastPush(b.joinRef, 'big-silent', silent, 'big', big))
  await expectAlive(socket)
  expect(socket.all((f) => f.event === 'broadcast' || f.ref === 'big-silent')).toEqual([])

  // The official client sees the failed ack as 'error'.
  const channel = h.client().channel(`client-${Math.random()}`, { config: { broadcast: { ack: true } } })
  await new Promise<void>((resolve) => channel.subscribe((status) => status === 'SUBSCRIBED' && resolve()))
  expect(await channel.send({ type: 'broadcast', event: 'big', payload: big })).toBe('error')
  expect(await channel.send({ type: 'broadcast', event: 'small', payload: { ok: 1 } })).toBe('ok')
})

test('a presence track over the payload limit shuts the channel', async () => {
  const socket = await connect()
  const topic = unique('track-too-big')
  const { joinRef } = await socket.join(topic, joinPayload({ presence: { key: 'k', enabled: true } }))
  socket.push(topic, 'presence', { type: 'presence', event: 'track', payload: { blob: 'x'.repeat(LIMITS.maxPayloadBytes) } }, { joinRef })
  expect((await socket.next((f) => f.event === 'system')).payload).toMatchObject({ status: 'error', message: 'Track message size exceeded' })
  expect(await socket.next((f) => f.event === 'phx_close')).toMatchObject({ joinRef, ref: joinRef })
})

test('a socket that stops reading is disconnected; a reading socket on the same topic is not', async () => {
  const before = await errorCount(h, 'SlowConsumer')
  const topic = unique('slow')
  const slow = await connect()
  const fast = await connect()
  expect((await slow.join(topic)).reply.payload.status).toBe('ok')
  expect((await fast.join(topic)).reply.payload.status).toBe('ok')
  slow.ws.pause() // stop reading: the kernel buffers fill, then the server's queue

  const message = { topic: topic.slice('realtime:'.length), event: 'flood', payload: { blob: 'x'.repeat(2_000) } }
  const body = JSON.stringify({ messages: Array.from({ length: 100 }, () => message) }) // ~200 KB per request
  let requests = 0
  while ((await errorCount(h, 'SlowConsumer')) === before) {
    if (++requests > 300) throw new Error('the slow reader was never disconnected')
    const response = await fetch(`${h.server.url}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${h.server.anonKey}` },
      body,
    })
    expect(response.status).toBe(202)
  }
  slow.ws.resume()
  expect((await slow.closed).code).toBe(1013)
  await expectAlive(fast)
  expect(fast.all((f) => f.event === 'broadcast')).toHaveLength(requests * 100)
}, 30_000)
