/**
 * Load generator of the noisy-neighbour benchmark (forked by run.js, pinned to the clients'
 * core). Role `quiet` opens one tenant's room (receivers + one publisher) and measures
 * broadcast latency; role `flood` opens another tenant's rooms and publishes at the rate
 * run.js asks for, counting what reaches its receivers and any channel the server shuts down.
 * Both speak Phoenix vsn 2.0.0 over raw-ws.js and name their tenant with `?tenant=`.
 *
 * Every broadcast is a kind-3 binary push whose JSON payload ends with `"t":<16-digit send time
 * in µs + 10^15>}`; the server forwards it as kind 4, so a receiver reads the time from the
 * last bytes of the frame (the clock once per TCP read).
 *
 * IPC (child-ipc.js): start({ port, apiKey, tenant, rooms, perRoom }), rate({ perSecond }),
 * mark(), collect(), totals().
 */
import { serve } from '../lib/child-ipc.js'
import { LatencyHistogram } from '../lib/histogram.js'
import { clientFrame, openRawWebSocket } from '../broadcast/raw-ws.js'

const role = process.argv[2]
const TICK_MS = 2
const TS_DIGITS = 16
const TS_BIAS = 1e15
const COLON = 0x3a
const CLOSE_BRACE = 0x7d
const ZERO = 0x30
const HEARTBEAT = clientFrame(Buffer.from(JSON.stringify([null, 'hb', 'phoenix', 'heartbeat', {}])), false)

const nowUs = () => {
  const [s, ns] = process.hrtime()
  return s * 1e6 + Math.floor(ns / 1e3)
}

const sockets = []
const histogram = new LatencyHistogram()
let chunkNow = 0
let delivered = 0
let shutdowns = 0
let closed = 0
let measuring = null

function onBinary(buf, start, end) {
  delivered += 1
  const digits = end - 1 - TS_DIGITS
  if (end - start < TS_DIGITS + 2 || buf[end - 1] !== CLOSE_BRACE || buf[digits - 1] !== COLON) return
  let sentAt = 0
  for (let i = digits; i < end - 1; i++) sentAt = sentAt * 10 + (buf[i] - ZERO)
  if (measuring) histogram.record(chunkNow - (sentAt - TS_BIAS))
}

async function openAndJoin(config, topic) {
  let resolveJoin
  let rejectJoin
  const joined = new Promise((resolve, reject) => {
    resolveJoin = resolve
    rejectJoin = reject
  })
  const ws = await openRawWebSocket({
    host: '127.0.0.1',
    port: config.port,
    path: `/realtime/v1/websocket?apikey=${encodeURIComponent(config.apiKey)}&vsn=2.0.0&tenant=${config.tenant}`,
    onChunk: () => void (chunkNow = nowUs()),
    onBinary,
    onText: (text) => {
      if (text.includes('"phx_reply"') && text.includes('"1","1"')) {
        if (text.includes('"status":"ok"')) resolveJoin()
        else rejectJoin(new Error(`join refused: ${text}`))
      } else if (text.includes('"system"') && text.includes('"error"')) shutdowns += 1
    },
    onClose: () => void (closed += 1),
  })
  const payload = { config: { broadcast: { self: false, ack: false }, presence: { key: '', enabled: false }, postgres_changes: [], private: false }, access_token: config.apiKey }
  ws.send(clientFrame(Buffer.from(JSON.stringify(['1', '1', topic, 'phx_join', payload])), false))
  await joined
  sockets.push(ws)
  return ws
}

/** A kind-3 broadcast frame for `topic` with the timestamp digits last; `digitsAt` locates them. */
function template(topic) {
  const payload = Buffer.from(`{"tenant":"bench","pad":"${'x'.repeat(100)}","t":${String(TS_BIAS)}}`)
  const fields = [Buffer.from('1'), Buffer.from(''), Buffer.from(topic), Buffer.from('m')]
  const header = Buffer.from([3, ...fields.map((f) => f.length), 0, 1])
  const frame = clientFrame(Buffer.concat([header, ...fields, payload]), true)
  return { frame, digitsAt: frame.length - 1 - TS_DIGITS }
}

const publishers = []
let perSecond = 0
let rateStart = 0
let sentAtRate = 0
let sent = 0

function tick() {
  if (perSecond === 0 || publishers.length === 0) return
  const now = nowUs()
  // After a stall, no burst: at most one tick's worth (the server counts events in 1 s windows,
  // and a flood sent at its quota must not cross it by catching up).
  const due = Math.min(Math.floor((perSecond * (now - rateStart)) / 1e6) - sentAtRate, Math.ceil((perSecond * TICK_MS) / 1000))
  for (let i = 0; i < due; i++) {
    const publisher = publishers[(sentAtRate + i) % publishers.length]
    const frame = Buffer.from(publisher.frame)
    let us = now + TS_BIAS
    for (let d = publisher.digitsAt + TS_DIGITS - 1; d >= publisher.digitsAt; d--) {
      frame[d] = ZERO + (us % 10)
      us = Math.floor(us / 10)
    }
    publisher.ws.send(frame)
  }
  if (due > 0) {
    sentAtRate += due
    sent += due
  }
}
setInterval(tick, TICK_MS).unref()
setInterval(() => {
  for (const ws of sockets) ws.send(HEARTBEAT)
}, 25_000).unref()

serve({
  async start(config) {
    for (let room = 0; room < config.rooms; room++) {
      const topic = `realtime:${config.tenant}-room${room}`
      for (let i = 0; i < config.perRoom; i++) await openAndJoin(config, topic)
      const ws = await openAndJoin(config, topic)
      publishers.push({ ws, ...template(topic) })
    }
    return { sockets: sockets.length }
  },
  rate({ perSecond: next }) {
    perSecond = next
    rateStart = nowUs()
    sentAtRate = 0
    return {}
  },
  mark() {
    histogram.reset()
    measuring = { delivered, sent, shutdowns, at: nowUs() }
    return {}
  },
  collect() {
    const elapsedS = (nowUs() - measuring.at) / 1e6
    const result = {
      role,
      sentPerSecond: (sent - measuring.sent) / elapsedS,
      deliveredPerSecond: (delivered - measuring.delivered) / elapsedS,
      p50Ms: histogram.quantileMs(0.5),
      p99Ms: histogram.quantileMs(0.99),
      maxMs: histogram.max / 1000,
      shutdowns: shutdowns - measuring.shutdowns,
      closed,
    }
    measuring = null
    return result
  },
  totals: () => ({ delivered, sent, shutdowns, closed }),
})
