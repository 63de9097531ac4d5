/**
 * The baseline: the smallest `ws` server that speaks enough Phoenix vsn 2.0.0 for the bench.
 *
 *   phx_join  → joins the room (config.broadcast `self` and `ack`), replies ok (as Switchboard:
 *               `{postgres_changes: []}`)
 *   heartbeat → replies ok
 *   kind-3 binary broadcast → re-encoded ONCE as a kind-4 frame, then one `ws.send` per
 *                            recipient (honouring `self`), no cork, no coalescing; then the
 *                            `ack` reply when the sender asked for it
 *   JSON `broadcast` event  → one JSON text frame, one `ws.send` per recipient
 *
 * No auth, no limits, no metrics: it is what "a Node WebSocket server that forwards each
 * frame with its own write" costs (performance-anchors.md §1.8), the yardstick Switchboard
 * is compared with.
 */
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'

export async function startBaseline({ port = 0, host = '127.0.0.1' } = {}) {
  const server = createServer((_req, res) => res.writeHead(404).end())
  const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false })
  /** topic → Map<ws, { self }> */
  const rooms = new Map()

  const reply = (ws, joinRef, ref, topic, response) =>
    ws.send(JSON.stringify([joinRef, ref, topic, 'phx_reply', { status: 'ok', response }]))

  function fanOut(sender, joinRef, ref, topic, data, binary) {
    const room = rooms.get(topic)
    const member = room?.get(sender)
    if (!member) return
    for (const [ws, { self }] of room) {
      if (ws === sender && !self) continue
      ws.send(data, { binary })
    }
    if (member.ack) reply(sender, joinRef, ref, topic, {})
  }

  wss.on('connection', (ws) => {
    const joined = new Set()
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        // kind 3: 03 join_len ref_len topic_len event_len meta_len encoding | strings | payload
        if (data[0] !== 3 || data.length < 7) return
        const [joinLen, refLen, topicLen, eventLen, metaLen, encoding] = data.subarray(1, 7)
        const topicAt = 7 + joinLen + refLen
        const joinRef = data.toString('utf8', 7, 7 + joinLen)
        const ref = data.toString('utf8', 7 + joinLen, topicAt)
        const topic = data.toString('utf8', topicAt, topicAt + topicLen)
        const rest = data.subarray(topicAt + topicLen) // event | meta | payload
        const frame = Buffer.allocUnsafe(5 + topicLen + rest.length - metaLen)
        frame[0] = 4
        frame[1] = topicLen
        frame[2] = eventLen
        frame[3] = 0 // client metadata is not forwarded, as on Supabase
        frame[4] = encoding
        data.copy(frame, 5, topicAt, topicAt + topicLen + eventLen)
        data.copy(frame, 5 + topicLen + eventLen, topicAt + topicLen + eventLen + metaLen)
        fanOut(ws, joinRef, ref, topic, frame, true)
        return
      }
      const [joinRef, ref, topic, event, payload] = JSON.parse(data.toString())
      if (topic === 'phoenix') return reply(ws, joinRef, ref, topic, {})
      if (event === 'phx_join') {
        if (!rooms.has(topic)) rooms.set(topic, new Map())
        const broadcast = payload?.config?.broadcast
        rooms.get(topic).set(ws, { self: broadcast?.self === true, ack: broadcast?.ack === true })
        joined.add(topic)
        return reply(ws, joinRef, ref, topic, { postgres_changes: [] })
      }
      if (event === 'phx_leave') {
        rooms.get(topic)?.delete(ws)
        joined.delete(topic)
        return reply(ws, joinRef, ref, topic, {})
      }
      if (event === 'broadcast') fanOut(ws, joinRef, ref, topic, JSON.stringify([null, null, topic, 'broadcast', payload]), false)
    })
    ws.on('close', () => {
      for (const topic of joined) rooms.get(topic)?.delete(ws)
    })
    ws.on('error', () => {})
  })

  await new Promise((resolve) => server.listen(port, host, resolve))
  return {
    port: server.address().port,
    close: () => new Promise((resolve) => {
      wss.close()
      server.closeAllConnections?.()
      server.close(() => resolve())
    }),
  }
}
