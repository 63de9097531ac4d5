/**
 * The public shapes of leases: handler bags, retry options and the events a lease receives.
 * Type-only: nothing here ships in a bundle.
 */
import type { RealtimePostgresChangesPayload } from '@supabase/realtime-js'
import type { ChannelKind } from './naming.js'
import type { PresenceUser } from './presence.js'
import type { Status } from './status.js'

/**
 * Raised on every lease of a channel that returned after a break. `resumed: false` (a **gap**):
 * events may be lost, refetch. `resumed: true` (a **recovery**): the server replayed exactly what
 * was missed (Switchboard positions), patching from the stream is enough.
 */
export interface GapEvent {
  /** Channel name, e.g. `subscription:contact:123`. */
  channel: string
  kind: ChannelKind
  /** Why the channel broke: the socket error, the server's close reason, or `rebind`. */
  reason: string
  /** `clock.now()` when the break was noticed. */
  brokenAt: number
  /** `clock.now()` when the channel was joined again. */
  restoredAt: number
  /** `true` when the server replayed everything missed; `false`: events may be lost, refetch. */
  resumed: boolean
  /** What the server said (only servers that speak positions): `Resumed` (with `replayed`), `Gap` (with `reason`: epoch, evicted, future, overflow, error) or `Fresh` (nothing to resume from). */
  resume?: { code: string; reason?: string | undefined; replayed?: number | undefined } | undefined
}

/** Handlers of a postgres_changes lease. */
export interface ChangeHandlers<Row extends Record<string, unknown> = Record<string, unknown>> {
  onInsert?: ((payload: RealtimePostgresChangesPayload<Row>) => void) | undefined
  onUpdate?: ((payload: RealtimePostgresChangesPayload<Row>) => void) | undefined
  onDelete?: ((payload: RealtimePostgresChangesPayload<Row>) => void) | undefined
  /** Fires for every event, besides the specific callback. */
  onChange?: ((payload: RealtimePostgresChangesPayload<Row>) => void) | undefined
}

/** The broadcast message handed to `on('broadcast')` handlers. */
export interface BroadcastMessage<P = unknown> {
  type: 'broadcast'
  event: string
  payload: P
  /** Server metadata (`replayed`, `id`); Switchboard's `switchboard` position key is removed. */
  meta?: Record<string, unknown> | undefined
}

/** Presence callbacks of a presence lease. */
export interface PresenceHandlers {
  onSync?: ((users: PresenceUser[]) => void) | undefined
  onJoin?: ((joined: PresenceUser[], users: PresenceUser[]) => void) | undefined
  onLeave?: ((left: PresenceUser[], users: PresenceUser[]) => void) | undefined
}

/** Retry options shared by `subscribeToEntity` and `joinPresence`. */
export interface ReconnectOptions {
  /** Rejoin after a break (default true). With `false` the status becomes `disconnected`. */
  autoReconnect?: boolean | undefined
  /** Window of the first retry in ms (default 3000); doubles per attempt, full jitter. */
  reconnectDelay?: number | undefined
  /** Attempts before `error` (default 5). */
  maxReconnectAttempts?: number | undefined
}

/** Lifecycle callbacks shared by `subscribeToEntity` and `joinPresence`. */
export interface LifecycleHandlers {
  onStatusChange?: ((status: Status, error?: Error) => void) | undefined
  /** Called when the status becomes `error`, with a `SwitchboardError`. */
  onError?: ((error: Error) => void) | undefined
  /** Called when the channel returns after a break and events may be lost (refetch what it shows). */
  onGap?: ((event: GapEvent) => void) | undefined
  /** Called when the channel returns after a break and the server replayed everything missed. */
  onRecover?: ((event: GapEvent) => void) | undefined
}

/** Everything a lease may carry, as the channel reads it. @internal */
export type LeaseOptions = ReconnectOptions & LifecycleHandlers & ChangeHandlers & PresenceHandlers

/** Per-channel row of `getActiveChannels()`. */
export interface ChannelInfo {
  name: string
  type: ChannelKind
  status: Status
  /** Leases holding the channel. */
  subscribers: number
  createdAt: number
  lastEventAt: number | undefined
  /** Last stream position seen (servers that speak positions), `-1` before any. */
  position: number
}
