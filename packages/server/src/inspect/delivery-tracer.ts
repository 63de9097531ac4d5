/**
 * The seam between the delivery path and the inspector: the hooks the hub, the Postgres Changes
 * dispatcher, the channel feed and the edge (channels refusing client messages) call while
 * somebody traces deliveries, and the slot they find the tracer in.
 *
 *   hub ──────────── broadcast(position, entry, subscribers, except)   before the fan-out
 *   dispatcher ───── changeRouted(change, matches)                      once per change
 *                ├── changeException(change, entry, exception)         a matched subscriber
 *                │                                                       that got no data
 *                └── changesDispatched()                               the batch is delivered
 *   channel feed ─── caughtUp(channel, catchUp)                         replay / gap at going live
 *   channel edge ─── refused(channel, message, reason)                  a client message refused
 *
 * Cost when nobody traces: each hook is `slot.current?.hook(…)`, one null check (an optional
 * call evaluates no argument when the slot is empty). The hooks only keep references and a few
 * numbers; everything an operator reads (verdicts, previews of changes, filter explanations) is
 * worked out when the trace is queried (inspect/verdicts.ts), not on the delivery path.
 */
import type { InboundMessage } from '@switchboard/protocol'
import type { FanoutSubscriber } from '../broadcast/topic-registry.js'
import type { Change } from '../cdc/change.js'
import type { SubscriberEntry } from '../cdc/change-dispatcher.js'
import type { ClaimPaths } from '../cdc/policy-claims.js'
import type { GapReason, ResumeCode } from '@switchboard/protocol'
import type { LogMessage } from '../hub/log-entry.js'

/** Why a subscriber whose bindings matched a change got no data (or an error payload) instead. */
export type ChangeException =
  /** Registered at a position after the change: it was not owed this change. */
  | { kind: 'joined_after'; cursor: number }
  /** A DELETE, and the role may read no column of the table. */
  | { kind: 'no_select_privilege'; role: string }
  /** Supabase's error payload was delivered instead of the record (no primary key, key not readable). */
  | { kind: 'error_payload'; error: string }
  /** Its RLS check raised (message: what it was told), or it was quarantined by an earlier one: no changes until it rejoins or refreshes its token. */
  | { kind: 'rls_error'; message: string | null }
  /** The table's RLS policies hid the row (`row: 'new'`) or the old row of a DELETE (`'old'`) from this context. */
  | { kind: 'rls_denied'; row: 'new' | 'old'; role: string; claimPaths: ClaimPaths | null | undefined }

/** How a channel that asked for positions went live: what it replayed from the log, or the gap it got. */
export interface CatchUp {
  code: ResumeCode
  /** The log position the replay started after (null: a resume from another epoch). */
  from: number | null
  /** The log position the channel went live at. */
  cursor: number
  /** Positions of the messages replayed to the channel. */
  replayed: readonly number[]
  reason?: GapReason
}

/** A client message the edge refused before it reached the hub. */
export type RefusedReason =
  | { kind: 'rate_limited'; limit: number }
  | { kind: 'payload_too_large'; bytes: number; limit: number }
  | { kind: 'not_authorized_write' }

export interface DeliveryTracer {
  /** A broadcast positioned at `position`, about to be fanned out to `subscribers` (hub). */
  broadcast(position: number, entry: Extract<LogMessage, { topicKey: string }>, subscribers: ReadonlySet<FanoutSubscriber> | undefined, except: FanoutSubscriber | undefined): void
  /** A change routed by the dispatcher: the subscribers whose bindings match it (null: nobody listens to its table). */
  changeRouted(change: Change, matches: ReadonlyMap<SubscriberEntry, readonly { id: number }[]> | null): void
  /** A matched subscriber that did not get the change's data, and why (dispatcher). */
  changeException(change: Change, entry: SubscriberEntry, exception: ChangeException): void
  /** The changes routed since the last call are delivered (their frames are queued). */
  changesDispatched(): void
  /** A channel that asked for positions went live (channel feed). `channel` is the channel's port. */
  caughtUp(channel: object, catchUp: CatchUp): void
  /** A client message refused at the edge (`channel` is the channel it came on). */
  refused(channel: object, message: InboundMessage, reason: RefusedReason): void
}

/** Where the delivery path finds the tracer: `current` is null whenever nobody traces. */
export interface TraceSlot {
  current: DeliveryTracer | null
}
