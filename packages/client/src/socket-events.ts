/**
 * The Phoenix socket under a realtime-js client: open/close notifications, heartbeat probes,
 * and dropping a socket the network left half-dead.
 *
 * ┌───────────────────────────────────────────────────────────────────────────────────────────┐
 * │ realtime-js 2.119 has no public onOpen/onClose. Its typed public getter                   │
 * │ `stateChangeCallbacks` returns the Phoenix socket's callback lists, which the socket      │
 * │ iterates on every transition. We append an entry with our own ref and remove it again by │
 * │ ref, exactly as `Socket.onOpen`/`Socket.off` do. Probes and drops read the Phoenix socket │
 * │ (`socketAdapter.getSocket()`, marked internal): `conn`, `pendingHeartbeatRef`,            │
 * │ `onConnClose`. This file and `raw-messages.ts` are the only places that touch internals;  │
 * │ where a field is missing the functions do nothing and Phoenix's own timeouts remain.      │
 * └───────────────────────────────────────────────────────────────────────────────────────────┘
 */
import type { RealtimeClient } from '@supabase/realtime-js'

export type SocketEvent = 'open' | 'close' | 'error'

interface WebSocketLike {
  onopen: unknown
  onclose: unknown
  onerror: unknown
  onmessage: unknown
  close(code?: number, reason?: string): void
}

interface PhoenixSocket {
  conn?: WebSocketLike | null
  pendingHeartbeatRef?: string | null
  onConnClose?(event: unknown): void
}

let nextRef = 0

const phoenix = (client: RealtimeClient): PhoenixSocket | undefined =>
  (client as unknown as { socketAdapter?: { getSocket?(): PhoenixSocket } }).socketAdapter?.getSocket?.()

/** Registers `callback` for a socket event; returns an idempotent remover. */
export function onSocketEvent(client: RealtimeClient, event: SocketEvent, callback: (arg?: unknown) => void): () => void {
  const ref = `switchboard-${++nextRef}`
  client.stateChangeCallbacks[event].push([ref, callback])
  return () => {
    const lists = client.stateChangeCallbacks
    const list = lists[event]
    const index = list.findIndex(([r]) => r === ref)
    if (index >= 0) list.splice(index, 1)
  }
}

/**
 * Sends a heartbeat unless one is already in flight, and returns the ref of the heartbeat in
 * flight (`undefined` when the socket is closed or the ref cannot be read). Phoenix treats a
 * heartbeat sent while another is pending as a heartbeat timeout and closes a healthy socket
 * (browsers fire `visibilitychange` and `pageshow` together on a back-forward-cache restore).
 */
export function probe(client: RealtimeClient): string | undefined {
  if (!client.isConnected()) return undefined
  const socket = phoenix(client)
  if (!socket?.pendingHeartbeatRef) void client.sendHeartbeat()
  return socket?.pendingHeartbeatRef ?? undefined
}

/** The ref of the heartbeat awaiting its reply, if any. */
export const pendingHeartbeat = (client: RealtimeClient): string | undefined => phoenix(client)?.pendingHeartbeatRef ?? undefined

/**
 * Abandons the current socket at once, as if the network had closed it: Phoenix's close path
 * runs (channels errored, `close` callbacks, ours included), and `connect()` opens a new socket
 * right away. Returns false when there was no socket to drop.
 *
 * ┌───────────────────────────────────────────────────────────────────────────────────────────┐
 * │ Why not `client.disconnect()`: Phoenix's teardown waits for the close handshake (up to    │
 * │ ~3 s of polling) and `connect()` is a no-op until it ends. On a half-dead socket (a       │
 * │ laptop back from sleep, Chromium's offline emulation) the handshake never completes, and  │
 * │ when the wait ends Phoenix nulls the socket without firing `close`, so nothing learns it  │
 * │ is gone. Detaching the handlers first also keeps late frames of the old socket away from  │
 * │ the channels that rejoin on the new one.                                                  │
 * └───────────────────────────────────────────────────────────────────────────────────────────┘
 */
export function dropSocket(client: RealtimeClient, reason: string): boolean {
  const socket = phoenix(client)
  const conn = socket?.conn
  if (!socket || !conn || typeof socket.onConnClose !== 'function') return false
  socket.conn = null
  // A heartbeat still pending would make Phoenix's next one time out on the new socket.
  socket.pendingHeartbeatRef = null
  conn.onopen = conn.onclose = conn.onerror = conn.onmessage = () => undefined
  try {
    conn.close(1000, reason)
  } catch {
    // already closed
  }
  socket.onConnClose({ code: 1006, reason, wasClean: false })
  return true
}
