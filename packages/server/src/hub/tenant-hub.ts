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
import type { ClusterAdapter, ClusterSink, RemotePresences, SharedRead } from '../cluster/cluster-adapter.js'
import type { SharedMessage } from '../cluster/shared-message.js'
import type { SharedChanges } from '../cdc/postgres-changes-service.js'
import type { TraceSlot } from '../inspect/delivery-tracer.js'
import type { Logger } from '../logger.js'
import { TopicRegistry, type FanoutSubscriber } from '../broadcast/topic-registry.js'
import { PresenceRegistry } from '../presence/presence-registry.js'
import type { PresenceDiff, PresenceGroup } from '../presence/presence-topic.js'
import { DeliveryLog, type LogEntry, type LogLimits, type SinceResult } from './delivery-log.js'
import type { LogMessage } from './log-entry.js'
import { NO_TOPIC_MARKS, type TopicMarks } from './topic-marks.js'
import { ReplayFrames } from './replay-frames.js'

/** The first ephemeral broadcast of a topic waits at most this long for its mark to be recorded. */
const MARK_WAIT_MS = 1_000
/** Topics remembered as marked; past it the memory is cleared (a re-mark is one idempotent insert). */
const MAX_MARKED_TOPICS = 100_000
/** A cluster node keeps receiving a topic this long after its last channel left (quick rejoins stay cheap). */
const RELEASE_AFTER_MS = 10_000
/** Own broadcasts awaiting their return from the shared log (for `self: false`); past it the oldest are forgotten. */
const MAX_SENT_IN_FLIGHT = 100_000

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
  /** In a cluster: items of a run from the shared log, positioned there (`position.seq` set). */
  appendSharedChanges(items: readonly (Change | DatabaseBroadcast)[]): void
  /**
   * In a cluster: runs of changes from the shared log go to `onRun`; `decode` turns a run read
   * back from the shared log (a resume) into its positioned items.
   */
  receiveRuns(onRun: (seq: number, batch: Uint8Array) => void, decode: (batch: Uint8Array, seq: number) => (Change | DatabaseBroadcast)[]): void
}

/** In a cluster, where this node's copy of the log is whole for a topic. */
interface HostedTopic {
  /** Resolves once the node receives the topic (null: done). */
  ready: Promise<void> | null
  /** Every message of the topic after this position is in the local log. */
  coveredAfter: number
  presences: RemotePresences
  releaseTimer: ReturnType<Clock['setTimeout']> | null
}

export class TenantHub implements ChangeLogPort, ClusterSink {
  readonly topics = new TopicRegistry()
  readonly presence = new PresenceRegistry<FanoutSubscriber>()
  #log: DeliveryLog<LogMessage>
  readonly #limits: LogLimits
  readonly #cluster: ClusterAdapter
  /** Positions come from the cluster's shared log (cluster/cluster-adapter.ts). */
  readonly shared: boolean
  readonly #hosted = new Map<string, HostedTopic>()
  /** Own broadcasts sent to the shared log, by origin id: the channel to skip when they return. */
  readonly #sentBy = new Map<string, FanoutSubscriber>()
  readonly #originPrefix = `${Math.random().toString(36).slice(2, 10)}:`
  #originCounter = 0
  /** Every run of changes after this position is in the local log (a cluster node). */
  #changesCoveredAfter = 0
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
  /** Broadcast frames of log entries for replays, shared by the channels that replay them. */
  readonly replayFrames = new ReplayFrames()

  constructor(options: TenantHubOptions) {
    this.#limits = options.limits
    this.#log = new DeliveryLog<LogMessage>(options.limits, options.clock)
    this.#cluster = options.cluster
    this.shared = options.cluster.shared
    this.#logger = options.logger
    this.#clock = options.clock
    this.marks = options.marks ?? NO_TOPIC_MARKS
  }

  /** The tenant's log (on a cluster node: its copy of the topics it hosts, positioned by the shared log). */
  get log(): DeliveryLog<LogMessage> {
    return this.#log
  }

  async start(): Promise<void> {
    const epoch = await this.#cluster.start(this)
    if (epoch !== null) this.#log = new DeliveryLog<LogMessage>(this.#limits, this.#clock, epoch)
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

  /**
   * A JSON-object broadcast to a topic: logged, delivered here and on other nodes. In a cluster
   * it returns the append to the shared log, which an acknowledgement (REST 202, `ack`) waits
   * for: then a sender's next message, through whichever node, is positioned after it.
   */
  publishJson(topicKey: string, topic: string, payload: Record<string, unknown>, sender?: BroadcastSender): Promise<void> | null {
    if (this.shared) return this.#cluster.append({ kind: 'broadcast-json', origin: this.#origin(sender), topicKey, payload, senderSession: sender?.session ?? null })
    this.#whenMarked(topicKey, () => this.#deliverJson(topicKey, topic, payload, sender))
    return null
  }

  /** A user (bytes) broadcast to a topic: logged, delivered here and on other nodes (see `publishJson`). */
  publishUser(topicKey: string, topic: string, broadcast: UserBroadcast, sender?: BroadcastSender): Promise<void> | null {
    if (this.shared) return this.#cluster.append({ kind: 'broadcast-user', origin: this.#origin(sender), topicKey, broadcast, senderSession: sender?.session ?? null })
    this.#whenMarked(topicKey, () => this.#deliverUser(topicKey, topic, broadcast, sender))
    return null
  }

  /** The id of an own broadcast in the shared log; the sending channel is skipped when it returns. */
  #origin(sender: BroadcastSender | undefined): string {
    const origin = this.#originPrefix + (++this.#originCounter).toString(36)
    if (sender) {
      if (this.#sentBy.size >= MAX_SENT_IN_FLIGHT) this.#sentBy.delete(this.#sentBy.keys().next().value!)
      this.#sentBy.set(origin, sender.exclude)
    }
    return origin
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
    if (this.shared) this.#cluster.publishPresence(topicKey, diff)
  }

  /** `presence_state` of a topic: this node's presences and, in a cluster, the other nodes'. */
  presenceState(topicKey: string): PresenceGroup {
    const state = this.presence.state(topicKey)
    const remote = this.#hosted.get(topicKey)?.presences
    if (remote) {
      for (const refs of remote.values()) {
        for (const { key, meta } of refs.values()) (state[key] ??= { metas: [] }).metas.push(meta)
      }
    }
    return state
  }

  /** A broadcast about to be persisted: when it comes back from the stream, skip its sender. */
  expectPersisted(id: string, sender: BroadcastSender | undefined): void {
    if (sender) this.#persistedBy.set(id, sender)
  }

  forgetPersisted(id: string): void {
    this.#persistedBy.delete(id)
  }

  /** Appends to the log (at `at` when the shared log positioned it) and delivers to this node's subscribers. */
  #deliverJson(topicKey: string, topic: string, payload: Record<string, unknown>, sender: BroadcastSender | undefined, senderSession = sender?.session ?? null, at?: number): void {
    // JSON-object broadcasts come from vsn 1.0.0 clients and REST (kind-3 bytes are the hot
    // path), so measuring their size for the log's byte bound by stringifying is affordable.
    const bytes = JSON.stringify(payload).length
    const entry = { kind: 'broadcast-json', topicKey, topic, payload, senderSession } as const
    const position = at === undefined ? this.log.append(entry, bytes) : (this.log.appendAt(at, entry, bytes), at)
    this.tracing.current?.broadcast(position, entry, this.topics.subscribers(topicKey), sender?.exclude)
    this.topics.broadcastJson(topicKey, topic, payload, { position, point: this.log.headPoint }, sender?.exclude)
  }

  #deliverUser(topicKey: string, topic: string, broadcast: UserBroadcast, sender: BroadcastSender | undefined, senderSession = sender?.session ?? null, at?: number): void {
    const entry = { kind: 'broadcast-user', topicKey, topic, broadcast, senderSession } as const
    const bytes = broadcast.payload.length + 128
    const position = at === undefined ? this.log.append(entry, bytes) : (this.log.appendAt(at, entry, bytes), at)
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

  appendSharedChanges(items: readonly (Change | DatabaseBroadcast)[]): void {
    for (const item of items) {
      const seq = item.position.seq
      if (seq <= this.#log.lastSeq) continue // before this node received changes: in the shared log
      const point = formatStreamPoint(item.position.lsn, item.position.index)
      if ('relation' in item) {
        this.#log.appendAt(seq, { kind: 'change', change: item }, item.byteSize + 128, point)
        if (seq < this.#pendingFrom) this.#pendingFrom = seq
      } else {
        const sender = this.#persistedBy.get(item.id)
        const entry = databaseBroadcastEntry(item)
        this.#databaseBroadcasts.set(item, entry)
        this.#log.appendAt(seq, { kind: 'broadcast-user', topicKey: entry.topicKey, topic: entry.topic, broadcast: entry.broadcast, senderSession: sender?.session ?? null }, entry.broadcast.payload.length + 128, point)
      }
    }
  }

  receiveRuns(onRun: (seq: number, batch: Uint8Array) => void, decode: (batch: Uint8Array, seq: number) => (Change | DatabaseBroadcast)[]): void {
    this.onSharedChanges = (seq, message) => onRun(seq, message.batch)
    this.#decodeRun = decode
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

  // ─── the cluster (ClusterSink; cluster/cluster-adapter.ts) ─────────────────────────────────

  /**
   * Makes sure this node receives `topicKey` before a channel registers on it: null when it
   * already does (or runs alone), else a promise that resolves once every later message of the
   * topic reaches this node and the earlier ones are in the shared log.
   */
  hostTopic(topicKey: string): Promise<void> | null {
    if (!this.shared) return null
    const hosted = this.#hosted.get(topicKey)
    if (hosted) {
      if (hosted.releaseTimer) {
        this.#clock.clearTimeout(hosted.releaseTimer)
        hosted.releaseTimer = null
      }
      return hosted.ready
    }
    const entry: HostedTopic = { ready: null, coveredAfter: Infinity, presences: new Map(), releaseTimer: null }
    entry.ready = this.#cluster.host(topicKey).then(
      ({ position, presences }) => {
        this.#log.advanceTo(position)
        entry.coveredAfter = position
        entry.presences = presences
        entry.ready = null
      },
      (error: unknown) => {
        this.#hosted.delete(topicKey)
        throw error
      },
    )
    this.#hosted.set(topicKey, entry)
    return entry.ready
  }

  /** Messages this node could not append to the shared log (Redis away): lost, and reported as such. */
  get failedAppends(): number {
    return this.#cluster.failedAppends
  }

  /** Starts receiving runs of Postgres changes (a cluster node); resolves with the position they arrive after. */
  async hostChanges(): Promise<number> {
    const position = await this.#cluster.hostChanges()
    this.#log.advanceTo(position)
    this.#changesCoveredAfter = position
    return position
  }

  /** The tenant's Postgres Changes slot reader in a cluster (null: this node reads the slot itself). */
  slotReader(): SharedChanges | null {
    return this.#cluster.slotReader(() => this.hostChanges(), this.#clock)
  }

  /** A channel left `topicKey`: with no channel left, the node stops receiving it after a while. */
  topicLeft(topicKey: string): void {
    const hosted = this.#hosted.get(topicKey)
    if (!hosted || hosted.releaseTimer || this.topics.subscriberCount(topicKey) > 0) return
    hosted.releaseTimer = this.#clock.setTimeout(() => {
      hosted.releaseTimer = null
      if (this.topics.subscriberCount(topicKey) > 0 || this.#hosted.get(topicKey) !== hosted) return
      this.#hosted.delete(topicKey)
      this.#cluster.release(topicKey)
    }, RELEASE_AFTER_MS)
  }

  /**
   * What a channel on `topicKey` replays after `position` up to the log's last position: the
   * local log where it is whole for the topic, the shared log before that (a cluster node that
   * started receiving the topic later than the channel's position).
   */
  async readSince(epoch: string, position: number, topicKey: string): Promise<SinceResult<LogMessage>> {
    const log = this.#log
    const hosted = this.#hosted.get(topicKey)
    if (!this.shared || !hosted || epoch !== log.epoch) return log.since(epoch, position)
    if (position > log.lastSeq) return { ok: false, reason: 'future' }
    const covered = Math.max(hosted.coveredAfter, this.#changesCoveredAfter)
    const localFrom = Math.max(position, Math.min(covered, log.lastSeq), log.evictedThrough)
    const local = log.since(epoch, localFrom)
    if (!local.ok || localFrom === position) return local
    const remote = await this.#cluster.read(position, localFrom)
    if (!remote.ok) return { ok: false, reason: remote.reason === 'epoch' ? 'epoch' : 'evicted' }
    const older = this.#sharedEntries(remote).filter((entry) => entry.seq > position && entry.seq <= localFrom)
    return { ...local, entries: [...older, ...local.entries] }
  }

  /** Shared-log entries as local log entries (broadcasts; changes when the engine decodes them). */
  #sharedEntries(read: Extract<SharedRead, { ok: true }>): LogEntry<LogMessage>[] {
    const now = this.#clock.now()
    const point = this.#log.headPoint
    const out: LogEntry<LogMessage>[] = []
    for (const { seq, message } of read.entries) {
      if (message.kind === 'changes') {
        for (const item of this.#decodeRun?.(message.batch, seq) ?? []) {
          const at = formatStreamPoint(item.position.lsn, item.position.index)
          if ('relation' in item) {
            out.push({ seq: item.position.seq, at: now, bytes: 0, point: at, historical: false, value: { kind: 'change', change: item } })
          } else {
            const { topicKey, topic, broadcast } = databaseBroadcastEntry(item)
            out.push({ seq: item.position.seq, at: now, bytes: 0, point: at, historical: false, value: { kind: 'broadcast-user', topicKey, topic, broadcast, senderSession: null } })
          }
        }
        continue
      }
      const topic = wireTopic(message.topicKey)
      const value: LogMessage = message.kind === 'broadcast-json'
        ? { kind: 'broadcast-json', topicKey: message.topicKey, topic, payload: message.payload, senderSession: message.senderSession }
        : { kind: 'broadcast-user', topicKey: message.topicKey, topic, broadcast: message.broadcast, senderSession: message.senderSession }
      out.push({ seq, at: now, bytes: 0, point, historical: false, value })
    }
    return out
  }

  /** Decodes a run read back from the shared log (set by the Postgres Changes engine: `receiveRuns`). */
  #decodeRun: ((batch: Uint8Array, seq: number) => (Change | DatabaseBroadcast)[]) | null = null
  /** Receives runs of changes from the shared log (set by the Postgres Changes engine: `receiveRuns`). */
  private onSharedChanges: ((seq: number, message: Extract<SharedMessage, { kind: 'changes' }>) => void) | null = null

  logged(seq: number, message: SharedMessage): void {
    if (seq <= this.#log.lastSeq) return // before this node's start on the topic: replayed from the shared log
    if (message.kind === 'changes') {
      this.onSharedChanges?.(seq, message)
      return
    }
    const exclude = this.#sentBy.get(message.origin)
    if (exclude) this.#sentBy.delete(message.origin)
    const sender = exclude ? { exclude, session: message.senderSession } : undefined
    const topic = wireTopic(message.topicKey)
    if (message.kind === 'broadcast-json') this.#deliverJson(message.topicKey, topic, message.payload, sender, message.senderSession, seq)
    else this.#deliverUser(message.topicKey, topic, message.broadcast, sender, message.senderSession, seq)
  }

  remotePresence(topicKey: string, _node: string, diff: PresenceDiff): void {
    const topic = wireTopic(topicKey)
    this.topics.presenceDiff(topicKey, topic, diff)
  }

  nodeGone(node: string): void {
    for (const [topicKey, hosted] of this.#hosted) {
      const refs = hosted.presences.get(node)
      if (!refs || refs.size === 0) continue
      const diff: PresenceDiff = { joins: Object.create(null) as PresenceGroup, leaves: Object.create(null) as PresenceGroup }
      for (const { key, meta } of refs.values()) (diff.leaves[key] ??= { metas: [] }).metas.push(meta)
      hosted.presences.delete(node)
      this.remotePresence(topicKey, node, diff)
    }
  }

  lastPosition(): number {
    return this.#log.lastSeq
  }

  localPresence(topicKey: string): PresenceGroup {
    return this.presence.state(topicKey)
  }

  lost(reason: string): void {
    for (const [, subscribers] of this.topics.entries()) for (const subscriber of [...subscribers]) subscriber.restart(reason)
  }

  reset(epoch: string): void {
    this.#log = new DeliveryLog<LogMessage>(this.#limits, this.#clock, epoch)
    for (const hosted of this.#hosted.values()) if (hosted.releaseTimer) this.#clock.clearTimeout(hosted.releaseTimer)
    this.#hosted.clear()
    this.#sentBy.clear()
    // Positions of the lost log mean nothing now: every channel rejoins and resumes, and its
    // resume from the old epoch is an explicit gap.
    this.lost('The cluster log was reset; rejoin to resume')
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

/** The wire topic (`realtime:room1`) of a topic key (`public:room1`, `private:room1`). */
function wireTopic(topicKey: string): string {
  return `realtime:${topicKey.slice(topicKey.indexOf(':') + 1)}`
}
