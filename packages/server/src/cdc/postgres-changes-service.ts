/**
 * Postgres Changes for one database: the seam the channels use.
 *
 *   ReplicationStream ──txn──► queue ──► #decode: relations, Changes, database broadcasts
 *        ▲                                   │  ──► log.appendChanges (positions, before routing)
 *        │                                   ▼
 *        └── acknowledge(endLsn) ◄── ChangeDispatcher: index → RLS per context → deliver to
 *            (only past what left        subscribers whose cursor is before the change
 *             the log's window)
 *
 * Transactions are processed strictly in commit order, one batch at a time; whatever queues up
 * while a batch is being authorized becomes the next batch (natural batching under load).
 *
 * Positions come first: a batch's changes are appended to the tenant's log before they are
 * routed, and a subscriber is registered at the log's position of that moment (its cursor), so
 * it receives exactly the changes positioned after it, whatever the timing of its registration
 * against a batch in flight.
 *
 * Nothing is acknowledged past a batch that failed: it is retried with backoff until it goes
 * through. Nothing is acknowledged past what is still in the log's replay window either, so a
 * restarted server re-reads the window from the slot and rebuilds its log (entries read before
 * the startup marker come back as `historical`: for resuming channels, not delivered live).
 */
import { databaseNameOf } from '../db/database-name.js'
import postgres, { type Sql } from 'postgres'
import type { Registry } from 'prom-client'
import { isServiceRole, type AuthContext } from '../auth/auth-context.js'
import type { Clock } from '../clock.js'
import type { Limits } from '../limits.js'
import type { Logger } from '../logger.js'
import { validateBindings } from './binding-validator.js'
import { Catalog } from './catalog.js'
import { cdcMetrics, type CdcMetrics } from './cdc-metrics.js'
import { Change, relationInfo, tupleBytes, type RelationInfo } from './change.js'
import type { ChangeData } from './change-payload.js'
import { ChangeDispatcher, type DispatchProgress, type SubscriberEntry } from './change-dispatcher.js'
import { databaseBroadcastFrom, isMessagesRelation, type DatabaseBroadcast } from './database-broadcast.js'
import { formatCommitTimestamp, pgTimeToUnixMs } from './replication-frames.js'
import { ReplayBatcher, type ReplayRequest } from './replay-batcher.js'
import { ReplicationStream, type RawTransaction } from './replication-stream.js'
import { RlsAuthorizer } from './rls-authorizer.js'
import { SubscriptionIndex, type IndexedBinding } from './subscription-index.js'
import { stableBindingId } from './binding-id.js'
import type { ChangeLogPort } from '../hub/tenant-hub.js'
import type { TraceSlot } from '../inspect/delivery-tracer.js'
import { formatStreamPoint, STREAM_START } from '@switchboard/protocol'
import type { PostgresChangesEngine } from '../tenant/tenant.js'
import type { CompiledBinding } from './binding-validator.js'
import { omittedChanges } from './transaction-overflow.js'
import { decodeChangeBatch, encodeChangeBatch } from './change-codec.js'

export type { ChangePosition, Change } from './change.js'
export type { ChangeData } from './change-payload.js'
export type { DatabaseBroadcast } from './database-broadcast.js'

export interface ChangeSubscriber {
  /** One change for this channel: ids of ITS bindings that matched, and the `data` object of the postgres_changes message (encoded once per distinct payload, shared by all recipients; it carries the change's position). */
  deliverChange(ids: readonly number[], data: ChangeData): void
  /** A `system` message with extension "postgres_changes" ("Subscribed to PostgreSQL" or an error). */
  systemMessage(status: 'ok' | 'error', message: string): void
}

export interface PostgresChangesOptions {
  databaseUrl: string
  /** Default `switchboard_<database name>` (slots are cluster-wide). */
  slotName?: string
  /** Default `supabase_realtime`. */
  publication?: string
  /** Publication of `realtime.messages` inserts; streamed only if it exists. Default `switchboard_messages`. */
  messagesPublication?: string
  logger: Logger
  clock: Clock
  limits: Limits
  registry?: Registry
  /**
   * The tenant's log (hub/tenant-hub.ts): positions every change before it is routed, and
   * receives database broadcasts. Without it (tests of this service alone) a private counter
   * positions changes and database broadcasts go to `onDatabaseBroadcast`.
   */
  log?: ChangeLogPort
  /** The inspector's tracer slot (the hub's `tracing`): the dispatcher reports to it while somebody traces. */
  tracing?: TraceSlot
  onDatabaseBroadcast?(message: DatabaseBroadcast): void
  /**
   * Value of the `slot` label of this engine's metrics (default: the slot's name). A server
   * with many tenants passes the tenant's bounded metrics label, so a scrape stays small.
   */
  metricsLabel?: string
  /** Most transactions handled in one batch. Default 500. */
  maxBatchTransactions?: number
  /** Delays between retries of a failed batch, ms (the last repeats). */
  retryBackoffMs?: readonly number[]
  /**
   * About how many deliveries a batch is checked and delivered in at a time, the next chunk's
   * RLS checks running while one's frames are written (change-dispatcher.ts). Default 32,768.
   */
  deliveriesPerChunk?: number
  /** In a cluster: the elected slot reader and the shared log runs of changes travel through. */
  shared?: SharedChanges
}

/**
 * Postgres Changes in a cluster (docs/cluster.md): one node at a time (the elected reader)
 * reads the slot and appends each batch to the shared log as one run; every node receives the
 * runs, authorizes and delivers to its own subscribers. The reader acknowledges the slot once
 * the run is in Redis, so a new reader continues from the slot's confirmed position, skipping
 * what its predecessor appended (the run's change points) and never appending after its term
 * ended (the term is checked in the append script).
 */
export interface SharedChanges {
  /** Calls `onTerm(term)` when this node becomes the slot reader, `onTerm(null)` when it stops being it. */
  elect(onTerm: (term: number | null) => void): Promise<void>
  appendChanges(run: { kind: 'changes'; origin: string; count: number; batch: Uint8Array }, term: number, firstPoint: string, lastPoint: string): Promise<'appended' | 'duplicate'>
  /** The newest change point in the shared log. */
  newestChangePoint(): Promise<string | null>
  /** Starts receiving runs (through the log's `receiveRuns`); resolves with the position after which every run arrives. */
  hostChanges(): Promise<number>
  stop(): Promise<void>
}

/** Bindings validated against the catalog, ready to register (see `prepare`). */
export type PreparedBindings = { ok: true; bindings: CompiledBinding[] } | { ok: false; error: string }

/** One change replayed to one subscriber (see `replay`). */
export interface ReplayedChange {
  ids: readonly number[]
  data: ChangeData
}

/** A channel's replay request: the changes of its snapshot it may be owed. */
interface ReplayInput {
  subscriber: ChangeSubscriber
  changes: readonly Change[]
}

/** Slot names: lower-case letters, digits, underscore; at most 63 characters. */
export function defaultSlotName(databaseUrl: string): string {
  const db = databaseNameOf(databaseUrl)
  return `switchboard_${db.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63)
}

const QUEUE_HIGH_WATER = 5_000
const DEFAULT_RETRY_BACKOFF_MS = [100, 250, 500, 1_000, 2_000, 5_000]
/** How often the slot's acknowledgement is moved to what the log has evicted, when idle. */
const RETENTION_TICK_MS = 1_000
/** Prefix of the logical message written at start: once read back, the slot's backlog is in the log. */
const MARKER_PREFIX = 'switchboard.rebuilt'

/** A log of its own for a service used without a hub: positions only, nothing retained. */
class CountingLog implements ChangeLogPort {
  lastSeq = 0
  get evictedThrough(): number { return this.lastSeq }
  constructor(private readonly onBroadcast: (message: DatabaseBroadcast) => void) {}
  appendChanges(items: readonly (Change | DatabaseBroadcast)[]): void {
    for (const item of items) item.position.seq = ++this.lastSeq
  }
  setPendingChangesFrom(): void {}
  appendSharedChanges(): void {}
  receiveRuns(): void {}
  startAt(): void {}
  deliverDatabaseBroadcast(message: DatabaseBroadcast): void { this.onBroadcast(message) }
  markRebuilt(): void {}
}

/** A decoded batch: what was appended to the log, in the runs it is dispatched in. */
interface DecodedBatch {
  /** Changes between database broadcasts, in commit order; then the broadcast that follows each run. */
  runs: { changes: Change[]; broadcast: DatabaseBroadcast | null; progress?: DispatchProgress }[]
  /** Index of the next run to dispatch (a retry continues from it). */
  next: number
  historical: boolean
  /** Stream point of the batch's newest change (null: none). */
  lastPoint: string | null
}
export class PostgresChangesService implements PostgresChangesEngine {
  readonly #options: PostgresChangesOptions
  readonly #sql: Sql
  readonly #catalog: Catalog
  readonly #authorizer: RlsAuthorizer
  readonly #index = new SubscriptionIndex<SubscriberEntry>()
  readonly #dispatcher: ChangeDispatcher
  #stream: ReplicationStream
  readonly #metrics: CdcMetrics
  readonly #slot: string
  readonly #label: string
  readonly #publication: string
  readonly #messagesPublication: string
  readonly #subscribers = new Map<ChangeSubscriber, { entry: SubscriberEntry; bindings: IndexedBinding<SubscriberEntry>[] }>()
  readonly #replays = new ReplayBatcher<ReplayInput, ReplayedChange[]>((requests) => this.#replayPass(requests))
  readonly #pending = new Map<ChangeSubscriber, { generation: number; auth: AuthContext }>()
  readonly #relations = new Map<number, RelationInfo>()
  readonly #log: ChangeLogPort
  #generation = 0
  #queue: RawTransaction[] = []
  #processing: Promise<void> | null = null
  /** Commit time of the oldest transaction of the batch being delivered (null: none). */
  #inFlightCommit: bigint | null = null
  #lastCommitLsn = 0n
  #windowStart = 0
  #windowCount = 0
  /** Processed transactions not yet acknowledged: end LSN and the log position they reach. */
  readonly #retained: { endLsn: bigint; lastSeq: number; lastPoint: string | null }[] = []
  /** The newest change point the slot may be acknowledged past, as recorded in realtime.switchboard_slots. */
  #recordedPoint = STREAM_START
  #acking = false
  #retentionTimer: ReturnType<Clock['setTimeout']> | null = null
  /** Until the startup marker is read, everything is the slot's backlog (historical). */
  #marker: string | null = null
  #rebuilt = false
  #floorPoint: string | null = null
  #stopped = false
  #streamingWaiters: (() => void)[] = []
  readonly #shared: SharedChanges | null
  /** The reader term this node holds (null: another node reads the slot). */
  #term: number | null = null
  /** Runs received from the shared log, dispatched one after the other. */
  readonly #runs: DecodedBatch[] = []
  #dispatchingRuns: Promise<void> | null = null
  #receivingRuns = false

  constructor(options: PostgresChangesOptions) {
    this.#options = options
    this.#slot = options.slotName ?? defaultSlotName(options.databaseUrl)
    if (!/^[a-z0-9_]{1,63}$/.test(this.#slot)) throw new RangeError(`invalid replication slot name ${JSON.stringify(this.#slot)}`)
    this.#label = options.metricsLabel ?? this.#slot
    this.#publication = options.publication ?? 'supabase_realtime'
    this.#messagesPublication = options.messagesPublication ?? 'switchboard_messages'
    this.#sql = postgres(options.databaseUrl, {
      max: 4,
      onnotice: () => {},
      // Same output formats as the replication session, so cast filter values compare equal.
      connection: { TimeZone: 'UTC', DateStyle: 'ISO, MDY', IntervalStyle: 'postgres', application_name: 'switchboard_cdc_auth' },
    })
    this.#metrics = cdcMetrics(options.registry)
    this.#catalog = new Catalog(this.#sql, options.clock, { onLoad: (kind) => this.#metrics.catalogLoads.inc({ slot: this.#label, kind }) })
    this.#authorizer = new RlsAuthorizer(this.#sql, options.logger)
    this.#dispatcher = new ChangeDispatcher(this.#index, this.#catalog, this.#authorizer, options.logger, options.limits.maxRecordBytes, options.tracing ?? null, options.deliveriesPerChunk)
    this.#log = options.log ?? new CountingLog((message) => options.onDatabaseBroadcast?.(message))
    this.#shared = options.shared ?? null
    this.#stream = this.#createStream()
  }

  /** The replication connection (one per reader term in a cluster: a stopped stream does not restart). */
  #createStream(): ReplicationStream {
    const options = this.#options
    return new ReplicationStream({
      databaseUrl: options.databaseUrl,
      slotName: this.#slot,
      logger: options.logger,
      clock: options.clock,
      publications: () => this.#streamedPublications(),
      onTransaction: (txn) => this.#enqueue(txn),
      // Keepalive positions may be acknowledged only when nothing read is still retained.
      isIdle: () => this.#queue.length === 0 && this.#processing === null && this.#retained.length === 0 && (this.#rebuilt || this.#shared !== null),
      onStateChange: (state) => {
        if (state !== 'streaming') return
        const waiters = this.#streamingWaiters
        this.#streamingWaiters = []
        for (const wake of waiters) wake()
      },
      bounds: { maxChanges: options.limits.maxTransactionChanges, maxBytes: options.limits.maxTransactionBytes },
      metrics: this.#metrics,
    })
  }

  /**
   * The binding's id for the join reply: a hash of the binding as sent (keys sorted, so equal
   * objects give equal ids, like Supabase's `phash2` of the params map).
   */
  static bindingId(binding: Record<string, unknown>): number {
    return stableBindingId(binding)
  }

  bindingId(binding: Record<string, unknown>): number {
    return stableBindingId(binding)
  }

  get slotName(): string {
    return this.#slot
  }

  /** The `slot` label of this engine's metrics (the slot's name unless `metricsLabel` was given). */
  get metricsLabel(): string {
    return this.#label
  }

  /**
   * Creates the permanent slot if missing and starts streaming, then writes the startup marker:
   * everything read before it comes back is the slot's backlog, logged as history.
   */
  async start(): Promise<void> {
    if (this.#shared) return this.#startShared(this.#shared)
    // One round trip before the replication connection (a tenant's first join waits for all of
    // this): whether the slot exists, and the point recorded for it.
    const [before] = await this.#sql<{ existed: boolean; point: string | null }[]>`
      select exists (select 1 from pg_replication_slots where slot_name = ${this.#slot}) as existed,
             (select evicted_point from realtime.switchboard_slots where slot_name = ${this.#slot}) as point`
    await this.#stream.start()
    // Which resumes the slot can serve: every change after the newest one it was acknowledged
    // past (recorded before each acknowledgement), or, for a slot created now, after its start.
    const recorded = before?.existed ? before.point : null
    if (recorded !== null) {
      this.#floorPoint = recorded
      this.#recordedPoint = recorded
    } else {
      const [slot] = await this.#sql<{ confirmed: string | null }[]>`
        select confirmed_flush_lsn::text as confirmed from pg_replication_slots where slot_name = ${this.#slot}`
      this.#floorPoint = formatStreamPoint(slot?.confirmed ? parsePgLsnText(slot.confirmed) : 0n, 0)
      this.#recordedPoint = this.#floorPoint
      await this.#recordEvictedPoint(this.#floorPoint)
    }
    this.#log.startAt(this.#floorPoint)
    this.#marker = `${this.#slot}:${Date.now()}:${Math.random().toString(36).slice(2)}`
    try {
      await this.#sql`select pg_logical_emit_message(true, ${MARKER_PREFIX}, ${this.#marker})`
    } catch (error) {
      // Without the marker the backlog cannot be told apart: deliver it live, as before.
      this.#options.logger.warn({ err: error }, 'cdc: could not write the startup marker; the slot backlog is delivered live')
      this.#markRebuilt()
    }
    this.#scheduleRetention()
  }

  /**
   * Opens the engine's query connection ahead of `start` (a tenant starting on first use does
   * it while its migrations are checked: one connection set-up less on the first join's path).
   */
  async warm(): Promise<void> {
    await this.#sql`select 1`
  }

  /** Commit time (ms) of the oldest transaction received and not delivered yet; null when caught up (the inspector's lag). */
  get oldestUndelivered(): number | null {
    const commit = this.#inFlightCommit ?? this.#queue[0]?.commitTime
    return commit === undefined || commit === null ? null : pgTimeToUnixMs(commit)
  }

  /** Whether the replication connection is up now (in a cluster: whether this node receives the runs). */
  get streaming(): boolean {
    return this.#shared ? this.#receivingRuns : this.#stream.state === 'streaming'
  }

  get readsSlot(): boolean {
    return this.#shared ? this.#term !== null : true
  }

  /** Resolves when the replication connection is (or next becomes) up. */
  whenStreaming(): Promise<void> {
    if (this.streaming) return Promise.resolve()
    return new Promise((resolve) => this.#streamingWaiters.push(resolve))
  }

  /** Finishes what was received (acknowledging what left the window), then closes the stream and the pool. */
  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#retentionTimer) this.#options.clock.clearTimeout(this.#retentionTimer)
    this.#stream.pause()
    while (this.#processing) await this.#processing
    await this.#stream.stop()
    await this.#processing
    await this.#shared?.stop()
    while (this.#dispatchingRuns) await this.#dispatchingRuns
    await this.#sql.end({ timeout: 2 })
  }

  #markRebuilt(): void {
    if (this.#rebuilt) return
    this.#rebuilt = true
    this.#log.markRebuilt(this.#floorPoint)
  }

  async #streamedPublications(): Promise<string[]> {
    const rows = await this.#sql<{ pubname: string }[]>`
      select pubname::text from pg_publication where pubname = any(${[this.#publication, this.#messagesPublication]})`
    const names = rows.map((r) => r.pubname)
    if (!names.includes(this.#publication)) {
      this.#options.logger.warn({ publication: this.#publication }, 'cdc: publication missing; creating it empty')
      await this.#sql.unsafe(`create publication "${this.#publication.replace(/"/g, '""')}"`).catch(() => {})
      names.push(this.#publication)
    }
    return names
  }

  /** Validates bindings against the catalog (the async half of subscribing). Never throws. */
  async prepare(bindings: ReadonlyArray<Record<string, unknown>>, auth: AuthContext): Promise<PreparedBindings> {
    try {
      const prepared = await validateBindings(this.#catalog, [this.#publication], bindings, auth, stableBindingId)
      if (prepared.ok && !isServiceRole(auth)) this.#warmDelivery(prepared.bindings, auth.role)
      return prepared
    } catch (error) {
      this.#options.logger.warn({ err: error }, 'cdc: subscribe failed')
      return { ok: false, error: (error as Error).message }
    }
  }

  /**
   * Starts loading the catalog facts that delivering these bindings' tables to `role` needs
   * (catalog.ts `warmDelivery`); not awaited. Wildcard bindings (`*` schema or table) are left to
   * their first delivery: they name no one table to look up.
   */
  #warmDelivery(bindings: readonly CompiledBinding[], role: string): void {
    const tables = new Map<string, { schema: string; table: string }>()
    for (const { schema, table } of bindings) if (schema !== '*' && table !== '*') tables.set(`${schema}\u0000${table}`, { schema, table })
    for (const { schema, table } of tables.values()) {
      this.#catalog
        .table(schema, table)
        .then((facts) => (facts ? this.#catalog.warmDelivery(role, facts) : undefined))
        .catch((error: unknown) => this.#options.logger.debug({ err: error, schema, table }, 'cdc: warming the catalog failed (the delivery loads it)'))
    }
  }

  /**
   * Registers prepared bindings (replacing earlier ones of the subscriber) at `cursor`: the
   * subscriber receives the changes positioned after it. Synchronous, so a caller can take a
   * log position, register and read the log in one step.
   */
  register(subscriber: ChangeSubscriber, prepared: CompiledBinding[], auth: AuthContext, cursor = this.#log.lastSeq): void {
    this.#pending.delete(subscriber)
    this.#unregister(subscriber)
    const entry: SubscriberEntry = { sink: subscriber, auth, cursor }
    const indexed = prepared.map((b) => ({ ...b, subscriber: entry }))
    for (const b of indexed) this.#index.add(b)
    this.#subscribers.set(subscriber, { entry, bindings: indexed })
    this.#metrics.bindings.set({ slot: this.#label }, this.#index.size)
  }

  /**
   * Validates the bindings, registers them at the log's position of that moment, then sends
   * "Subscribed to PostgreSQL" (or Supabase's error). Replaces earlier bindings of the
   * subscriber. Never throws.
   */
  async subscribe(subscriber: ChangeSubscriber, bindings: ReadonlyArray<Record<string, unknown>>, auth: AuthContext): Promise<void> {
    const generation = ++this.#generation
    this.#pending.set(subscriber, { generation, auth })
    const result = await this.prepare(bindings, auth)
    const pending = this.#pending.get(subscriber)
    if (pending?.generation !== generation) return // unsubscribed or re-subscribed meanwhile
    this.#pending.delete(subscriber)
    let message: { status: 'ok' | 'error'; text: string } | null = null
    if (!result.ok) message = { status: 'error', text: result.error }
    else {
      this.register(subscriber, result.bindings, pending.auth)
      if (result.bindings.length > 0) message = { status: 'ok', text: 'Subscribed to PostgreSQL' }
    }
    if (message) {
      try {
        subscriber.systemMessage(message.status, message.text)
      } catch (error) {
        this.#options.logger.error({ err: error }, 'cdc: subscriber threw in systemMessage')
      }
    }
  }

  /** The bindings registered for `subscriber` and its cursor (the inspector explains filters with them). */
  registration(subscriber: ChangeSubscriber): { cursor: number; bindings: readonly IndexedBinding<SubscriberEntry>[]; quarantined: boolean } | undefined {
    const registered = this.#subscribers.get(subscriber)
    return registered && { cursor: registered.entry.cursor, bindings: registered.bindings, quarantined: this.#index.isSuspended(registered.entry) }
  }

  /** A refreshed token: later changes are authorized under the new context. */
  updateAuth(subscriber: ChangeSubscriber, auth: AuthContext): void {
    const registered = this.#subscribers.get(subscriber)
    if (registered) registered.entry.auth = auth
    const pending = this.#pending.get(subscriber)
    if (pending) pending.auth = auth
  }

  unsubscribe(subscriber: ChangeSubscriber): void {
    this.#pending.delete(subscriber)
    this.#unregister(subscriber)
    this.#metrics.bindings.set({ slot: this.#label }, this.#index.size)
  }

  #unregister(subscriber: ChangeSubscriber): void {
    const registered = this.#subscribers.get(subscriber)
    if (!registered) return
    for (const b of registered.bindings) this.#index.remove(b)
    this.#subscribers.delete(subscriber)
  }

  #enqueue(txn: RawTransaction): void {
    this.#queue.push(txn)
    if (this.#queue.length > QUEUE_HIGH_WATER) this.#stream.pause()
    if (!this.#processing) this.#processing = this.#drain().finally(() => { this.#processing = null })
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#stopped) {
      let take = this.#options.maxBatchTransactions ?? 500
      if (!this.#rebuilt) {
        // The backlog (before the startup marker) is history and the marker's own transaction
        // and everything after it are live: never one batch across the marker, or live
        // transactions read together with the backlog would be logged as history, undelivered.
        const markerAt = this.#queue.findIndex((txn) => this.#isMarker(txn))
        if (markerAt === 0) this.#markRebuilt()
        else if (markerAt > 0) take = Math.min(take, markerAt)
      }
      const batch = this.#queue.splice(0, take)
      // A stream paused at the high-water mark resumes once the queue has drained below half
      // (in a cluster too: a reader that skipped this stalled for good after a large backlog).
      if (this.#queue.length < QUEUE_HIGH_WATER / 2) this.#stream.resume()
      if (this.#shared) {
        await this.#relay(batch)
        continue
      }
      this.#inFlightCommit = batch[0]!.commitTime
      const started = performance.now()
      let decoded = null as DecodedBatch | null
      // A batch that fails is retried until it goes through: acknowledging past it would lose
      // its changes for good (live and after a restart). The log keeps the positions it got.
      const done = await this.#untilDone('cdc: batch failed; retrying', () => true, async () => {
        decoded ??= await this.#decode(batch)
        await this.#dispatchRuns(decoded)
      })
      if (!done) return
      this.#inFlightCommit = null
      this.#metrics.batchSeconds.observe({ slot: this.#label }, (performance.now() - started) / 1000)
      const last = batch[batch.length - 1]!
      const tail = this.#retained[this.#retained.length - 1]
      const lastPoint = decoded?.lastPoint ?? null
      // Transactions that added nothing to the log share the retention entry before them.
      if (tail && tail.lastSeq === this.#log.lastSeq) tail.endLsn = last.endLsn
      else this.#retained.push({ endLsn: last.endLsn, lastSeq: this.#log.lastSeq, lastPoint })
      void this.#acknowledgeRetained()
    }
  }

  /**
   * Acknowledges the slot up to the newest transaction whose log entries have all been evicted.
   * When that passes changes, their newest point is recorded first (realtime.switchboard_slots):
   * after a restart, a client whose last point is at or after it lost no change, however far
   * the slot has moved since (keepalives move it past WAL that held no change).
   */
  async #acknowledgeRetained(): Promise<void> {
    if (this.#acking) return
    this.#acking = true
    try {
      const evicted = this.#log.evictedThrough
      let count = 0
      let point: string | null = null
      while (count < this.#retained.length && this.#retained[count]!.lastSeq <= evicted) {
        point = this.#retained[count]!.lastPoint ?? point
        count++
      }
      if (count === 0) return
      if (point !== null && point > this.#recordedPoint) await this.#recordEvictedPoint(point)
      const ack = this.#retained.splice(0, count).at(-1)!.endLsn
      this.#stream.acknowledge(ack)
      const newest = this.#retained[this.#retained.length - 1]
      this.#metrics.unacknowledgedBytes.set({ slot: this.#label }, newest ? Number(newest.endLsn - this.#stream.acknowledged) : 0)
    } catch (error) {
      this.#options.logger.warn({ err: error }, 'cdc: could not record the slot state; acknowledging later')
    } finally {
      this.#acking = false
    }
  }

  async #recordEvictedPoint(point: string): Promise<void> {
    await this.#sql`
      insert into realtime.switchboard_slots (slot_name, evicted_point) values (${this.#slot}, ${point})
      on conflict (slot_name) do update set evicted_point = excluded.evicted_point, updated_at = now()`
    this.#recordedPoint = point
  }

  #scheduleRetention(): void {
    this.#retentionTimer = this.#options.clock.setTimeout(() => {
      if (this.#stopped) return
      if (!this.#processing) void this.#acknowledgeRetained()
      this.#scheduleRetention()
    }, RETENTION_TICK_MS)
  }

  /**
   * Decodes a batch and appends its changes and database broadcasts to the log (their
   * positions), before anything is routed. Throws without appending anything on failure.
   */
  async #decode(batch: readonly RawTransaction[]): Promise<DecodedBatch> {
    const historical = !this.#rebuilt
    const { items, runs } = await this.#decodeTransactions(batch)
    this.#log.appendChanges(items, historical)
    for (const item of items) {
      if (!('relation' in item)) continue
      this.#countEvent()
      this.#metrics.changes.inc({ slot: this.#label, type: item.type.toLowerCase() })
    }
    const newest = items.at(-1)
    const decoded: DecodedBatch = { runs, next: 0, historical, lastPoint: newest ? formatStreamPoint(newest.position.lsn, newest.position.index) : null }
    if (!historical) this.#log.setPendingChangesFrom(firstPendingChange(decoded))
    return decoded
  }

  /**
   * Decodes transactions into changes and database broadcasts (not positioned yet), in runs
   * split at each broadcast. Throws without effect on failure; on success the relations read
   * and the newest commit are kept (a transaction at or before it is a duplicate, skipped).
   */
  async #decodeTransactions(batch: readonly RawTransaction[]): Promise<{ items: (Change | DatabaseBroadcast)[]; runs: DecodedBatch['runs'] }> {
    const runs: DecodedBatch['runs'] = [{ changes: [], broadcast: null }]
    const items: (Change | DatabaseBroadcast)[] = []
    let lastCommitLsn = this.#lastCommitLsn
    const relations = new Map<number, RelationInfo>()
    const relationOf = (id: number) => relations.get(id) ?? this.#relations.get(id)
    for (const txn of batch) {
      const duplicate = txn.commitLsn <= lastCommitLsn
      const commitTimestamp = formatCommitTimestamp(txn.commitTime)
      let index = 0
      for (const msg of txn.messages) {
        if (msg.tag === 'relation') {
          const types = await this.#catalog.types(msg.columns.map((c) => c.typeOid))
          relations.set(msg.relationId, relationInfo(msg, types))
          this.#catalog.invalidateTable(msg.schema, msg.table)
          continue
        }
        if (msg.tag === 'type') { this.#catalog.invalidateType(msg.typeOid); continue }
        if (msg.tag === 'message') continue
        if (msg.tag !== 'insert' && msg.tag !== 'update' && msg.tag !== 'delete') continue
        const position = { lsn: txn.commitLsn, index: index++, seq: 0 }
        if (duplicate) continue
        const relation = relationOf(msg.relationId)
        if (!relation) { this.#options.logger.error({ relationId: msg.relationId }, 'cdc: change for unknown relation'); continue }
        if (isMessagesRelation(relation)) {
          if (msg.tag === 'insert') {
            const message = databaseBroadcastFrom(relation, msg.newTuple, position)
            if (message) {
              items.push(message)
              runs[runs.length - 1]!.broadcast = message
              runs.push({ changes: [], broadcast: null })
            }
          }
          continue
        }
        let change: Change
        if (msg.tag === 'insert') {
          change = new Change(relation, 'INSERT', msg.newTuple, null, null, commitTimestamp, position, tupleBytes(msg.newTuple), txn.xid)
        } else if (msg.tag === 'update') {
          change = new Change(relation, 'UPDATE', msg.newTuple, msg.oldTuple, msg.keyTuple, commitTimestamp, position, tupleBytes(msg.newTuple, msg.oldTuple, msg.keyTuple), txn.xid)
        } else {
          change = new Change(relation, 'DELETE', null, msg.oldTuple, msg.keyTuple, commitTimestamp, position, tupleBytes(msg.oldTuple, msg.keyTuple), txn.xid)
        }
        items.push(change)
        runs[runs.length - 1]!.changes.push(change)
      }
      if (!duplicate && txn.overflow) {
        // Past the transaction's bounds only counts were kept: one 413 per table and type (transaction-overflow.ts).
        const omitted = omittedChanges(txn.overflow, new Map([...this.#relations, ...relations]), txn.commitLsn, commitTimestamp, index, txn.xid)
        items.push(...omitted)
        runs[runs.length - 1]!.changes.push(...omitted)
      }
      if (!duplicate) lastCommitLsn = txn.commitLsn
    }
    // Decoding went through: commit its effects (relations, newest commit) at once.
    for (const [id, relation] of relations) this.#relations.set(id, relation)
    this.#lastCommitLsn = lastCommitLsn
    return { items, runs }
  }

  /** Whether `txn` carries this process's startup marker. */
  #isMarker(txn: RawTransaction): boolean {
    if (this.#marker === null) return false
    for (const msg of txn.messages) {
      if (msg.tag === 'message' && msg.prefix === MARKER_PREFIX && msg.content.toString('utf8') === this.#marker) return true
    }
    return false
  }

  /** Dispatches the runs of a decoded batch, continuing after the last one that went through. */
  async #dispatchRuns(decoded: DecodedBatch): Promise<void> {
    if (decoded.historical) return // history is for resuming channels only
    for (; decoded.next < decoded.runs.length; decoded.next++) {
      const run = decoded.runs[decoded.next]!
      // A retry continues after the chunks that went out (change-dispatcher.ts).
      if (run.changes.length > 0) await this.#dispatch(run.changes, (run.progress ??= { delivered: 0 }))
      // Positions before the next run are delivered: channels holding later broadcasts release them.
      this.#log.setPendingChangesFrom(this.#pendingAfter(decoded, decoded.next + 1))
      if (run.broadcast) {
        try {
          this.#log.deliverDatabaseBroadcast(run.broadcast)
        } catch (error) {
          this.#options.logger.error({ err: error }, 'cdc: database broadcast delivery threw')
        }
      }
    }
  }

  /**
   * Changes from the replay log that `subscriber` would have received, routed through its
   * current bindings and authorized under its current context, in order. RLS is evaluated
   * against the table as it is now (as for live changes), so a row deleted since its INSERT is
   * not replayed as an insert; its DELETE is.
   */
  replay(subscriber: ChangeSubscriber, changes: readonly Change[]): Promise<ReplayedChange[]> {
    if (!this.#subscribers.has(subscriber) || changes.length === 0) return Promise.resolve([])
    return this.#replays.replay({ subscriber, changes })
  }

  /**
   * One replay pass for every channel that asked meanwhile (replay-batcher.ts): the union of
   * their changes dispatched once, each channel an entry of its own index with its current
   * bindings and context, then each given exactly the changes it asked for.
   */
  async #replayPass(requests: readonly ReplayRequest<ReplayInput, ReplayedChange[]>[]): Promise<void> {
    const index = new SubscriptionIndex<SubscriberEntry>()
    const union = new Map<number, Change>()
    const served: { request: ReplayRequest<ReplayInput, ReplayedChange[]>; replayed: ReplayedChange[]; wanted: Set<number> }[] = []
    for (const request of requests) {
      const { subscriber, changes } = request.input
      const registered = this.#subscribers.get(subscriber)
      if (!registered) {
        request.resolve([]) // left while waiting
        continue
      }
      const replayed: ReplayedChange[] = []
      const wanted = new Set<number>()
      let first = Infinity
      for (const change of changes) {
        wanted.add(change.position.seq)
        union.set(change.position.seq, change)
        first = Math.min(first, change.position.seq)
      }
      // The cursor skips the union's changes before this channel's first one.
      const entry: SubscriberEntry = { sink: { deliverChange: (ids, data) => void replayed.push({ ids, data }) }, auth: registered.entry.auth, cursor: first - 1 }
      for (const binding of registered.bindings) index.add({ ...binding, subscriber: entry })
      served.push({ request, replayed, wanted })
    }
    if (served.length === 0) return
    const dispatcher = new ChangeDispatcher(index, this.#catalog, this.#authorizer, this.#options.logger, this.#options.limits.maxRecordBytes)
    await dispatcher.dispatch([...union.values()].sort((a, b) => a.position.seq - b.position.seq))
    // Changes of the union past a channel's own snapshot reach it live: never twice.
    for (const { request, replayed, wanted } of served) request.resolve(replayed.filter((r) => wanted.has(r.data.position.seq)))
  }

  async #dispatch(changes: Change[], progress: DispatchProgress): Promise<void> {
    const stats = { deliveries: 0, authQueries: 0 }
    try {
      await this.#dispatcher.dispatch(changes, progress, stats)
    } finally {
      // Also when a later chunk's check failed: the chunks before it went out.
      this.#metrics.deliveries.inc({ slot: this.#label }, stats.deliveries)
      if (stats.authQueries > 0) this.#metrics.authQueries.inc({ slot: this.#label }, stats.authQueries)
    }
  }

  // ─── in a cluster (SharedChanges) ───────────────────────────────────────────────────────

  async #startShared(shared: SharedChanges): Promise<void> {
    // The slot exists from the first node's start, whoever reads it and whenever: changes
    // committed before a reader is elected wait in it.
    try {
      await this.#sql`select pg_create_logical_replication_slot(${this.#slot}, 'pgoutput') where not exists (select 1 from pg_replication_slots where slot_name = ${this.#slot})`
    } catch (error) {
      // Another node created it at the same moment.
      if (!/already exists/.test((error as Error).message)) throw error
    }
    this.#log.receiveRuns((seq, batch) => this.#receiveRun(seq, batch), (batch, seq) => positioned(decodeChangeBatch(Buffer.from(batch)), seq))
    await shared.hostChanges()
    this.#receivingRuns = true
    const waiters = this.#streamingWaiters
    this.#streamingWaiters = []
    for (const wake of waiters) wake()
    // The shared log survives this process: nothing to rebuild, and a resume from another
    // epoch (Redis lost the log) is a gap.
    this.#markRebuilt()
    await shared.elect((term) => void this.#onTerm(term))
  }

  /** This node became the slot reader (term) or stopped being it (null). */
  async #onTerm(term: number | null): Promise<void> {
    if (this.#stopped) return
    if (term === null) {
      if (this.#term === null) return
      this.#term = null
      this.#options.logger.info({ slot: this.#slot }, 'cdc: no longer the slot reader')
      const stream = this.#stream
      this.#queue = [] // the next reader re-reads what was not acknowledged
      await stream.stop()
      return
    }
    this.#term = term
    this.#options.logger.info({ slot: this.#slot, term }, 'cdc: this node reads the slot')
    // Retried while the term lasts: the slot may still be held for a moment by the reader that
    // died (Postgres notices a dead walsender's connection late). A term without a stream would
    // deliver nothing, silently, to every node.
    await this.#untilDone('cdc: could not start reading the slot; retrying', () => this.#term === term, async () => {
      const newest = await this.#shared!.newestChangePoint()
      // Transactions up to the newest one logged were appended by the previous reader.
      this.#lastCommitLsn = newest ? BigInt(`0x${newest.slice(0, 16)}`) : 0n
      const stream = this.#createStream()
      this.#stream = stream
      try {
        await stream.start()
      } catch (error) {
        await stream.stop().catch(() => {})
        throw error
      }
    })
  }

  /**
   * The reader's step: decode a batch and append it to the shared log as one run, retried
   * with backoff while this node holds its term; the slot is acknowledged once Redis has it.
   */
  async #relay(batch: readonly RawTransaction[]): Promise<void> {
    const term = this.#term
    if (term === null) return
    let decoded = null as { items: (Change | DatabaseBroadcast)[] } | null
    // Retried while this node holds its term; past it, the next reader re-reads the batch.
    const done = await this.#untilDone('cdc: appending a batch to the shared log failed; retrying', () => this.#term === term, async () => {
      decoded ??= await this.#decodeTransactions(batch)
      // A run is one Redis message: big batches go as several runs of about RUN_BYTES each, in
      // order (a retry re-sends them all; the ones already logged are skipped by their points).
      for (const items of runsOf(decoded.items)) {
        const first = items[0]!.position
        const last = items[items.length - 1]!.position
        const run = { kind: 'changes' as const, origin: '', count: items.length, batch: encodeChangeBatch(items) }
        await this.#shared!.appendChanges(run, term, formatStreamPoint(first.lsn, first.index), formatStreamPoint(last.lsn, last.index))
      }
    })
    for (const item of decoded?.items ?? []) if ('relation' in item) this.#countEvent()
    if (!done) return
    this.#stream.acknowledge(batch[batch.length - 1]!.endLsn)
  }

  /** A run from the shared log (every node): logged at its positions, then dispatched in order. */
  #receiveRun(seq: number, batch: Uint8Array): void {
    let items: (Change | DatabaseBroadcast)[]
    try {
      items = positioned(decodeChangeBatch(Buffer.from(batch)), seq)
    } catch (error) {
      this.#options.logger.error({ err: error, position: seq }, 'cdc: dropped a run that could not be decoded')
      return
    }
    this.#log.appendSharedChanges(items)
    const runs: DecodedBatch['runs'] = [{ changes: [], broadcast: null }]
    for (const item of items) {
      if ('relation' in item) {
        runs[runs.length - 1]!.changes.push(item)
        this.#metrics.changes.inc({ slot: this.#label, type: item.type.toLowerCase() })
      } else {
        runs[runs.length - 1]!.broadcast = item
        runs.push({ changes: [], broadcast: null })
      }
    }
    const newest = items.at(-1)
    this.#runs.push({ runs, next: 0, historical: false, lastPoint: newest ? formatStreamPoint(newest.position.lsn, newest.position.index) : null })
    this.#log.setPendingChangesFrom(this.#firstPendingRun())
    if (!this.#dispatchingRuns) this.#dispatchingRuns = this.#dispatchReceivedRuns().finally(() => { this.#dispatchingRuns = null })
  }

  async #dispatchReceivedRuns(): Promise<void> {
    while (this.#runs.length > 0) {
      const decoded = this.#runs[0]!
      if (!(await this.#untilDone('cdc: run failed; retrying', () => true, () => this.#dispatchRuns(decoded)))) return
      this.#runs.shift()
      // Runs behind this one are positioned already: broadcasts after them keep waiting.
      this.#log.setPendingChangesFrom(this.#firstPendingRun())
    }
  }

  /**
   * Runs `step` until it goes through, with backoff between attempts; false when the service
   * stopped or `still()` turned false first (the step is then abandoned).
   */
  async #untilDone(failure: string, still: () => boolean, step: () => Promise<void>): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      if (this.#stopped || !still()) return false
      try {
        await step()
        return true
      } catch (error) {
        this.#metrics.batchFailures.inc({ slot: this.#label })
        const delays = this.#options.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS
        const delay = delays[Math.min(attempt, delays.length - 1)]!
        this.#options.logger.error({ err: error, attempt: attempt + 1, retryInMs: delay }, failure)
        if (this.#stopped) return false
        await new Promise<void>((resolve) => this.#options.clock.setTimeout(resolve, delay))
      }
    }
  }

  /** The first change not delivered after run `from` of `decoded` (and, in a cluster, of the runs received after it). */
  #pendingAfter(decoded: DecodedBatch, from: number): number {
    const first = firstPendingChange(decoded, from)
    if (first !== Infinity || !this.#shared) return first
    const at = this.#runs.indexOf(decoded)
    for (let i = at + 1; at >= 0 && i < this.#runs.length; i++) {
      const next = firstPendingChange(this.#runs[i]!)
      if (next !== Infinity) return next
    }
    return Infinity
  }

  /** The first change not delivered yet over every received run (Infinity: none). */
  #firstPendingRun(): number {
    for (const decoded of this.#runs) {
      const first = firstPendingChange(decoded)
      if (first !== Infinity) return first
    }
    return Infinity
  }

  /** Events/s against limits.maxDbEventsPerSecond: counted in metrics, never dropped. */
  #countEvent(): void {
    const now = this.#options.clock.now()
    if (now - this.#windowStart >= 1_000) { this.#windowStart = now; this.#windowCount = 0 }
    if (++this.#windowCount > this.#options.limits.maxDbEventsPerSecond) this.#metrics.eventsOverLimit.inc({ slot: this.#label })
  }
}

/** The position of the first change in the runs from `from` on (Infinity: none left). */
function firstPendingChange(decoded: DecodedBatch, from = decoded.next): number {
  for (let i = from; i < decoded.runs.length; i++) {
    const first = decoded.runs[i]!.changes[0]
    if (first) return first.position.seq
  }
  return Infinity
}

/** About this many bytes of row data per run of changes in the shared log (one Redis message). */
const RUN_BYTES = 1024 * 1024

/** `items` cut into runs of about RUN_BYTES of row data, in order. */
function runsOf(items: readonly (Change | DatabaseBroadcast)[]): (Change | DatabaseBroadcast)[][] {
  const runs: (Change | DatabaseBroadcast)[][] = []
  let current: (Change | DatabaseBroadcast)[] = []
  let bytes = 0
  for (const item of items) {
    const size = 'relation' in item ? item.byteSize : (item.payloadJson?.length ?? item.binaryPayload?.length ?? 0)
    if (current.length > 0 && bytes + size > RUN_BYTES) {
      runs.push(current)
      current = []
      bytes = 0
    }
    current.push(item)
    bytes += size
  }
  if (current.length > 0) runs.push(current)
  return runs
}

/** Items of a run given positions from `first` on, in order. */
function positioned<T extends { position: { seq: number } }>(items: T[], first: number): T[] {
  items.forEach((item, i) => (item.position.seq = first + i))
  return items
}

/** `pg_lsn` text (`16/B374D848`) as a bigint. */
function parsePgLsnText(text: string): bigint {
  const [hi, lo] = text.split('/')
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`)
}
