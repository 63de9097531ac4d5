/**
 * The public shapes of leases: handler bags, retry options and the events a lease receives.
 * Type-only: nothing here ships in a bundle.
 */
import type { RealtimePostgresChangesPayload } from '@supabase/realtime-js'
import type { GapReason, LostKind, MessageMark, ResumeCode } from '@switchboard/protocol'
import type { ChannelKind } from './naming.js'
import type { PresenceMetadata, PresenceUser } from './presence.js'
import type { Status } from './status.js'

/**
 * Raised on every lease of a channel that returned after a break. `resumed: false` (a **gap**):
 * events may be lost, refetch (only what `lost` names, when it is set). `resumed: true` (a
 * **recovery**): the server replayed exactly what was missed (Switchboard positions), patching
 * from the stream is enough.
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
  resume?: { code: ResumeCode; reason?: GapReason | undefined; replayed?: number | undefined } | undefined
  /**
   * The scope of a gap, when it is limited: only these kinds of events may be lost. `['broadcast']`
   * after a resume into a new epoch (the server restarted): every Postgres change was replayed
   * from the channel's stream point, but broadcasts are not kept across a restart, so refetch only
   * what broadcasts feed (cursors, typing, progress), not the data. Absent on a full gap: anything
   * may be lost.
   */
  lost?: LostKind[] | undefined
}

/**
 * A change as handlers receive it: realtime-js's payload and, from a server that speaks
 * positions, its mark `switchboard: { position, lsn }`. `lsn` is the change's stream point: its
 * first 16 hex digits are the commit LSN (`parseStreamPoint` of `@switchboard/protocol`), which
 * is what a loader's `pg_current_wal_lsn()` compares with (see `@switchboard/react`'s load then live).
 */
export type PositionedChange<Row extends Record<string, unknown> = Record<string, unknown>> = RealtimePostgresChangesPayload<Row> & {
  switchboard?: MessageMark | undefined
}

/** Handlers of a postgres_changes lease. */
export interface ChangeHandlers<Row extends Record<string, unknown> = Record<string, unknown>> {
  onInsert?: ((payload: PositionedChange<Row>) => void) | undefined
  onUpdate?: ((payload: PositionedChange<Row>) => void) | undefined
  onDelete?: ((payload: PositionedChange<Row>) => void) | undefined
  /** Fires for every event, besides the specific callback. */
  onChange?: ((payload: PositionedChange<Row>) => void) | undefined
}

/** The broadcast message handed to `on('broadcast')` handlers. */
export interface BroadcastMessage<P = unknown> {
  type: 'broadcast'
  event: string
  payload: P
  /** Server metadata (`replayed`, `id`); Switchboard's `switchboard` position key is removed. */
  meta?: Record<string, unknown> | undefined
}

/**
 * Presence callbacks of a presence lease. `onJoin` and `onLeave` are called once per user (by
 * user id) that appeared or disappeared since the last sync, with that user first and everyone
 * who joined (left) in the same sync second; a second tab, a metadata update or a reconnect of
 * a user who stayed is not a join.
 *
 * @example
 * ```ts
 * onJoin: (user) => console.log(`${user.userName} started viewing`),
 * onLeave: (user) => setViewers((prev) => prev.filter((u) => u.userId !== user.userId)),
 * ```
 */
export interface PresenceHandlers<M extends PresenceMetadata = PresenceMetadata> {
  /** Everyone on the channel, after every change. */
  onSync?: ((users: PresenceUser<M>[]) => void) | undefined
  onJoin?: ((user: PresenceUser<M>, joined: PresenceUser<M>[]) => void) | undefined
  /** `user` is the last state seen of the user who left. */
  onLeave?: ((user: PresenceUser<M>, left: PresenceUser<M>[]) => void) | undefined
}

/**
 * Retry options shared by `subscribeToEntity` and `joinPresence`. They govern the channel's
 * rejoins after the server refused or timed out its join; a lost socket is retried on the
 * manager's schedule (`connectionRetry`: first attempt within 50 ms) and every channel rejoins as
 * soon as it is back.
 */
export interface ReconnectOptions {
  /** Rejoin after a break (default true). With `false` the status becomes `disconnected`. */
  autoReconnect?: boolean | undefined
  /** Window of the first rejoin after a refused join, in ms (default 3000); doubles per attempt, full jitter. */
  reconnectDelay?: number | undefined
  /** Refused joins in a row before `error` (default 5). */
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
