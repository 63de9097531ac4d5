/**
 * `useConnectionStatus()`: the socket's status plus a debounced "connection lost" flag.
 *
 *   connected ──(down)──▶ reconnecting / connecting / error ──(lostAfterMs elapsed)──▶ connectionLost
 *       ▲                                                                                    │
 *       └──────────────────────────────(up: connected again)─────────────────────────────────┘
 *
 * `disconnected` means no channel needs the socket (nothing subscribed yet, logout): it is a
 * choice, not a loss, so it never raises `connectionLost`.
 */
import { useEffect, useState, useSyncExternalStore } from 'react'
import type { ConnectionSnapshot, Status } from '@switchboard/client'
import { useRealtimeManager } from './provider.js'

export interface ConnectionStatusOptions {
  /** How long the socket must be down (wanted but not connected) before `connectionLost`. Default 3000. */
  lostAfterMs?: number
}

export interface ConnectionStatusResult {
  /** `connecting | connected | reconnecting | disconnected | error` */
  status: Status
  /** Not connected for longer than `lostAfterMs` while something needs the socket: show the toast. */
  connectionLost: boolean
}

const statusOf = (snapshot: ConnectionSnapshot): Status => snapshot.status
const isDown = (status: Status): boolean => status === 'connecting' || status === 'reconnecting' || status === 'error'

/**
 * @example
 * ```tsx
 * function ConnectionBadge() {
 *   const { status, connectionLost } = useConnectionStatus({ lostAfterMs: 3000 })
 *   return connectionLost ? <Toast>Connection lost, reconnecting…</Toast> : <Dot status={status} />
 * }
 * ```
 */
export function useConnectionStatus({ lostAfterMs = 3000 }: ConnectionStatusOptions = {}): ConnectionStatusResult {
  const manager = useRealtimeManager()
  const store = manager.connectionStore
  const status = useSyncExternalStore(
    store.subscribe,
    () => statusOf(store.getSnapshot()),
    () => statusOf(store.getSnapshot()),
  )
  const down = isDown(status)
  const [lost, setLost] = useState(false)

  useEffect(() => {
    if (!down) {
      setLost(false)
      return
    }
    // Moving between down states (reconnecting → error) keeps this effect, and its timer, alive.
    const timer = setTimeout(() => setLost(true), lostAfterMs)
    return () => clearTimeout(timer)
  }, [down, lostAfterMs])

  return { status, connectionLost: down && lost }
}
