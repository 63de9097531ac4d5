/**
 * What the trace keeps per message: references and a few numbers, taken on the delivery path
 * (trace-recorder.ts); the verdicts are worked out from them when somebody asks
 * (verdicts.ts).
 *
 *   broadcast  the subscribers of its topic at fan-out, and the few that were skipped and why
 *   change     the subscribers its bindings matched (two flat arrays copied from the dispatcher's
 *              map), and the few of those that got no data and why; who did not match is
 *              explained at query time
 *   refused    a client message the edge refused (rate limit, size, write permission)
 *
 * Later verdicts (a channel that replayed the message after a resume, or whose resume ended in a
 * gap covering it) are appended as they happen.
 */
import type { FanoutSubscriber } from '../broadcast/topic-registry.js'
import type { Change } from '../cdc/change.js'
import type { SubscriberEntry } from '../cdc/change-dispatcher.js'
import type { GapReason, ResumeCode } from '@switchboard/protocol'
import type { ChangeException, RefusedReason } from './delivery-tracer.js'
import type { RingItem } from './trace-ring.js'

/**
 * The subscribers of a topic at fan-out, and those of them the fan-out skips for want of read
 * permission (private channels). One audience is shared by every message of the topic while its
 * membership is unchanged, so tracing a broadcast copies nothing per subscriber.
 */
export interface Audience {
  readonly subscribers: readonly FanoutSubscriber[]
  readonly unauthorized: ReadonlySet<FanoutSubscriber> | null
}

/**
 * The subscribers a change's bindings matched and the ids of the bindings that matched, by
 * index (a number for the usual one binding, an array for several). Kept flat because the ring
 * holds hundreds of changes: the dispatcher's own map (a small array per subscriber, a thousand
 * per change at the benchmark's load) kept that long made the old generation's collector, not
 * the trace's code, the main cost of tracing changes.
 */
export interface MatchedSubscribers {
  readonly entries: readonly SubscriberEntry[]
  readonly bindingIds: readonly (number | readonly number[])[]
}

/** Copies the dispatcher's map of matched subscribers into the trace's flat form. */
export function flattenMatches(matches: ReadonlyMap<SubscriberEntry, readonly { id: number }[]>): MatchedSubscribers {
  const entries: SubscriberEntry[] = new Array(matches.size)
  const bindingIds: (number | number[])[] = new Array(matches.size)
  let i = 0
  for (const [entry, bindings] of matches) {
    entries[i] = entry
    bindingIds[i++] = bindings.length === 1 ? bindings[0]!.id : bindings.map((b) => b.id)
  }
  return { entries, bindingIds }
}

/** A verdict that came after the message's own delivery (a resume). `channel` is the channel (port) that resumed. */
export type LaterVerdict =
  | { kind: 'replayed'; channel: object; code: ResumeCode }
  | { kind: 'gap'; channel: object; reason: GapReason | undefined }

interface Base extends RingItem {
  /** `performance.now()` when the hub handed it out (broadcasts) or the dispatcher routed it (changes). */
  t0: number
  /** `performance.now()` of the first socket flush after it was handed out (null: not flushed yet). */
  flushedAt: number | null
  later: LaterVerdict[] | null
}

export interface TracedBroadcast extends Base {
  readonly kind: 'broadcast'
  readonly position: number
  readonly topicKey: string
  readonly event: string
  /** `broadcast-json` (vsn 1.0.0, REST batch), `broadcast-user` (kind-3 bytes, single REST event), or `stored` (realtime.send, persist). */
  readonly source: 'broadcast-json' | 'broadcast-user' | 'stored'
  readonly preview: string
  readonly audience: Audience
  /** The sender, skipped by the fan-out (`broadcast.self` off), when it was in the audience. */
  readonly sender: FanoutSubscriber | null
}

export interface TracedChange extends Base {
  readonly kind: 'change'
  position: number
  readonly change: Change
  /** `schema.table`. */
  readonly table: string
  matches: MatchedSubscribers | null
  exceptions: Map<SubscriberEntry, ChangeException> | null
}

export interface TracedRefusal extends Base {
  readonly kind: 'refused'
  readonly position: null
  readonly topicKey: string
  readonly event: string
  readonly preview: string
  /** The channel (port) the client message came on. */
  readonly channel: object
  readonly reason: RefusedReason
}

export type TracedMessage = TracedBroadcast | TracedChange | TracedRefusal

/** When the message was traced, in ms since the epoch. */
export function wallTime(message: TracedMessage): number {
  return performance.timeOrigin + message.t0
}

/** Subscribers a broadcast was handed to, and how many of them the fan-out skipped. */
export function broadcastCounts(message: TracedBroadcast): { recipients: number; skipped: number } {
  return { recipients: message.audience.subscribers.length, skipped: (message.audience.unauthorized?.size ?? 0) + (message.sender ? 1 : 0) }
}

/** The key a message is counted and watched under: the topic key, or `table:schema.table` for changes. */
export function watchKeyOf(message: TracedMessage): string {
  return message.kind === 'change' ? `table:${message.table}` : message.topicKey
}
