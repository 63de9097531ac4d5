/**
 * `GET /api/inspect/stream`: the inspector's live updates as Server-Sent Events, so the page never
 * polls. An open stream keeps its tenant's trace running (tenant-inspector.ts).
 *
 *   ?tenant=default     the tenant (optional when the key sees one)
 *   &q=room             the channel list's search
 *   &channel=public:r1  one channel in detail, and its messages as they happen ("watch")
 *   &recent=1           the newest traced messages (the trace view's list)
 *
 * Events: `hello` (overview + 15-minute history) once; then every second `overview` (with the
 * newest sample), `channel` (when asked) and `recent` (when asked); `channels` every two seconds;
 * `messages` (the watched channel's new messages, at most 50 per quarter second) as they come.
 * A reader that does not keep up is skipped, never buffered without bound: snapshots are
 * dropped while the socket's buffer is full.
 */
import type { FastifyInstance } from 'fastify'
import { channelOf } from '../inspect/subscriber-view.js'
import type { TracedMessage } from '../inspect/traced-message.js'
import { messageSummary } from '../inspect/verdicts.js'
import type { InspectApiOptions } from './inspect-api.js'
import { tenantOf } from './inspect-api.js'

/** Open streams per server, at most (each costs a few small JSON documents per second). */
const MAX_STREAMS = 50
const WATCH_FLUSH_MS = 250
const WATCH_BATCH = 50

export function registerInspectStream(app: FastifyInstance, options: InspectApiOptions): void {
  /** Open streams, by their close: ended before the server closes (a stream never ends by itself). */
  const streams = new Set<() => void>()
  app.addHook('preClose', async () => {
    for (const close of [...streams]) close()
  })

  app.get('/api/inspect/stream', async (request, reply) => {
    const tenant = await tenantOf(request, reply, options)
    if (!tenant) return
    if (streams.size >= MAX_STREAMS) return reply.code(429).send({ error: `at most ${MAX_STREAMS} inspector streams at once` })
    // Clustered: the first overview lists the other nodes too (the tick keeps them fresh after).
    await tenant.refreshPeers()
    const query = request.query as Record<string, string | undefined>
    const search = query.q ?? ''
    const channelKey = query.channel || null
    const recent = query.recent === '1'

    reply.hijack()
    const raw = reply.raw
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'access-control-allow-origin': '*',
    })
    const release = tenant.openStream()
    let closed = false
    const send = (event: string, data: unknown, essential = false): void => {
      if (closed || (!essential && raw.writableNeedDrain)) return
      raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    }

    // The watched channel's messages, batched.
    let watched: TracedMessage[] = []
    let skipped = 0
    const unwatch: (() => void)[] = []
    if (channelKey) {
      const keys = new Set([channelKey])
      for (const subscriber of tenant.tenant.hub.topics.subscribers(channelKey) ?? []) {
        for (const b of channelOf(subscriber)?.config.postgresChanges ?? []) keys.add(`table:${String(b.schema ?? 'public')}.${String(b.table ?? '*')}`)
      }
      for (const key of keys) {
        unwatch.push(tenant.recorder.watch(key, (message) => {
          if (watched.length < WATCH_BATCH) watched.push(message)
          else skipped++
        }))
      }
    }

    const everySecond = () => {
      send('overview', tenant.overview())
      if (channelKey) send('channel', tenant.views.detail(channelKey) ?? { key: channelKey, gone: true })
      if (recent) send('recent', tenant.messages({ limit: 50 }))
    }
    const everyTwoSeconds = () => send('channels', tenant.views.list(search, 200))
    const flushWatched = () => {
      if (watched.length === 0) return
      send('messages', { messages: watched.map(messageSummary), skipped })
      watched = []
      skipped = 0
    }

    send('hello', { ...tenant.overview(), history: tenant.history() }, true)
    everySecond()
    everyTwoSeconds()
    const timers = [setInterval(everySecond, 1_000), setInterval(everyTwoSeconds, 2_000), setInterval(flushWatched, WATCH_FLUSH_MS)]
    for (const timer of timers) timer.unref()

    const close = () => {
      if (closed) return
      closed = true
      streams.delete(close)
      for (const timer of timers) clearInterval(timer)
      for (const stop of unwatch) stop()
      release()
      raw.end()
    }
    streams.add(close)
    request.raw.on('close', close)
    raw.on('close', close)
    raw.on('error', close)
  })
}
