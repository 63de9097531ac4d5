/**
 * Subscribers for the change-stream benchmark, in their own process (pinned to core 1):
 * official-protocol WebSocket clients (Phoenix v2 JSON frames, as realtime-js 2.x sends them),
 * one socket and one channel per subscriber, each with a `postgres_changes` INSERT binding on
 * the bench table and its own user's JWT.
 *
 * On every `postgres_changes` frame: count it, and if the row's `sent_at` (the writer's clock
 * read just before it sent the INSERT; same machine, so the same wall clock:
 * performance.timeOrigin + performance.now()) falls in the measurement window, count it for the
 * window and record its commit-to-client latency. The value is read from the frame text without
 * a JSON.parse, so the clients stay cheaper than the server.
 *
 * IPC: `{ id, cmd: 'open', port, tokens, table }` → `{ id, opened }` once every channel got
 * "Subscribed to PostgreSQL"; `{ mark, from, to }` starts a window of rows sent in [from, to);
 * `{ collect, expected }` → the window's deliveries and quantiles, the `expected − received`
 * missing deliveries counted as later than any received one; `cpu` → CPU time and main-thread
 * run-queue wait; `count` → deliveries so far; `close`.
 */
import WebSocket from 'ws'
import { serve } from '../lib/child-ipc.js'
import { runQueueWaitNs } from '../lib/cpu.js'
import { LatencyHistogram } from '../lib/histogram.js'

const now = () => performance.timeOrigin + performance.now()
const histogram = new LatencyHistogram()
const SENT_AT = Buffer.from('"sent_at":')
const CHANGES = Buffer.from('"postgres_changes",{"ids"')
const SUBSCRIBED = Buffer.from('Subscribed to PostgreSQL')
let sockets = []
let received = 0
let windowReceived = 0
let windowFrom = Infinity
let windowTo = Infinity
let errors = 0

function onMessage(data, state) {
  const head = data.indexOf(CHANGES)
  if (head >= 0 && head < 200) {
    received++
    const at = data.indexOf(SENT_AT, head)
    if (at >= 0) {
      let end = at + SENT_AT.length
      while (end < data.length && data[end] !== 44 /* , */ && data[end] !== 125 /* } */) end++
      const sentAt = Number(data.toString('latin1', at + SENT_AT.length, end))
      if (sentAt >= windowFrom && sentAt < windowTo) {
        windowReceived++
        histogram.record(Math.round((now() - sentAt) * 1000))
      }
    }
    return
  }
  if (data.indexOf(SUBSCRIBED) >= 0) state.subscribed()
  else if (data.includes('"status":"error"')) { errors++; state.failed(data.toString()) }
}

function openOne(port, token, topic, table) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/realtime/v1/websocket?apikey=${token}&vsn=2.0.0`, { perMessageDeflate: false, skipUTF8Validation: true })
    const timer = setTimeout(() => reject(new Error(`join of ${topic} timed out`)), 30_000)
    const state = {
      subscribed: () => { clearTimeout(timer); resolve(ws) },
      failed: (text) => { clearTimeout(timer); reject(new Error(`join of ${topic} failed: ${text.slice(0, 300)}`)) },
    }
    ws.on('message', (data) => onMessage(data, state))
    ws.on('error', (error) => { clearTimeout(timer); reject(error) })
    ws.on('open', () => {
      const config = {
        broadcast: { ack: false, self: false },
        presence: { key: '', enabled: false },
        postgres_changes: [{ event: 'INSERT', schema: 'public', table }],
        private: false,
      }
      ws.send(JSON.stringify(['1', '1', `realtime:${topic}`, 'phx_join', { config, access_token: token }]))
    })
  })
}

let heartbeat = null
serve({
  async open({ port, tokens, table }) {
    const opened = []
    for (let i = 0; i < tokens.length; i += 50) {
      opened.push(...(await Promise.all(tokens.slice(i, i + 50).map((token, j) => openOne(port, token, `bench-${i + j}`, table)))))
    }
    sockets = opened
    heartbeat = setInterval(() => {
      for (const ws of sockets) if (ws.readyState === WebSocket.OPEN) ws.send('[null,"hb","phoenix","heartbeat",{}]')
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
    for (const ws of sockets) ws.terminate()
    sockets = []
  },
}, { exitAfter: ['close'] })
