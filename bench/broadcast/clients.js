/**
 * The load generator's client process (forked by run.js, pinned to its own core). Role
 * `receivers` opens the room members and measures; role `publishers` opens one publisher per
 * room and sends at the rate run.js asks for. Both speak Phoenix vsn 2.0.0 over raw-ws.js.
 *
 * Every broadcast is a kind-3 binary push (what realtime-js 2.119 sends for
 * `channel.send({ type: 'broadcast', … })`, supabase-protocol.md §1.2) whose ~150-byte JSON
 * payload ends with `"t":<16-digit send time in µs + 10^15>}`. The servers forward it as a kind-4
 * frame, so the timestamp is always the last 17 bytes of the frame: a receiver reads it in
 * place, and takes the clock once per TCP read (process.hrtime is CLOCK_MONOTONIC, the same
 * clock in every process on the machine).
 *
 * IPC: run.js sends `{ id, cmd, … }`; the answer is `{ id, … }`.
 */
import { serve } from '../lib/child-ipc.js'
import { LatencyHistogram } from '../lib/histogram.js'
import { clientFrame, clientFrameHeaderBytes, openRawWebSocket } from './raw-ws.js'

const role = process.argv[2]
const HEARTBEAT_MS = 25_000
const PAYLOAD_BYTES = 150
const TS_DIGITS = 16
const COLON = 0x3a
const CLOSE_BRACE = 0x7d
const ZERO = 0x30
/** Added to the µs timestamp so its 16 digits never start with 0 (JSON forbids leading zeros). */
const TS_BIAS = 1e15

const nowUs = () => {
  const [s, ns] = process.hrtime()
  return s * 1e6 + Math.floor(ns / 1e3)
}

const connections = []
let closedCount = 0
let closeReasons = []

function joinFrame(topic, accessToken, ack) {
  const payload = {
    config: { broadcast: { self: false, ack }, presence: { key: '', enabled: false }, postgres_changes: [], private: false },
    access_token: accessToken,
  }
  return clientFrame(Buffer.from(JSON.stringify(['1', '1', topic, 'phx_join', payload])), false)
}

const HEARTBEAT = clientFrame(Buffer.from(JSON.stringify([null, 'hb', 'phoenix', 'heartbeat', {}])), false)

/** Heartbeats every open connection every HEARTBEAT_MS (once they are all open). */
function startHeartbeats() {
  setInterval(() => {
    for (const ws of connections) ws.send(HEARTBEAT)
  }, HEARTBEAT_MS).unref()
}

/** Opens and joins one connection; resolves with its handle once the join reply is ok. */
async function openAndJoin(config, topic, ack, handlers) {
  let joined
  let isJoined = false
  const joinedPromise = new Promise((resolve, reject) => {
    joined = { resolve, reject }
  })
  const ws = await openRawWebSocket({
    host: config.host,
    port: config.port,
    path: `/realtime/v1/websocket?apikey=${encodeURIComponent(config.apiKey)}&vsn=2.0.0`,
    onChunk: handlers.onChunk,
    onBinary: handlers.onBinary,
    onText: (text) => {
      if (isJoined) return handlers.onText?.(text)
      const message = JSON.parse(text)
      if (message[3] === 'phx_reply' && message[1] === '1' && message[2] === topic) {
        if (message[4]?.status === 'ok') joined.resolve()
        else joined.reject(new Error(`join refused: ${text}`))
      }
    },
    onClose: (reason) => {
      closedCount += 1
      if (closeReasons.length < 5) closeReasons.push(reason)
    },
  })
  ws.send(joinFrame(topic, config.apiKey, ack))
  const timer = setTimeout(() => joined.reject(new Error(`join of ${topic} timed out`)), 20_000)
  await joinedPromise.finally(() => clearTimeout(timer))
  isJoined = true
  return ws
}

async function openAll(count, open) {
  const BATCH = 100
  for (let i = 0; i < count; i += BATCH) {
    const batch = []
    for (let j = i; j < Math.min(count, i + BATCH); j++) batch.push(open(j))
    connections.push(...(await Promise.all(batch)))
  }
  startHeartbeats()
}

const cpuMark = () => ({ cpu: process.cpuUsage(), at: nowUs() })
const cpuSince = (mark) => {
  const used = process.cpuUsage(mark.cpu)
  return (used.user + used.system) / (nowUs() - mark.at)
}

// ─── receivers ──────────────────────────────────────────────────────────────────────────

function receivers() {
  const histogram = new LatencyHistogram()
  let chunkNow = 0
  let delivered = 0
  let malformed = 0
  let window = null

  const handlers = {
    onChunk: () => {
      chunkNow = nowUs()
    },
    onBinary: (buf, start, end) => {
      delivered += 1
      const digits = end - 1 - TS_DIGITS
      if (end - start < TS_DIGITS + 2 || buf[end - 1] !== CLOSE_BRACE || buf[digits - 1] !== COLON) {
        malformed += 1
        return
      }
      let sentAt = 0
      for (let i = digits; i < end - 1; i++) sentAt = sentAt * 10 + (buf[i] - ZERO)
      if (window !== null) histogram.record(chunkNow - (sentAt - TS_BIAS))
    },
  }

  return {
    async start(config) {
      await openAll(config.rooms * config.perRoom, (i) => openAndJoin(config, `realtime:room${i % config.rooms}`, false, handlers))
      return { connections: connections.length }
    },
    mark() {
      histogram.reset()
      window = { delivered, cpu: cpuMark() }
      return {}
    },
    collect() {
      const elapsedUs = nowUs() - window.cpu.at
      const result = {
        delivered: delivered - window.delivered,
        elapsedMs: elapsedUs / 1000,
        p50Ms: histogram.quantileMs(0.5),
        p99Ms: histogram.quantileMs(0.99),
        maxMs: histogram.max / 1000,
        cpu: cpuSince(window.cpu),
        closed: closedCount,
        malformed,
      }
      window = null
      return result
    },
    totals: () => ({ delivered, closed: closedCount, closeReasons, malformed }),
  }
}

// ─── publishers ─────────────────────────────────────────────────────────────────────────

function publishers() {
  const TICK_MS = 1
  /**
   * Broadcasts a publisher may have in flight (sent, not yet acknowledged). Publishers join
   * with `ack: true`: the server replies once it has fanned a broadcast out. Without this
   * window an overloaded server would queue megabytes in the loopback buffers, latency would
   * only measure that queue, and the server's event loop would be stuck for seconds in
   * libuv's read loop. Sends beyond the window are skipped (and counted), never queued.
   */
  const WINDOW = Number(process.env.BENCH_WINDOW ?? 32)
  const publishersList = []
  let sent = 0
  let skipped = 0
  let rate = 0
  let rateStart = 0
  let sentAtRate = 0
  let next = 0
  let window = null
  let timer = null

  /** A kind-3 frame for `topic` whose payload ends with the 16 timestamp digits. */
  function template(topic) {
    const head = '{"pad":"'
    const tail = `","t":${String(TS_BIAS)}}`
    const payload = Buffer.from(head + 'x'.repeat(PAYLOAD_BYTES - head.length - tail.length) + tail)
    const joinRef = Buffer.from('1')
    const ref = Buffer.from('2')
    const topicBytes = Buffer.from(topic)
    const event = Buffer.from('m')
    const header = Buffer.from([3, joinRef.length, ref.length, topicBytes.length, event.length, 0, 1])
    const frame = clientFrame(Buffer.concat([header, joinRef, ref, topicBytes, event, payload]), true)
    return { frame, digitsAt: frame.length - 1 - TS_DIGITS, headerBytes: clientFrameHeaderBytes(frame.length) }
  }

  function writeTimestamp(buf, at, us) {
    us += TS_BIAS
    for (let i = at + TS_DIGITS - 1; i >= at; i--) {
      buf[i] = ZERO + (us % 10)
      us = Math.floor(us / 10)
    }
  }

  function tick() {
    if (rate === 0) return
    const now = nowUs()
    let due = Math.floor((rate * (now - rateStart)) / 1e6) - sentAtRate
    // After a stall, do not dump seconds of backlog in one burst.
    due = Math.min(due, Math.ceil(rate / 50))
    if (due <= 0) return
    const count = publishersList.length
    const perPublisher = Math.floor(due / count)
    let extra = due - perPublisher * count
    for (let k = 0; k < count; k++) {
      const publisher = publishersList[(next + k) % count]
      let n = perPublisher + (extra > 0 ? 1 : 0)
      if (extra > 0) extra -= 1
      if (n === 0) continue
      const room = WINDOW - (publisher.sent - publisher.acked)
      if (room < n) {
        skipped += n - Math.max(0, room)
        sentAtRate += n - Math.max(0, room)
        n = Math.max(0, room)
        if (n === 0) continue
      }
      const { frame, digitsAt } = publisher.template
      const batch = Buffer.allocUnsafe(frame.length * n)
      for (let m = 0; m < n; m++) {
        frame.copy(batch, m * frame.length)
        writeTimestamp(batch, m * frame.length + digitsAt, now)
      }
      publisher.ws.send(batch)
      publisher.sent += n
      sent += n
      sentAtRate += n
    }
    next = (next + 1) % count
  }

  function loop() {
    tick()
    timer = setTimeout(loop, TICK_MS)
  }

  return {
    async start(config) {
      for (let room = 0; room < config.rooms; room++) {
        const topic = `realtime:room${room}`
        const publisher = { ws: null, template: template(topic), sent: 0, acked: 0 }
        publisher.ws = await openAndJoin(config, topic, true, {
          onBinary: () => {},
          onText: (text) => {
            if (text.includes('"phx_reply"') && !text.includes('"phoenix"')) publisher.acked += 1
          },
        })
        connections.push(publisher.ws)
        publishersList.push(publisher)
      }
      startHeartbeats()
      return { connections: connections.length, frameBytes: publishersList[0].template.frame.length, payloadBytes: PAYLOAD_BYTES }
    },
    rate({ perSecond }) {
      rate = perSecond
      rateStart = nowUs()
      sentAtRate = 0
      if (rate > 0 && timer === null) loop()
      if (rate === 0 && timer !== null) {
        clearTimeout(timer)
        timer = null
      }
      return {}
    },
    mark() {
      window = { sent, skipped, cpu: cpuMark() }
      return {}
    },
    collect() {
      const result = {
        sent: sent - window.sent,
        skipped: skipped - window.skipped,
        elapsedMs: (nowUs() - window.cpu.at) / 1000,
        cpu: cpuSince(window.cpu),
        closed: closedCount,
      }
      window = null
      return result
    },
    totals: () => ({ sent, skipped, closed: closedCount, closeReasons }),
  }
}

// ─── IPC ────────────────────────────────────────────────────────────────────────────────

const handler = role === 'receivers' ? receivers() : role === 'publishers' ? publishers() : null
if (!handler) throw new Error(`unknown role ${role}`)

serve({
  ...handler,
  exit() {
    for (const ws of connections) ws.close()
  },
}, { exitAfter: ['exit'] })
