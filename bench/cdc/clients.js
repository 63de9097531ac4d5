/**
 * Subscribers for the change-stream benchmark, in their own process (pinned to core 1):
 * official-protocol WebSocket clients (Phoenix v2 JSON frames, as realtime-js 2.x sends them),
 * one socket and one channel per subscriber, each with a `postgres_changes` INSERT binding on
 * the bench table and its own user's JWT.
 *
 * On every `postgres_changes` frame: count it, and if the row's `sent_at` (the writer's clock
 * read just before it sent the INSERT; same machine, so the same wall clock:
 * performance.timeOrigin + performance.now()) falls in the measurement window, count it for the
 * window and record its commit-to-client latency. The value is read from the frame's bytes
 * (no string, no JSON.parse) over the hand-written WebSocket client of the broadcast bench
 * (../broadcast/raw-ws.js: frames parsed in place, no event or Buffer per message), so the
 * clients stay cheaper than the server: with the `ws` client their core saturated first, at
 * about the rate the engine reached (bench/README.md, "Postgres Changes").
 *
 * IPC: `{ id, cmd: 'open', port, tokens, table }` → `{ id, opened }` once every channel got
 * "Subscribed to PostgreSQL"; `{ mark, from, to }` starts a window of rows sent in [from, to);
 * `{ collect, expected }` → the window's deliveries and quantiles, the `expected − received`
 * missing deliveries counted as later than any received one; `cpu` → CPU time and main-thread
 * run-queue wait; `count` → deliveries so far; `close`.
 */
import { clientFrame, openRawWebSocket } from '../broadcast/raw-ws.js'
import { serve } from '../lib/child-ipc.js'
import { runQueueWaitNs } from '../lib/cpu.js'
import { LatencyHistogram } from '../lib/histogram.js'

const now = () => performance.timeOrigin + performance.now()
const histogram = new LatencyHistogram()
const SENT_AT = Buffer.from('"sent_at":')
const CHANGES = Buffer.from('"postgres_changes",{"ids"')
let sockets = []
let received = 0
let windowReceived = 0
let windowFrom = Infinity
let windowTo = Infinity
let errors = 0

/** One text frame, `data[start, end)`: a change is counted from its bytes; anything else is decoded. */
function onFrame(data, start, end, state) {
  const head = data.indexOf(CHANGES, start)
  if (head >= 0 && head < start + 200 && head < end) {
    received++
    const at = data.indexOf(SENT_AT, head)
    if (at >= 0 && at < end) {
      let stop = at + SENT_AT.length
      while (stop < end && data[stop] !== 44 /* , */ && data[stop] !== 125 /* } */) stop++
      const sentAt = Number(data.toString('latin1', at + SENT_AT.length, stop))
      if (sentAt >= windowFrom && sentAt < windowTo) {
        windowReceived++
        histogram.record(Math.round((now() - sentAt) * 1000))
      }
    }
    return
  }
  const text = data.toString('utf8', start, end)
  if (text.includes('Subscribed to PostgreSQL')) state.subscribed()
  else if (text.includes('"status":"error"')) { errors++; state.failed(text) }
}

async function openOne(port, token, topic, table) {
  let settle
  const subscribed = new Promise((resolve, reject) => (settle = { resolve, reject }))
  const timer = setTimeout(() => settle.reject(new Error(`join of ${topic} timed out`)), 30_000)
  const state = {
    subscribed: () => { clearTimeout(timer); settle.resolve() },
    failed: (text) => { clearTimeout(timer); settle.reject(new Error(`join of ${topic} failed: ${text.slice(0, 300)}`)) },
  }
  const ws = await openRawWebSocket({
    host: '127.0.0.1',
    port,
    path: `/realtime/v1/websocket?apikey=${token}&vsn=2.0.0`,
    onTextBytes: (data, start, end) => onFrame(data, start, end, state),
    onBinary: () => {},
    onClose: (reason) => state.failed(`socket closed: ${reason}`),
  })
  const config = {
    broadcast: { ack: false, self: false },
    presence: { key: '', enabled: false },
    postgres_changes: [{ event: 'INSERT', schema: 'public', table }],
    private: false,
  }
  ws.send(textFrame(JSON.stringify(['1', '1', `realtime:${topic}`, 'phx_join', { config, access_token: token }])))
  await subscribed
  return ws
}

const textFrame = (text) => clientFrame(Buffer.from(text), false)

let heartbeat = null
serve({
  async open({ port, tokens, table }) {
    const opened = []
    for (let i = 0; i < tokens.length; i += 50) {
      opened.push(...(await Promise.all(tokens.slice(i, i + 50).map((token, j) => openOne(port, token, `bench-${i + j}`, table)))))
    }
    sockets = opened
    const beat = textFrame('[null,"hb","phoenix","heartbeat",{}]')
    heartbeat = setInterval(() => {
      for (const ws of sockets) ws.send(beat)
    }, 20_000)
    return { opened: sockets.length }
  },
  mark({ from, to }) {
    histogram.reset()
    windowReceived = 0
    windowFrom = from
    windowTo = to
  },
  collect({ expected }) {
    const missing = Math.max(0, (expected ?? 0) - windowReceived)
    return {
      received: windowReceived,
      missing,
      p50: histogram.quantileMs(0.5, missing),
      p90: histogram.quantileMs(0.9, missing),
      p99: histogram.quantileMs(0.99, missing),
      max: missing > 0 ? null : histogram.quantileMs(1),
      errors,
    }
  },
  cpu() {
    const { user, system } = process.cpuUsage()
    return { cpuUs: user + system, waitNs: runQueueWaitNs() }
  },
  count: () => ({ received }),
  close() {
    clearInterval(heartbeat)
    for (const ws of sockets) ws.close()
    sockets = []
  },
}, { exitAfter: ['close'] })
