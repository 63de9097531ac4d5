/**
 * Socket and channel lifecycle (supabase-protocol.md §1.4, §1.6, §2.5, §9): heartbeats,
 * duplicate joins, leave, /health and /metrics, idle sockets, graceful shutdown.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startHarness, subscribe, waitFor, type Harness } from './support/harness.js'
import { metricsText, sample } from './support/checks.js'
import WebSocket from 'ws'
import { RawSocket, joinPayload, socketUrl, userBroadcastPush } from './support/raw-socket.js'

const unique = (name: string) => `realtime:${name}-${Math.random().toString(36).slice(2, 8)}`

describe('on a running server', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h?.close()
  })

  test('heartbeat: ok reply echoing the ref, in both wire formats', async () => {
    const v2 = await RawSocket.connect(h.server.url, h.server.anonKey, { vsn: '2.0.0' })
    const v1 = await RawSocket.connect(h.server.url, h.server.anonKey, { vsn: '1.0.0' })
    const texts: string[] = []
    v1.ws.on('message', (data: Buffer) => texts.push(data.toString()))
    try {
      v2.sendText('[null,"hb-7","phoenix","heartbeat",{}]')
      expect(await v2.reply('hb-7')).toEqual({ joinRef: null, ref: 'hb-7', topic: 'phoenix', event: 'phx_reply', payload: { status: 'ok', response: {} }, kind: null })
      v1.sendText('{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"hb-8"}')
      await v1.reply('hb-8')
      expect(JSON.parse(texts[0]!)).toEqual({ topic: 'phoenix', event: 'phx_reply', payload: { status: 'ok', response: {} }, ref: 'hb-8' })
    } finally {
      v2.close()
      v1.close()
    }
  })

  test('heartbeat: the official client sees "ok"', async () => {
    const client = h.client()
    const statuses: string[] = []
    client.realtime.onHeartbeat((status) => statuses.push(status))
    expect((await subscribe(client.channel('heartbeat-room'))).status).toBe('SUBSCRIBED')
    await client.realtime.sendHeartbeat()
    await waitFor(() => statuses.includes('ok'), 5_000, 'heartbeat ok')
  })

  test('a duplicate join closes the old channel under its join_ref, then joins anew', async () => {
    const socket = await RawSocket.connect(h.server.url, h.server.anonKey)
    try {
      const topic = unique('dup')
      const first = await socket.join(topic, joinPayload({ broadcast: { self: true, ack: true } }))
      expect(first.reply.payload.status).toBe('ok')
      const second = await socket.join(topic, joinPayload({ broadcast: { self: true, ack: true } }))
      expect(second.reply).toMatchObject({ joinRef: second.joinRef, ref: second.joinRef, payload: { status: 'ok' } })
      const close = await socket.next((f) => f.event === 'phx_close')
      expect(close).toEqual({ joinRef: first.joinRef, ref: first.joinRef, topic, event: 'phx_close', payload: {}, kind: null })
      expect(socket.frames.indexOf(close)).toBeLessThan(socket.frames.indexOf(second.reply))

      // Only the new channel is subscribed: one echo, not two.
      socket.sendBinary(userBroadcastPush(second.joinRef, 'b1', topic, 'once', { n: 1 }))
      expect((await socket.reply('b1')).joinRef).toBe(second.joinRef)
      await socket.next((f) => f.event === 'broadcast')
      await socket.heartbeat()
      expect(socket.all((f) => f.event === 'broadcast')).toHaveLength(1)
    } finally {
      socket.close()
    }
  })

  test('phx_leave: ok reply, then phx_close; the topic is no longer joined', async () => {
    const socket = await RawSocket.connect(h.server.url, h.server.anonKey)
    try {
      const topic = unique('leave')
      const { joinRef } = await socket.join(topic)
      const leaveRef = socket.push(topic, 'phx_leave', {}, { joinRef })
      const reply = await socket.reply(leaveRef)
      expect(reply).toEqual({ joinRef, ref: leaveRef, topic, event: 'phx_reply', payload: { status: 'ok', response: {} }, kind: null })
      const close = await socket.next((f) => f.event === 'phx_close')
      expect(close).toEqual({ joinRef, ref: joinRef, topic, event: 'phx_close', payload: {}, kind: null })
      expect(socket.frames.indexOf(reply)).toBeLessThan(socket.frames.indexOf(close))
      const after = socket.push(topic, 'broadcast', { type: 'broadcast', event: 'e', payload: {} }, { joinRef })
      expect((await socket.reply(after)).payload).toEqual({ status: 'error', response: { reason: 'unmatched topic' } })
    } finally {
      socket.close()
    }
  })

  test('the official client unsubscribes cleanly', async () => {
    const channel = h.client().channel('unsubscribe-room')
    expect((await subscribe(channel)).status).toBe('SUBSCRIBED')
    expect(await channel.unsubscribe()).toBe('ok')
    expect(channel.state).toBe('closed')
  })

  test('/health reports the node, the database and the open connections', async () => {
    const read = async () => {
      const response = await fetch(`${h.server.url}/health`)
      expect(response.status).toBe(200)
      return (await response.json()) as { status: string; database: string; connections: number }
    }
    const before = await read()
    expect(before).toMatchObject({ status: 'ok', database: 'ok', node: h.server.nodeId, pid: process.pid })
    const socket = await RawSocket.connect(h.server.url, h.server.anonKey)
    try {
      expect((await read()).connections).toBe(before.connections + 1)
    } finally {
      socket.close()
    }
  })

  test('/metrics counts connections, channels, joins, messages and errors by code', async () => {
    const before = await metricsText(h)
    const socket = await RawSocket.connect(h.server.url, h.server.anonKey)
    try {
      const a = unique('metrics-a')
      const ja = await socket.join(a, joinPayload({ broadcast: { ack: true, self: false } }))
      await socket.join(unique('metrics-b'))
      await socket.join('realtime:') // TopicNameRequired
      socket.sendBinary(userBroadcastPush(ja.joinRef, 'm1', a, 'e', {}))
      await socket.reply('m1')
      socket.push(a, 'presence', { type: 'presence', event: 'track', payload: { x: 1 } }, { joinRef: ja.joinRef })
      await socket.heartbeat()

      const during = await metricsText(h)
      const delta = (name: string, labels?: Record<string, string>) => sample(during, name, labels) - sample(before, name, labels)
      expect(delta('switchboard_connections')).toBe(1)
      expect(delta('switchboard_channels')).toBe(2)
      expect(delta('switchboard_joins_total', { result: 'ok' })).toBe(2)
      expect(delta('switchboard_joins_total', { result: 'error' })).toBe(1)
      expect(delta('switchboard_messages_in_total', { kind: 'broadcast' })).toBe(1)
      expect(delta('switchboard_messages_in_total', { kind: 'presence' })).toBe(1)
      expect(delta('switchboard_messages_out_total')).toBeGreaterThanOrEqual(5)
      expect(delta('switchboard_errors_total', { code: 'TopicNameRequired' })).toBe(1)
    } finally {
      socket.close()
    }
    // Closing the socket releases its connection and channels.
    let after = ''
    for (let i = 0; i < 50; i++) {
      after = await metricsText(h)
      if (sample(after, 'switchboard_connections') === sample(before, 'switchboard_connections')) break
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(sample(after, 'switchboard_connections')).toBe(sample(before, 'switchboard_connections'))
    expect(sample(after, 'switchboard_channels')).toBe(sample(before, 'switchboard_channels'))
  })
})

test('an idle socket is closed after limits.idleTimeoutMs; a heartbeating one is not', async () => {
  const h = await startHarness({ limits: { idleTimeoutMs: 400 } })
  const idle = await RawSocket.connect(h.server.url, h.server.anonKey)
  const busy = await RawSocket.connect(h.server.url, h.server.anonKey)
  const beating = setInterval(() => busy.push('phoenix', 'heartbeat', {}), 100)
  try {
    const started = Date.now()
    const closed = await idle.closed
    expect(Date.now() - started).toBeGreaterThanOrEqual(300)
    expect(closed.code).toBe(1001)
    await new Promise((r) => setTimeout(r, 500))
    expect(busy.isClosed).toBe(false)
  } finally {
    clearInterval(beating)
    idle.close()
    busy.close()
    await h.close()
  }
})

test('server.close(): "Server requested disconnect" on every channel, then close code 1012', async () => {
  const h = await startHarness()
  const v2 = await RawSocket.connect(h.server.url, h.server.anonKey, { vsn: '2.0.0' })
  const v1 = await RawSocket.connect(h.server.url, h.server.anonKey, { vsn: '1.0.0' })
  try {
    const t1 = unique('drain-1')
    const t2 = unique('drain-2')
    const j1 = await v2.join(t1)
    const j2 = await v2.join(t2)
    const j3 = await v1.join(t1)
    const client = h.client()
    const channel = client.channel('drain-client')
    const system: unknown[] = []
    channel.on('system', {}, (payload) => system.push(payload))
    expect((await subscribe(channel)).status).toBe('SUBSCRIBED')

    await h.server.close()

    const expectSystem = async (socket: RawSocket, joinRef: string, topic: string) => {
      const frame = await socket.next((f) => f.event === 'system' && f.topic === topic)
      // vsn 1.0.0 frames carry no join_ref (§1.2).
      expect(frame).toMatchObject({ joinRef: socket.vsn === '2.0.0' ? joinRef : null, ref: null })
      expect(frame.payload).toEqual({ extension: 'system', status: 'ok', message: 'Server requested disconnect', channel: topic.slice('realtime:'.length) })
    }
    await expectSystem(v2, j1.joinRef, t1)
    await expectSystem(v2, j2.joinRef, t2)
    await expectSystem(v1, j3.joinRef, t1)
    expect((await v2.closed).code).toBe(1012)
    expect((await v1.closed).code).toBe(1012)
    await waitFor(() => system.length === 1, 5_000, 'client system message')
    expect(system[0]).toMatchObject({ status: 'ok', message: 'Server requested disconnect' })
  } finally {
    v2.close()
    v1.close()
    await h.close()
  }
})

test('server.close() while sockets are still being set up: every socket that opened is drained (1012), and close() returns', async () => {
  // Upgrades await (tenant lookup, key verification) between the shutdown check and the
  // handshake. A socket that finished its handshake after the drain loop was never drained
  // and held the HTTP server, and with it close() and every restart, open until its client
  // left (seen once in CI as a restart that never finished).
  const h = await startHarness()
  const sockets: WebSocket[] = []
  try {
    const outcomes = Array.from({ length: 60 }, () => {
      const ws = new WebSocket(socketUrl(h.server.url, { apikey: h.server.anonKey, vsn: '2.0.0' }))
      sockets.push(ws)
      let opened = false
      ws.once('open', () => (opened = true))
      ws.once('error', () => {})
      // Sockets refused before their handshake (503) or cut by the closing HTTP server (1006)
      // never opened: their clients reconnect elsewhere or later, as after any refusal.
      return new Promise<string>((resolve) => ws.once('close', (code) => resolve(opened ? `opened, closed ${code}` : 'never opened')))
    })
    // Close as soon as the first socket is through: the others are somewhere in their set-up.
    await new Promise((resolve) => sockets[0]!.once('open', resolve))
    const closed = h.server.close().then(() => 'closed')
    expect(await Promise.race([closed, new Promise((resolve) => setTimeout(() => resolve('still open after 8 s'), 8_000))])).toBe('closed')
    const seen = await Promise.all(outcomes)
    expect(seen.filter((outcome) => outcome !== 'never opened' && outcome !== 'opened, closed 1012')).toEqual([])
    expect(seen).toContain('opened, closed 1012')
  } finally {
    for (const ws of sockets) ws.terminate()
    await h.close()
  }
})
