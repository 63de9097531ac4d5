/**
 * A protocol-level fake of the realtime server (style tier (c), like centrifuge's
 * `fakeServer.ts`): Phoenix vsn 2.0.0 JSON frames over a real WebSocket on port 0, with the test
 * deciding every reply and push. For behaviour the real server does not produce yet (or only
 * with timing the test cannot choose): a status held back after the join reply, a status that
 * never comes, a resume into a new epoch with `lost`, stream points on every message.
 *
 * Heartbeats and leaves are answered (`onLeave` runs first); joins are handed to `onJoin`, which
 * by default replies `ok` with nothing else.
 */
import { WebSocketServer, type WebSocket } from 'ws'

type Frame = [string | null, string | null, string, string, Record<string, unknown>]

/** One `phx_join` as the fake server received it. */
export interface FakeJoin {
  /** `realtime:` + channel name. */
  topic: string
  payload: Record<string, unknown> & { config?: Record<string, unknown>; switchboard?: { session?: string; resume?: Record<string, unknown> | null } }
  socket: WebSocket
  /** Replies to the join (`ok` with `response` by default). */
  reply(response?: Record<string, unknown>, status?: 'ok' | 'error'): void
  /** Pushes `event` with `payload` on the joined topic. */
  push(event: string, payload: Record<string, unknown>): void
  /**
   * Pushes without a join_ref, as the real server sends changes and broadcasts (one frame
   * encoded for every member of the topic): realtime-js cannot tell which join of the topic it
   * was for.
   */
  fanout(event: string, payload: Record<string, unknown>): void
}

export interface FakeServer {
  /** `http://127.0.0.1:<port>`, for `RealtimeConfig.url`. */
  url: string
  /** Every join received, in order. */
  joins: FakeJoin[]
  /** Open sockets. */
  readonly sockets: number
  onJoin: (join: FakeJoin) => void
  /** A `phx_leave` of `topic`, before its reply: what the server sends now was queued before the leave. */
  onLeave: (topic: string) => void
  /** Destroys every socket (no close frame), like a network drop. */
  dropAll(): void
  close(): Promise<void>
}

export async function startFakeServer(): Promise<FakeServer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
  const address = wss.address()
  if (typeof address !== 'object' || address === null) throw new Error('fake server has no address')
  const server: FakeServer = {
    url: `http://127.0.0.1:${address.port}`,
    joins: [],
    get sockets() {
      return wss.clients.size
    },
    onJoin: (join) => join.reply(),
    onLeave: () => undefined,
    dropAll() {
      for (const socket of wss.clients) socket.terminate()
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of wss.clients) socket.terminate()
        wss.close(() => resolve())
      }),
  }
  wss.on('connection', (socket) => {
    const send = (frame: Frame) => socket.readyState === socket.OPEN && socket.send(JSON.stringify(frame))
    socket.on('message', (data, isBinary) => {
      if (isBinary) return
      const [joinRef, ref, topic, event, payload] = JSON.parse(String(data)) as Frame
      const ok = (response: Record<string, unknown> = {}, status = 'ok') => send([joinRef, ref, topic, 'phx_reply', { status, response }])
      if (event === 'phx_leave') server.onLeave(topic)
      if (event === 'heartbeat' || event === 'phx_leave') return ok()
      if (event !== 'phx_join') return
      const join: FakeJoin = {
        topic,
        payload: payload as FakeJoin['payload'],
        socket,
        reply: (response = {}, status = 'ok') => ok({ postgres_changes: [], ...response }, status),
        push: (pushed, body) => send([joinRef, null, topic, pushed, body]),
        fanout: (pushed, body) => send([null, null, topic, pushed, body]),
      }
      server.joins.push(join)
      server.onJoin(join)
    })
  })
  return server
}
