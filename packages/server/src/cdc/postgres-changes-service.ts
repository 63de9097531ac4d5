/**
 * Postgres Changes for one database: the seam the channels use.
 *
 *   ReplicationStream ──txn──► queue ──► #process: decode relations, build Changes
 *        ▲                                   │            (realtime.messages ⇒ onDatabaseBroadcast)
 *        │                                   ▼
 *        └──── acknowledge(endLsn) ◄── ChangeDispatcher: index → RLS per context → deliver
 *
 * Transactions are processed strictly in commit order, one batch at a time; whatever queues up
 * while a batch is being authorized becomes the next batch (natural batching under load). The
 * slot is acknowledged after the batch was handed to every subscriber, so a crash re-reads.
 * After a reconnect Postgres re-sends unacknowledged transactions; those at or below the last
 * processed commit LSN are skipped (their Relation messages are still applied).
 *
 * Subscribing works before `start()` (it only needs the catalog), so a restarted server can
 * register its channels before it re-reads the slot's backlog.
 */
import postgres, { type Sql } from 'postgres'
import type { Registry } from 'prom-client'
import type { AuthContext } from '../auth/auth-context.js'
import type { Clock } from '../clock.js'
import type { Limits } from '../limits.js'
import type { Logger } from '../logger.js'
import { validateBindings } from './binding-validator.js'
import { Catalog } from './catalog.js'
import { cdcMetrics, type CdcMetrics } from './cdc-metrics.js'
import { Change, relationInfo, tupleBytes, type ChangePosition, type RelationInfo } from './change.js'
import { ChangeDispatcher, type SubscriberEntry } from './change-dispatcher.js'
import { databaseBroadcastFrom, isMessagesRelation, type DatabaseBroadcast } from './database-broadcast.js'
import { formatCommitTimestamp } from './replication-frames.js'
import { ReplicationStream, type RawTransaction } from './replication-stream.js'
import { RlsAuthorizer } from './rls-authorizer.js'
import { SubscriptionIndex, type IndexedBinding } from './subscription-index.js'
import { stableBindingId } from './binding-id.js'
import { omittedChanges } from './transaction-overflow.js'

export type { ChangePosition, Change } from './change.js'
export type { DatabaseBroadcast } from './database-broadcast.js'

export interface ChangeSubscriber {
  /** One change for this channel: ids of ITS bindings that matched, and the `data` object of the postgres_changes message, as JSON text (encoded once per distinct payload, shared by all recipients). */
  deliverChange(ids: readonly number[], dataJson: string, position: ChangePosition): void
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
  onDatabaseBroadcast(message: DatabaseBroadcast): void
  /** Most transactions handled in one batch. Default 500. */
  maxBatchTransactions?: number
  /**
   * Gives every change its tenant-wide replay position (the replay log's append), called in
   * delivery order. Without it positions stay 0 and nothing can be replayed.
   */
  sequence?: (change: Change) => number
}

/** One change replayed to one subscriber (see `replay`). */
export interface ReplayedChange {
  ids: readonly number[]
  dataJson: string
  position: ChangePosition
}

/** Slot names: lower-case letters, digits, underscore; at most 63 characters. */
export function defaultSlotName(databaseUrl: string): string {
  const db = decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, '') || 'postgres')
  return `switchboard_${db.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63)
}

const QUEUE_HIGH_WATER = 5_000

export class PostgresChangesService {
  readonly #options: PostgresChangesOptions
  readonly #sql: Sql
  readonly #catalog: Catalog
  readonly #authorizer: RlsAuthorizer
  readonly #index = new SubscriptionIndex<SubscriberEntry>()
  readonly #dispatcher: ChangeDispatcher
  readonly #stream: ReplicationStream
  readonly #metrics: CdcMetrics
  readonly #slot: string
  readonly #publication: string
  readonly #messagesPublication: string
  readonly #subscribers = new Map<ChangeSubscriber, { entry: SubscriberEntry; bindings: IndexedBinding<SubscriberEntry>[] }>()
  readonly #pending = new Map<ChangeSubscriber, { generation: number; auth: AuthContext }>()
  readonly #relations = new Map<number, RelationInfo>()
  #generation = 0
  #queue: RawTransaction[] = []
  #processing: Promise<void> | null = null
  #lastCommitLsn = 0n
  #windowStart = 0
  #windowCount = 0

  constructor(options: PostgresChangesOptions) {
    this.#options = options
    this.#slot = options.slotName ?? defaultSlotName(options.databaseUrl)
    if (!/^[a-z0-9_]{1,63}$/.test(this.#slot)) throw new RangeError(`invalid replication slot name ${JSON.stringify(this.#slot)}`)
    this.#publication = options.publication ?? 'supabase_realtime'
    this.#messagesPublication = options.messagesPublication ?? 'switchboard_messages'
    this.#sql = postgres(options.databaseUrl, {
      max: 4,
      onnotice: () => {},
      // Same output formats as the replication session, so cast filter values compare equal.
      connection: { TimeZone: 'UTC', DateStyle: 'ISO, MDY', IntervalStyle: 'postgres', application_name: 'switchboard_cdc_auth' },
    })
    this.#catalog = new Catalog(this.#sql, options.clock)
    this.#authorizer = new RlsAuthorizer(this.#sql, options.logger)
    this.#dispatcher = new ChangeDispatcher(this.#index, this.#catalog, this.#authorizer, options.logger, options.limits.maxRecordBytes)
    this.#metrics = cdcMetrics(options.registry)
    this.#stream = new ReplicationStream({
      databaseUrl: options.databaseUrl,
      slotName: this.#slot,
      logger: options.logger,
      clock: options.clock,
      publications: () => this.#streamedPublications(),
      onTransaction: (txn) => this.#enqueue(txn),
      isIdle: () => this.#queue.length === 0 && this.#processing === null,
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

  get slotName(): string {
    return this.#slot
  }

  /** Creates the permanent slot if missing and starts streaming. */
  async start(): Promise<void> {
    await this.#stream.start()
  }

  /** Finishes (and acknowledges) what was received, then closes the stream and the pool. */
  async stop(): Promise<void> {
    this.#stream.pause()
    while (this.#processing) await this.#processing
    await this.#stream.stop()
    await this.#processing
    await this.#sql.end({ timeout: 2 })
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

  /**
   * Validates the bindings against the catalog, registers them, then sends
   * "Subscribed to PostgreSQL" (or Supabase's error). Replaces earlier bindings of the
   * subscriber. Never throws.
   */
  async subscribe(subscriber: ChangeSubscriber, bindings: ReadonlyArray<Record<string, unknown>>, auth: AuthContext): Promise<void> {
    const generation = ++this.#generation
    this.#pending.set(subscriber, { generation, auth })
    let message: { status: 'ok' | 'error'; text: string } | null
    try {
      const result = await validateBindings(this.#catalog, [this.#publication], bindings, auth, stableBindingId)
      const pending = this.#pending.get(subscriber)
      if (pending?.generation !== generation) return // unsubscribed or re-subscribed meanwhile
      this.#pending.delete(subscriber)
      if (!result.ok) {
        message = { status: 'error', text: result.error }
      } else {
        this.#unregister(subscriber)
        const entry: SubscriberEntry = { sink: subscriber, auth: pending.auth }
        const indexed = result.bindings.map((b) => ({ ...b, subscriber: entry }))
        for (const b of indexed) this.#index.add(b)
        this.#subscribers.set(subscriber, { entry, bindings: indexed })
        this.#metrics.bindings.set({ slot: this.#slot }, this.#index.size)
        message = indexed.length > 0 ? { status: 'ok', text: 'Subscribed to PostgreSQL' } : null
      }
    } catch (error) {
      this.#options.logger.warn({ err: error }, 'cdc: subscribe failed')
      if (this.#pending.get(subscriber)?.generation === generation) this.#pending.delete(subscriber)
      message = { status: 'error', text: (error as Error).message }
    }
    if (message) {
      try {
        subscriber.systemMessage(message.status, message.text)
      } catch (error) {
        this.#options.logger.error({ err: error }, 'cdc: subscriber threw in systemMessage')
      }
    }
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
    this.#metrics.bindings.set({ slot: this.#slot }, this.#index.size)
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
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#options.maxBatchTransactions ?? 500)
      if (this.#queue.length < QUEUE_HIGH_WATER / 2) this.#stream.resume()
      const started = performance.now()
      try {
        await this.#process(batch)
      } catch (error) {
        // A batch that cannot be processed is not acknowledged: a restart will re-read it.
        this.#options.logger.error({ err: error }, 'cdc: batch failed')
        continue
      }
      this.#metrics.batchSeconds.observe({ slot: this.#slot }, (performance.now() - started) / 1000)
      const last = batch[batch.length - 1]!
      this.#stream.acknowledge(last.endLsn)
    }
  }

  async #process(batch: readonly RawTransaction[]): Promise<void> {
    const changes: Change[] = []
    const broadcasts: { before: number; message: DatabaseBroadcast }[] = []
    for (const txn of batch) {
      const duplicate = txn.commitLsn <= this.#lastCommitLsn
      const commitTimestamp = formatCommitTimestamp(txn.commitTime)
      let index = 0
      for (const msg of txn.messages) {
        if (msg.tag === 'relation') {
          const types = await this.#catalog.types(msg.columns.map((c) => c.typeOid))
          this.#relations.set(msg.relationId, relationInfo(msg, types))
          this.#catalog.invalidateTable(msg.schema, msg.table)
          continue
        }
        if (msg.tag === 'type') { this.#catalog.invalidateType(msg.typeOid); continue }
        if (msg.tag !== 'insert' && msg.tag !== 'update' && msg.tag !== 'delete') continue
        const position = { lsn: txn.commitLsn, index: index++, seq: 0 }
        if (duplicate) continue
        const relation = this.#relations.get(msg.relationId)
        if (!relation) { this.#options.logger.error({ relationId: msg.relationId }, 'cdc: change for unknown relation'); continue }
        if (isMessagesRelation(relation)) {
          if (msg.tag === 'insert') {
            const message = databaseBroadcastFrom(relation, msg.newTuple, position)
            if (message) broadcasts.push({ before: changes.length, message })
          }
          continue
        }
        this.#countEvent()
        this.#metrics.changes.inc({ slot: this.#slot, type: msg.tag })
        if (msg.tag === 'insert') {
          changes.push(new Change(relation, 'INSERT', msg.newTuple, null, null, commitTimestamp, position, tupleBytes(msg.newTuple), txn.xid))
        } else if (msg.tag === 'update') {
          changes.push(new Change(relation, 'UPDATE', msg.newTuple, msg.oldTuple, msg.keyTuple, commitTimestamp, position, tupleBytes(msg.newTuple, msg.oldTuple, msg.keyTuple), txn.xid))
        } else {
          changes.push(new Change(relation, 'DELETE', null, msg.oldTuple, msg.keyTuple, commitTimestamp, position, tupleBytes(msg.oldTuple, msg.keyTuple), txn.xid))
        }
      }
      if (!duplicate) changes.push(...omittedChanges(txn.overflow, this.#relations, txn.commitLsn, commitTimestamp, index, txn.xid))
      if (!duplicate) this.#lastCommitLsn = txn.commitLsn
    }
    // Broadcasts and changes interleave in commit order: dispatch the changes in runs between broadcasts.
    let from = 0
    for (const { before, message } of [...broadcasts, { before: changes.length, message: null }]) {
      if (before > from) await this.#dispatch(changes.slice(from, before))
      from = before
      if (message) {
        try {
          this.#options.onDatabaseBroadcast(message)
        } catch (error) {
          this.#options.logger.error({ err: error }, 'cdc: onDatabaseBroadcast threw')
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
  async replay(subscriber: ChangeSubscriber, changes: readonly Change[]): Promise<ReplayedChange[]> {
    const registered = this.#subscribers.get(subscriber)
    if (!registered || changes.length === 0) return []
    const replayed: ReplayedChange[] = []
    const entry: SubscriberEntry = {
      sink: { deliverChange: (ids, dataJson, position) => void replayed.push({ ids, dataJson, position }) },
      auth: registered.entry.auth,
    }
    const index = new SubscriptionIndex<SubscriberEntry>()
    for (const binding of registered.bindings) index.add({ ...binding, subscriber: entry })
    const dispatcher = new ChangeDispatcher(index, this.#catalog, this.#authorizer, this.#options.logger, this.#options.limits.maxRecordBytes)
    await dispatcher.dispatch(changes)
    return replayed
  }

  async #dispatch(changes: Change[]): Promise<void> {
    const stats = await this.#dispatcher.dispatch(changes, this.#options.sequence)
    this.#metrics.deliveries.inc({ slot: this.#slot }, stats.deliveries)
    if (stats.authQueries > 0) this.#metrics.authQueries.inc({ slot: this.#slot }, stats.authQueries)
  }

  /** Events/s against limits.maxDbEventsPerSecond: counted in metrics, never dropped. */
  #countEvent(): void {
    const now = this.#options.clock.now()
    if (now - this.#windowStart >= 1_000) { this.#windowStart = now; this.#windowCount = 0 }
    if (++this.#windowCount > this.#options.limits.maxDbEventsPerSecond) this.#metrics.eventsOverLimit.inc({ slot: this.#slot })
  }
}
