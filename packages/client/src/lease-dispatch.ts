/**
 * Handing a channel's events to its leases: loops over the leases that read each lease's own
 * handlers (so handlers survive every reconnect), with no channel state of their own. A handler
 * that throws never breaks delivery to the others: its error goes to `report` (the channel logs it).
 */
import type { Lease } from './leases.js'
import type { PresenceUser } from './presence.js'
import type { Status } from './status.js'
import type { BroadcastMessage, GapEvent, PositionedChange } from './types.js'

type Report = (err: unknown) => void

/** Calls a user handler; one that throws is reported and never breaks delivery to the others. */
function call<A extends unknown[]>(report: Report, handler: ((...args: A) => void) | undefined, ...args: A): void {
  try {
    handler?.(...args)
  } catch (err) {
    report(err)
  }
}

/** A change of the binding `key`: `onInsert`/`onUpdate`/`onDelete`, then `onChange`, of the leases of that spec. */
export function deliverChange(leases: Iterable<Lease>, key: string, payload: PositionedChange, report: Report): void {
  const specific = payload.eventType === 'INSERT' ? 'onInsert' : payload.eventType === 'UPDATE' ? 'onUpdate' : 'onDelete'
  for (const lease of leases) {
    if (lease.specKey !== key) continue
    call(report, lease.options[specific], payload)
    call(report, lease.options.onChange, payload)
  }
}

/** A broadcast: the handlers of its event, then the `*` handlers, of every lease. */
export function deliverBroadcast(leases: Iterable<Lease>, message: BroadcastMessage, report: Report): void {
  for (const lease of leases) {
    for (const handler of [...(lease.handlers.get(message.event) ?? []), ...(lease.handlers.get('*') ?? [])]) call(report, handler, message)
  }
}

/** A presence sync: `onJoin`/`onLeave` once per user who joined or left, then `onSync` with everyone. */
export function deliverPresence(leases: Iterable<Lease>, users: PresenceUser[], joined: PresenceUser[], left: PresenceUser[], report: Report): void {
  for (const { options: o } of leases) {
    for (const user of joined) call(report, o.onJoin, user, joined)
    for (const user of left) call(report, o.onLeave, user, left)
    call(report, o.onSync, users)
  }
}

/** A status change: `onStatusChange`, the lease's status listeners, and `onError` on `error`. */
export function deliverStatus(leases: Iterable<Lease>, status: Status, error: Error | undefined, report: Report): void {
  for (const lease of leases) {
    call(report, lease.options.onStatusChange, status, error)
    lease.statuses.emit(status, report)
    if (error) call(report, lease.options.onError, error)
  }
}

/** A return after a break: `onRecover` (everything replayed) or `onGap`, and the lease's gap listeners. */
export function deliverReturn(leases: Iterable<Lease>, event: GapEvent, report: Report): void {
  for (const lease of leases) {
    call(report, event.resumed ? lease.options.onRecover : lease.options.onGap, event)
    lease.gaps.emit(event, report)
  }
}
