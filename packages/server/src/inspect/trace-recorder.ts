/**
 * A tenant's delivery trace: the DeliveryTracer the hub, the dispatcher and the channel feed call
 * while somebody traces (tenant-inspector.ts attaches and detaches it), keeping the last messages
 * in a bounded ring (trace-ring.ts).
 *
 * On the delivery path it only keeps references (the subscribers of a broadcast's topic, a flat
 * copy of the dispatcher's matched subscribers), the exceptions, a redacted preview of broadcast
 * payloads and two timestamps; verdicts are computed when the trace is read (verdicts.ts).
 * Latency: a message is "handed out" at fan-out (broadcasts) or routing (changes); the next
 * flush of the sockets (FlushScheduler.afterFlush → `flushed`) writes its frames, and its time
 * is the delivery time of every recipient whose socket was still writable.
 *
 * Also counts messages per topic (and per table) while tracing, for the channel list's rates,
 * and tells watchers (the live stream's "watch a topic") about each new message of their topic.
 */
import { ResumeCode, type InboundMessage } from '@switchboard/protocol'
import type { FanoutSubscriber } from '../broadcast/topic-registry.js'
import type { Change } from '../cdc/change.js'
import type { SubscriberEntry } from '../cdc/change-dispatcher.js'
import type { LogMessage } from '../hub/log-entry.js'
import type { CatchUp, ChangeException, DeliveryTracer, RefusedReason } from './delivery-tracer.js'
import { previewBytes, previewJson } from './payload-preview.js'
import { TraceRing } from './trace-ring.js'
import { flattenMatches, watchKeyOf, type Audience, type LaterVerdict, type TracedBroadcast, type TracedChange, type TracedMessage } from './traced-message.js'

export interface TraceBounds {
  /** Messages kept per tenant (default 500). */
  maxMessages: number
  /** Subscriber references kept over all of them (default 200,000): a message to many subscribers weighs more. */
  maxVerdicts: number
}

export const DEFAULT_TRACE_BOUNDS: Readonly<TraceBounds> = Object.freeze({ maxMessages: 500, maxVerdicts: 200_000 })

/** Messages waiting for a flush, at most: past it the oldest are timed by a later flush (never unbounded). */
const MAX_PENDING = 10_000
/** Later verdicts (replays, gaps) kept per message. */
const MAX_LATER = 1_000
/** Topics whose audience is cached, at most (past it the cache starts over). */
const MAX_AUDIENCES = 10_000

type Watcher = (message: TracedMessage) => void

/** The topic registry's change counter: a cached audience holds while it is unchanged. */
export interface Membership {
  readonly generation: number
}

export class TraceRecorder implements DeliveryTracer {
  readonly ring: TraceRing<TracedMessage>
  /** Messages traced per watch key (topic key, or `table:schema.table`) since the recorder was made. */
  readonly counts = new Map<string, number>()
  #nextId = 1
  #pending: TracedMessage[] = []
  /** Changes routed by the dispatcher whose batch is not delivered yet. */
  #routed: TracedChange[] = []
  readonly #watchers = new Map<string, Set<Watcher>>()
  readonly #membership: Membership
  readonly #audiences = new Map<string, { generation: number; audience: Audience }>()

  constructor(membership: Membership, bounds: TraceBounds = DEFAULT_TRACE_BOUNDS) {
    this.#membership = membership
    this.ring = new TraceRing(bounds.maxMessages, bounds.maxVerdicts)
  }

  // ─── hooks (delivery path) ──────────────────────────────────────────────────────────────

  broadcast(position: number, entry: Extract<LogMessage, { topicKey: string }>, subscribers: ReadonlySet<FanoutSubscriber> | undefined, except: FanoutSubscriber | undefined): void {
    const { audience, fresh } = this.#audience(entry.topicKey, subscribers)
    const sender = except !== undefined && subscribers?.has(except) ? except : null
    const json = entry.kind === 'broadcast-json'
    // Stored broadcasts (realtime.send, persist) come back from the database with `{"id": …}` metadata.
    const source = json ? 'broadcast-json' : entry.broadcast.metadataJson?.includes('"id"') ? 'stored' : 'broadcast-user'
    const message: TracedBroadcast = {
      kind: 'broadcast',
      id: this.#nextId++,
      position,
      topicKey: entry.topicKey,
      event: json ? String(entry.payload.event ?? '') : entry.broadcast.event,
      source,
      preview: json ? previewJson(entry.payload.payload) : previewBytes(entry.broadcast.payload, entry.broadcast.encoding),
      audience,
      sender,
      t0: performance.now(),
      flushedAt: null,
      later: null,
      // A shared audience is counted once, with the first message that holds it.
      weight: 1 + (fresh ? audience.subscribers.length : 0),
    }
    this.#add(message)
    if (audience.subscribers.length > 0) this.#awaitFlush(message)
  }

  /**
   * The topic's audience: the cached one while the registry's membership is unchanged, else a
   * new one (the registry's own test of read permission, topic-registry.ts #deliver: a channel
   * in the registry is joined, so only its broadcast-read permission can skip it).
   */
  #audience(key: string, subscribers: ReadonlySet<FanoutSubscriber> | undefined): { audience: Audience; fresh: boolean } {
    const generation = this.#membership.generation
    const cached = this.#audiences.get(key)
    if (cached && cached.generation === generation) return { audience: cached.audience, fresh: false }
    const list = subscribers ? [...subscribers] : []
    let unauthorized: Set<FanoutSubscriber> | null = null
    for (const s of list) if (!s.receivesBroadcast) (unauthorized ??= new Set()).add(s)
    const audience: Audience = { subscribers: list, unauthorized }
    if (this.#audiences.size >= MAX_AUDIENCES) this.#audiences.clear()
    this.#audiences.set(key, { generation, audience })
    return { audience, fresh: true }
  }

  changeRouted(change: Change, matches: ReadonlyMap<SubscriberEntry, readonly { id: number }[]> | null): void {
    const position = change.position.seq
    const retried = this.ring.indexedAt(position)
    if (retried?.kind === 'change' && retried.change === change) {
      // A failed batch is dispatched again: the retry's outcome replaces the first attempt's.
      retried.matches = matches && flattenMatches(matches)
      retried.exceptions = null
      retried.t0 = performance.now()
      retried.flushedAt = null
      this.#routed.push(retried)
      return
    }
    const message: TracedChange = {
      kind: 'change',
      id: this.#nextId++,
      position,
      change,
      table: `${change.schema}.${change.table}`,
      matches: matches && flattenMatches(matches),
      exceptions: null,
      t0: performance.now(),
      flushedAt: null,
      later: null,
      weight: 1 + (matches?.size ?? 0),
    }
    this.#add(message, true)
    if (matches !== null && matches.size > 0) this.#routed.push(message)
  }

  changeException(change: Change, entry: SubscriberEntry, exception: ChangeException): void {
    const message = this.ring.indexedAt(change.position.seq)
    if (message?.kind !== 'change') return // evicted by a batch larger than the ring
    ;(message.exceptions ??= new Map()).set(entry, exception)
  }

  changesDispatched(): void {
    for (const message of this.#routed) this.#awaitFlush(message)
    this.#routed = []
  }

  caughtUp(channel: object, catchUp: CatchUp): void {
    if (catchUp.replayed.length > 0) {
      const wanted = new Set(catchUp.replayed)
      for (const message of this.ring.newestFirst()) {
        if (message.position !== null && wanted.has(message.position)) this.#addLater(message, { kind: 'replayed', channel, code: catchUp.code })
      }
    }
    if (catchUp.code !== ResumeCode.gap) return
    // Every traced message of the channel's topic (or tables) in the range it could not replay.
    const covers = relevance(channel)
    for (const message of this.ring.newestFirst()) {
      if (message.position === null || message.position > catchUp.cursor) continue
      if (catchUp.from !== null && message.position <= catchUp.from) break
      if (covers(message)) this.#addLater(message, { kind: 'gap', channel, reason: catchUp.reason })
    }
  }

  refused(channel: object, message: InboundMessage, reason: RefusedReason): void {
    const port = channel as { topicKey?: string }
    const payload = message.payload as { event?: unknown; payload?: unknown } | null
    const broadcast = message.userBroadcast
    this.#add({
      kind: 'refused',
      id: this.#nextId++,
      position: null,
      topicKey: port.topicKey ?? message.topic,
      event: broadcast ? broadcast.event : typeof payload?.event === 'string' ? payload.event : message.event,
      preview: broadcast ? previewBytes(broadcast.payload, broadcast.encoding) : previewJson(payload?.payload ?? payload),
      channel,
      reason,
      t0: performance.now(),
      flushedAt: null,
      later: null,
      weight: 1,
    })
  }

  /** The sockets were flushed (FlushScheduler.afterFlush): what was handed out before is written. */
  flushed(): void {
    if (this.#pending.length === 0) return
    const now = performance.now()
    for (const message of this.#pending) message.flushedAt ??= now
    this.#pending = []
  }

  // ─── reading ────────────────────────────────────────────────────────────────────────────

  /** Calls `watcher` with each new message of `key` (a topic key, or `table:schema.table`). Returns the unsubscribe. */
  watch(key: string, watcher: Watcher): () => void {
    let set = this.#watchers.get(key)
    if (!set) this.#watchers.set(key, (set = new Set()))
    set.add(watcher)
    return () => {
      set.delete(watcher)
      if (set.size === 0 && this.#watchers.get(key) === set) this.#watchers.delete(key)
    }
  }

  // ─── internals ──────────────────────────────────────────────────────────────────────────

  #add(message: TracedMessage, indexed = false): void {
    this.ring.push(message, indexed)
    const key = watchKeyOf(message)
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
    if (this.#watchers.size !== 0) for (const watcher of this.#watchers.get(key) ?? []) watcher(message)
  }

  #awaitFlush(message: TracedMessage): void {
    if (this.#pending.length >= MAX_PENDING) this.#pending.shift()
    this.#pending.push(message)
  }

  #addLater(message: TracedMessage, verdict: LaterVerdict): void {
    const later = (message.later ??= [])
    if (later.length >= MAX_LATER) return
    later.push(verdict)
    if (this.ring.get(message.id) === message) this.ring.grow(message, 1)
  }
}

/** Which traced messages a channel would have received: its topic's broadcasts, and changes of the tables it binds. */
function relevance(channel: object): (message: TracedMessage) => boolean {
  const port = channel as { topicKey?: string; config?: { postgresChanges?: readonly { schema?: unknown; table?: unknown }[] } }
  const tables = (port.config?.postgresChanges ?? []).map((b) => ({ schema: String(b.schema ?? 'public'), table: String(b.table ?? '*') }))
  return (message) => {
    if (message.kind !== 'change') return message.kind === 'broadcast' && message.topicKey === port.topicKey
    return tables.some((t) => (t.schema === '*' || t.schema === message.change.schema) && (t.table === '*' || t.table === message.change.table))
  }
}
