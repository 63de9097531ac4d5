/**
 * The presence bench's client process (spawned by presence.js). Opens `perNode` observers on
 * each node, all on one topic with presence enabled (Phoenix vsn 2.0.0 over raw-ws.js, the join
 * payload realtime-js sends), plus one tracker on the first node. A trial is: the tracker sends
 * `track` (payload `{ trial }`), every observer waits for the `presence_diff` whose `joins`
 * holds the tracker's key with that trial; then `untrack`, and every observer waits for the
 * `leaves`. All clients live in this one process, so sending and seeing are read on one clock.
 *
 * IPC (lib/child-ipc.js): `start({ nodes: [{ name, port, apiKey }], perNode, topic })`,
 * `trial({ trial, timeoutMs })` → per node, the time (ms) until its last observer saw the join
 * and the leave (null: not seen within the timeout), `exit`.
 */
import { serve } from '../lib/child-ipc.js'
import { clientFrame, openRawWebSocket } from '../broadcast/raw-ws.js'

const TRACKER_KEY = 'tracker'
const HEARTBEAT_MS = 25_000
const sockets = []
let observers = []
let tracker = null
let topic = ''
/** The event observers are waiting for: { kind: 'join' | 'leave', trial, pending per node, seen per node }. */
let waiting = null
let ref = 1

const nowMs = () => performance.now()

function joinFrame(key, accessToken) {
  const payload = {
    config: { broadcast: { self: false, ack: false }, presence: { key, enabled: true }, postgres_changes: [], private: false },
    access_token: accessToken,
  }
  return clientFrame(Buffer.from(JSON.stringify(['1', '1', topic, 'phx_join', payload])), false)
}

/** Opens one socket on `node`, joins `topic` as presence key `key`; resolves once joined. */
async function openClient(node, key, onEvent) {
  let joined
  const joinedPromise = new Promise((resolve, reject) => (joined = { resolve, reject }))
  const ws = await openRawWebSocket({
    host: '127.0.0.1',
    port: node.port,
    path: `/realtime/v1/websocket?apikey=${encodeURIComponent(node.apiKey)}&vsn=2.0.0`,
    onBinary: () => {},
    onText: (text) => {
      const message = JSON.parse(text)
      if (message[3] === 'phx_reply' && message[1] === '1') {
        if (message[4]?.status === 'ok') joined.resolve()
        else joined.reject(new Error(`join refused: ${text}`))
        return
      }
      if (message[3] === 'presence_diff') onEvent(message[4])
    },
    onClose: () => {},
  })
  ws.send(joinFrame(key, node.apiKey))
  const timer = setTimeout(() => joined.reject(new Error('join timed out')), 20_000)
  await joinedPromise.finally(() => clearTimeout(timer))
  sockets.push(ws)
  return ws
}

/** An observer saw a diff: counts it when it is the join or leave of the trial being waited for. */
function observed(observer, diff) {
  if (waiting === null || observer.seen === waiting.id) return
  const side = waiting.kind === 'join' ? diff.joins : diff.leaves
  const metas = side?.[TRACKER_KEY]?.metas
  if (!metas || !metas.some((m) => m.trial === waiting.trial)) return
  observer.seen = waiting.id
  const node = waiting.nodes.get(observer.node)
  node.pending -= 1
  if (node.pending === 0) node.lastMs = nowMs() - waiting.sentAt
  if (--waiting.pendingAll === 0) waiting.done()
}

function push(event, payload) {
  tracker.send(clientFrame(Buffer.from(JSON.stringify(['1', String(++ref), topic, event, payload])), false))
}

/** Sends track or untrack and waits until every observer saw it (or `timeoutMs`). */
function waitFor(kind, trial, send, timeoutMs) {
  return new Promise((resolve) => {
    const nodes = new Map()
    for (const o of observers) {
      const entry = nodes.get(o.node) ?? { pending: 0, lastMs: null }
      entry.pending += 1
      nodes.set(o.node, entry)
    }
    const finish = () => {
      clearTimeout(timer)
      waiting = null
      resolve(Object.fromEntries([...nodes].map(([name, n]) => [name, { lastMs: n.lastMs, missing: n.pending }])))
    }
    const timer = setTimeout(finish, timeoutMs)
    waiting = { id: `${kind}${trial}`, kind, trial, nodes, pendingAll: observers.length, sentAt: nowMs(), done: finish }
    send()
  })
}

serve({
  async start({ nodes, perNode, topic: name }) {
    topic = name
    const opened = []
    for (const node of nodes) {
      for (let i = 0; i < perNode; i++) {
        const observer = { node: node.name, seen: null }
        opened.push(openClient(node, `obs-${node.name}-${i}`, (diff) => observed(observer, diff)).then(() => observer))
      }
    }
    observers = await Promise.all(opened)
    tracker = await openClient(nodes[0], TRACKER_KEY, () => {})
    setInterval(() => {
      const hb = clientFrame(Buffer.from(JSON.stringify([null, 'hb', 'phoenix', 'heartbeat', {}])), false)
      for (const ws of sockets) ws.send(hb)
    }, HEARTBEAT_MS).unref()
    return { observers: observers.length }
  },
  async trial({ trial, timeoutMs }) {
    const join = await waitFor('join', trial, () => push('presence', { type: 'presence', event: 'track', payload: { trial } }), timeoutMs)
    const leave = await waitFor('leave', trial, () => push('presence', { type: 'presence', event: 'untrack' }), timeoutMs)
    return { join, leave }
  },
  exit() {
    for (const ws of sockets) ws.close()
  },
}, { exitAfter: ['exit'] })
