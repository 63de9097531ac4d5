/**
 * Socket open/close/error notifications from a realtime-js client.
 *
 * ┌───────────────────────────────────────────────────────────────────────────────────────────┐
 * │ realtime-js 2.119 has no public onOpen/onClose. Its typed public getter                   │
 * │ `stateChangeCallbacks` returns the Phoenix socket's callback lists, which the socket      │
 * │ iterates on every transition. We append an entry with our own ref and remove it again by │
 * │ ref, exactly as `Socket.onOpen`/`Socket.off` do. This is the only place that touches it.   │
 * └───────────────────────────────────────────────────────────────────────────────────────────┘
 */
import type { RealtimeClient } from '@supabase/realtime-js'

export type SocketEvent = 'open' | 'close' | 'error'

let nextRef = 0

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
 * Sends a heartbeat unless one is already in flight. Phoenix treats a heartbeat sent while
 * another is pending as a heartbeat timeout and closes a healthy socket (browsers fire
 * `visibilitychange` and `pageshow` together on a back-forward-cache restore). Reads the
 * Phoenix socket's `pendingHeartbeatRef` (untyped in realtime-js 2.119).
 */
export function probe(client: RealtimeClient): void {
  const socket = (client as unknown as { socketAdapter?: { getSocket?(): { pendingHeartbeatRef?: unknown } } }).socketAdapter?.getSocket?.()
  if (client.isConnected() && !socket?.pendingHeartbeatRef) void client.sendHeartbeat()
}
