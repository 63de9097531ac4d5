/**
 * The status machine shared by the connection and by every managed channel.
 *
 *                 start                 up
 *   disconnected ───────▶ connecting ─────────▶ connected ◀─────────┐
 *        ▲                   │  ▲                  │               │ up
 *        │ stop (any state)  │  │ start            │ down          │
 *        │                   │  │                  ▼               │
 *        │        exhausted  │  │             reconnecting ────────┘
 *        │                   ▼  │                  │
 *        └──────────────── error ◀─────────────────┘ exhausted
 *
 * - `down` (transport lost, join refused, server closed the channel) moves `connected` to
 *   `reconnecting`; while `connecting`/`reconnecting` it is a failed attempt and changes nothing.
 * - `exhausted` (the retry policy gave up) moves any live state to `error`.
 * - `start` (a lease wants the channel again, `online`, a manual retry) leaves `error` and
 *   `disconnected` for `connecting`.
 * - `stop` (last lease released, cleanup, logout) always ends in `disconnected`.
 * - `up` from `error` is accepted: the transport came back by other means (a browser signal).
 *
 * A return to `connected` after having been connected before is a **gap**: events may have been
 * missed in between (see {@link isGap}).
 */

export const Status = {
  connecting: 'connecting',
  connected: 'connected',
  reconnecting: 'reconnecting',
  disconnected: 'disconnected',
  error: 'error',
} as const

/** `connecting | connected | reconnecting | disconnected | error` */
export type Status = (typeof Status)[keyof typeof Status]

export type StatusEvent = 'start' | 'up' | 'down' | 'exhausted' | 'stop'

export const isLive = (s: Status): boolean => s === Status.connecting || s === Status.connected || s === Status.reconnecting
export const isTerminal = (s: Status): boolean => s === Status.disconnected || s === Status.error

/** The one transition function. Pure; returns the same status when the event does not apply. */
export function transition(status: Status, event: StatusEvent): Status {
  switch (event) {
    case 'stop':
      return Status.disconnected
    case 'start':
      return isTerminal(status) ? Status.connecting : status
    case 'up':
      return status === Status.disconnected ? status : Status.connected
    case 'down':
      return status === Status.connected ? Status.reconnecting : status
    case 'exhausted':
      return isLive(status) ? Status.error : status
  }
}

/** A move into `connected` of something that was connected before is a gap. */
export function isGap(previous: Status, next: Status, everConnected: boolean): boolean {
  return everConnected && next === Status.connected && previous !== Status.connected
}
