/**
 * The one delivery path of a tenant. Everything the tenant delivers (client and REST
 * broadcasts, database broadcasts, Postgres changes) is appended to its ordered log first and
 * takes its position from the log; then it reaches the topic's subscribers on this node and,
 * through the cluster adapter, on other nodes.
 *
 * A subscriber is a cursor: it is registered *at* a position (the log's last position when it
 * registered, synchronously), receives everything after it that it matches and may see, and
 * resuming is replaying the log from an earlier position before going live. Because a position
 * is assigned before anything is routed, "registered at P" and "appended after P" cannot race:
 *
 *   broadcast ──append(seq)──▶ fan-out now (subscribers registered before it)
 *   changes   ──append(seqs)─▶ route ─▶ RLS ─▶ deliver to entries whose cursor < seq
 *
 * Changes are positioned when they arrive but delivered after their RLS check, so a broadcast
 * can be positioned after a change that is still being checked. A channel that receives both
 * holds such broadcasts until the changes before them are delivered (`changesPendingBefore`),
 * so every channel sees its messages in position order.
 */
import { formatStreamPoint, type UserBroadcast } from '@switchboard/protocol'
import type { Change } from '../cdc/change.js'
import type { DatabaseBroadcast } from '../cdc/database-broadcast.js'
import type { Clock } from '../clock.js'
import type { ClusterAdapter, ClusterMessage } from '../cluster/cluster-adapter.js'
import type { TraceSlot } from '../inspect/delivery-tracer.js'
import type { Logger } from '../logger.js'
import { TopicRegistry, type FanoutSubscriber } from '../broadcast/topic-registry.js'
import { PresenceRegistry } from '../presence/presence-registry.js'
import type { PresenceDiff } from '../presence/presence-topic.js'
import { DeliveryLog, type LogLimits } from './delivery-log.js'
import type { LogMessage } from './log-entry.js'
import { NO_TOPIC_MARKS, type TopicMarks } from './topic-marks.js'

/** The first ephemeral broadcast of a topic waits at most this long for its mark to be recorded. */
const MARK_WAIT_MS = 1_000
/** Topics remembered as marked; past it the memory is cleared (a re-mark is one idempotent insert). */
const MAX_MARKED_TOPICS = 100_000

/**
 * Who sent a broadcast whose sender must not receive it (`self: false`): its channel, skipped
 * in live fan-out, and its resume session, skipped when that session replays the log.
 */
export interface BroadcastSender {
  exclude: FanoutSubscriber
  session: string | null
}

/** A subscriber that holds frames until the changes positioned before them are delivered. */
export interface OrderedSubscriber {
  releaseHeld(): void
}

export interface TenantHubOptions {
  limits: LogLimits
  clock: Clock
  logger: Logger
  cluster: ClusterAdapter
  /** Where the topics with ephemeral broadcasts of each epoch are recorded (default: nowhere). */
  marks?: TopicMarks
}

/** What the Postgres Changes engine writes into the hub (cdc/postgres-changes-service.ts). */
export interface ChangeLogPort {
  readonly evictedThrough: number
  readonly lastSeq: number
  /**
   * Positions the items of committed transactions, in commit order. `historical` items were
   * re-read from the slot after a restart: logged for resuming channels, never delivered live.
   */
  appendChanges(items: readonly (Change | DatabaseBroadcast)[], historical: boolean): void
  /** The smallest position of a change not yet delivered (Infinity: none). */
  setPendingChangesFrom(position: number): void
  /** Delivers a database broadcast appended by `appendChanges`. */
  deliverDatabaseBroadcast(message: DatabaseBroadcast): void
  /**
   * The slot's backlog has been read (the startup marker came through): the log is whole from
   * `floorPoint` on (a resume from before it may have lost changes).
   */
  markRebuilt(floorPoint: string | null): void
  /** The change stream starts at `point`: messages before any change are positioned there. */
  startAt(point: string): void
}

export class TenantHub implements ChangeLogPort {
  readonly topics = new TopicRegistry()
  readonly presence = new PresenceRegistry<FanoutSubscriber>()
  readonly log: DeliveryLog<LogMessage>
  readonly #cluster: ClusterAdapter
  readonly #logger: Logger
  #pendingFrom = Infinity
  readonly #holding = new Set<OrderedSubscriber>()
  /** Persisted broadcasts in flight, by message id: their sender is excluded when they come back. */
  readonly #persistedBy = new Map<string, BroadcastSender>()
  /** Database broadcasts appended and not yet delivered, with their entry (weak: gone with the batch). */
  readonly #databaseBroadcasts = new WeakMap<DatabaseBroadcast, ReturnType<typeof databaseBroadcastEntry>>()
  #rebuilt = false
  #rebuiltWaiters: (() => void)[] = []
  readonly marks: TopicMarks
  readonly #clock: Clock
  /** Topics whose ephemeral broadcasts this epoch are recorded (true), or the broadcasts waiting for it. */
  readonly #topicMarks = new Map<string, true | (() => void)[]>()
  /** The inspector's tracer while somebody traces deliveries (inspect/delivery-tracer.ts); empty otherwise. */
  readonly tracing: TraceSlot = { current: null }

  constructor(options: TenantHubOptions) {
    this.log = new DeliveryLog<LogMessage>(options.limits, options.clock)
    this.#cluster = options.cluster
    this.#logger = options.logger
    this.#clock = options.clock
    this.marks = options.marks ?? NO_TOPIC_MARKS
  }

  async start(): Promise<void> {
    await this.#cluster.start((message) => this.#fromCluster(message))
  }

  async stop(): Promise<void> {
    await this.#cluster.stop()
    this.markRebuilt(null) // nobody waits past the end
  }

  get evictedThrough(): number {
    return this.log.evictedThrough
  }

  get lastSeq(): number {
    return this.log.lastSeq
  }

  // ─── broadcasts ─────────────────────────────────────────────────────────────────────────

  /** A JSON-object broadcast to a topic: logged, delivered here and on other nodes. */
  publishJson(topicKey: string, topic: string, payload: Record<string, unknown>, sender?: BroadcastSender): void {
    this.#whenMarked(topicKey, () => this.#deliverJson(topicKey, topic, payload, sender))
    this.#cluster.publish({ type: 'broadcast-json', topicKey, payload })
  }

  /** A user (bytes) broadcast to a topic: logged, delivered here and on other nodes. */
  publishUser(topicKey: string, topic: string, broadcast: UserBroadcast, sender?: BroadcastSender): void {
    this.#whenMarked(topicKey, () => this.#deliverUser(topicKey, topic, broadcast, sender))
    this.#cluster.publish({ type: 'broadcast-user', topicKey, broadcast })
  }

  /**
   * Runs `deliver` once the topic is recorded as having ephemeral broadcasts in this epoch
   * (topic-marks.ts): at once after the first time; the first broadcast of a topic, and those
   * behind it, wait for the record (in order), at most MARK_WAIT_MS.
   */
  #whenMarked(topicKey: string, deliver: () => void): void {
    const state = this.#topicMarks.get(topicKey)
    if (state === true) return deliver()
    if (state) {
      state.push(deliver)
      return
    }
    if (this.#topicMarks.size >= MAX_MARKED_TOPICS) {
      for (const [key, value] of this.#topicMarks) if (value === true) this.#topicMarks.delete(key)
    }
    const waiting: (() => void)[] = [deliver]
    this.#topicMarks.set(topicKey, waiting)
    let flushed = false
    const flush = () => {
      if (flushed) return
      flushed = true
      this.#topicMarks.set(topicKey, true)
      for (const run of waiting) run()
    }
    const timer = this.#clock.setTimeout(() => {
      this.#logger.warn({ topic: topicKey }, 'hub: recording the topic mark is slow; delivering without it')
      flush()
    }, MARK_WAIT_MS)
    this.marks.mark(this.log.epoch, topicKey).then(
      () => { this.#clock.clearTimeout(timer); flush() },
      (error: unknown) => {
        this.#clock.clearTimeout(timer)
        this.#logger.warn({ err: error, topic: topicKey }, 'hub: could not record the topic mark; delivering without it')
        flush()
      },
    )
  }

  publishPresenceDiff(topicKey: string, topic: string, diff: PresenceDiff): void {
    this.topics.presenceDiff(topicKey, topic, diff)
    this.#cluster.publish({ type: 'presence-diff', topicKey, diff })
  }

  /** A broadcast about to be persisted: when it comes back from the stream, skip its sender. */
  expectPersisted(id: string, sender: BroadcastSender | undefined): void {
    if (sender) this.#persistedBy.set(id, sender)
  }

  forgetPersisted(id: string): void {
    this.#persistedBy.delete(id)
  }

  #deliverJson(topicKey: string, topic: string, payload: Record<string, unknown>, sender?: BroadcastSender): void {
    // JSON-object broadcasts come from vsn 1.0.0 clients and REST (kind-3 bytes are the hot
    // path), so measuring their size for the log's byte bound by stringifying is affordable.
    const bytes = JSON.stringify(payload).length
    const entry = { kind: 'broadcast-json', topicKey, topic, payload, senderSession: sender?.session ?? null } as const
    const position = this.log.append(entry, bytes)
    this.tracing.current?.broadcast(position, entry, this.topics.subscribers(topicKey), sender?.exclude)
    this.topics.broadcastJson(topicKey, topic, payload, { position, point: this.log.headPoint }, sender?.exclude)
  }

  #deliverUser(topicKey: string, topic: string, broadcast: UserBroadcast, sender?: BroadcastSender): void {
    const entry = { kind: 'broadcast-user', topicKey, topic, broadcast, senderSession: sender?.session ?? null } as const
    const position = this.log.append(entry, broadcast.payload.length + 128)
    this.tracing.current?.broadcast(position, entry, this.topics.subscribers(topicKey), sender?.exclude)
    this.topics.broadcastUser(topicKey, topic, broadcast, { position, point: this.log.headPoint }, sender?.exclude)
  }

  // ─── the change stream (ChangeLogPort) ──────────────────────────────────────────────────

  appendChanges(items: readonly (Change | DatabaseBroadcast)[], historical: boolean): void {
    for (const item of items) {
      const point = formatStreamPoint(item.position.lsn, item.position.index)
      if ('relation' in item) {
        item.position.seq = this.log.append({ kind: 'change', change: item }, item.byteSize + 128, point, historical)
        if (!historical && item.position.seq < this.#pendingFrom) this.#pendingFrom = item.position.seq
      } else {
        const sender = this.#persistedBy.get(item.id)
        const entry = databaseBroadcastEntry(item)
        const { topicKey, topic, broadcast } = entry
        // Built once: `deliverDatabaseBroadcast` sends the same entry when the run reaches it.
        if (!historical) this.#databaseBroadcasts.set(item, entry)
        item.position.seq = this.log.append({ kind: 'broadcast-user', topicKey, topic, broadcast, senderSession: sender?.session ?? null }, broadcast.payload.length + 128, point, historical)
        if (historical) this.#persistedBy.delete(item.id)
      }
    }
  }

  setPendingChangesFrom(position: number): void {
    this.#pendingFrom = position
    if (this.#holding.size === 0) return
    const holding = [...this.#holding]
    this.#holding.clear()
    for (const subscriber of holding) subscriber.releaseHeld()
  }

  /** True when a change positioned before `position` has not been delivered yet. */
  changesPendingBefore(position: number): boolean {
    return this.#pendingFrom < position
  }

  /** `subscriber` holds frames until the pending changes are delivered. */
  waitForChanges(subscriber: OrderedSubscriber): void {
    this.#holding.add(subscriber)
  }

  deliverDatabaseBroadcast(message: DatabaseBroadcast): void {
    const sender = this.#persistedBy.get(message.id)
    this.#persistedBy.delete(message.id)
    const { topicKey, topic, broadcast } = this.#databaseBroadcasts.get(message) ?? databaseBroadcastEntry(message)
    const mark = { position: message.position.seq, point: formatStreamPoint(message.position.lsn, message.position.index) }
    this.tracing.current?.broadcast(mark.position, { kind: 'broadcast-user', topicKey, topic, broadcast, senderSession: null }, this.topics.subscribers(topicKey), sender?.exclude)
    this.topics.broadcastUser(topicKey, topic, broadcast, mark, sender?.exclude)
    // Other nodes read the same stream: nothing to publish.
  }

  // ─── rebuild after a restart ────────────────────────────────────────────────────────────

  startAt(point: string): void {
    this.log.raiseHead(point)
  }

  markRebuilt(floorPoint: string | null): void {
    if (this.#rebuilt) return
    this.#rebuilt = true
    if (floorPoint !== null) this.log.setFloor(floorPoint)
    this.#logger.debug({ entries: this.log.size }, 'hub: log rebuilt from the replication slot')
    const waiters = this.#rebuiltWaiters
    this.#rebuiltWaiters = []
    for (const wake of waiters) wake()
  }

  /** Resolves once the log holds the slot's backlog (at once without Postgres Changes). */
  whenRebuilt(): Promise<void> {
    if (this.#rebuilt) return Promise.resolve()
    return new Promise((resolve) => this.#rebuiltWaiters.push(resolve))
  }

  get rebuilt(): boolean {
    return this.#rebuilt
  }

  #fromCluster(message: ClusterMessage): void {
    const topic = `realtime:${message.topicKey.slice(message.topicKey.indexOf(':') + 1)}`
    switch (message.type) {
      case 'broadcast-json':
        this.#deliverJson(message.topicKey, topic, message.payload)
        break
      case 'broadcast-user':
        this.#deliverUser(message.topicKey, topic, message.broadcast)
        break
      case 'presence-diff':
        this.topics.presenceDiff(message.topicKey, topic, message.diff)
        break
    }
  }
}

/**
 * A `realtime.send` / `broadcast_changes` row as a user broadcast on its topic with `meta.id`
 * (§3.6). Private topics reach only channels whose broadcast-read was authorized at join,
 * which the topic registry enforces.
 */
function databaseBroadcastEntry(message: DatabaseBroadcast): { topicKey: string; topic: string; broadcast: UserBroadcast } {
  const binary = message.payloadJson === null && message.binaryPayload !== null
  const payload = binary ? message.binaryPayload! : new TextEncoder().encode(message.payloadJson ?? '{}')
  return {
    topicKey: `${message.private ? 'private' : 'public'}:${message.topic}`,
    topic: `realtime:${message.topic}`,
    broadcast: { event: message.event, encoding: binary ? 'binary' : 'json', payload, metadataJson: JSON.stringify({ id: message.id }) },
  }
}
