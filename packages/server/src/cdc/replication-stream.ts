/**
 * The I/O shell around one logical replication connection: permanent slot, START_REPLICATION
 * with `pgoutput`, framing, keepalive replies, acknowledgements and reconnection.
 *
 *   idle ──start()──► connecting ──ok──► streaming ──error/close──► waiting ──backoff──► connecting
 *                          │                                                   ▲
 *                          └────────────────────── fail ───────────────────────┘
 *   any ──stop()──► stopped
 *
 * The slot is PERMANENT: after a restart (ours or Postgres's) streaming resumes from the
 * slot's confirmed position, so whatever was not acknowledged is read again. We acknowledge
 * only what the consumer says it delivered (`acknowledge`), plus, when nothing is in flight,
 * the server's reported WAL end from keepalives (changes of unpublished tables would otherwise
 * pin WAL forever).
 *
 * Transactions are handed over whole (Begin…Commit), decoded but not interpreted, and bounded:
 * past `bounds` (limits.maxTransactionChanges / maxTransactionBytes) a transaction's remaining
 * changes are counted per table and type instead of kept (transaction-overflow.ts).
 * Uses postgres.js for the wire protocol, the way its own `src/subscribe.js` does:
 * a `replication: 'database'` connection and `sql.unsafe('START_REPLICATION …').writable()`.
 */
import postgres, { type Sql } from 'postgres'
import type { Duplex } from 'node:stream'
import type { Clock, ClockTimer } from '../clock.js'
import type { Logger } from '../logger.js'
import { DEFAULT_LIMITS } from '../limits.js'
import type { CdcMetrics } from './cdc-metrics.js'
import { decodePgOutput, type PgOutputMessage } from './pgoutput-decoder.js'
import { decodeReplicationFrame, encodeStandbyStatus, formatLsn } from './replication-frames.js'
import { TransactionOverflow, type TransactionBounds } from './transaction-overflow.js'

export interface RawTransaction {
  commitLsn: bigint
  endLsn: bigint
  /** Postgres µs since 2000-01-01. */
  commitTime: bigint
  messages: PgOutputMessage[]
  /** Payload bytes received for the transaction. */
  bytes: number
  /** Transaction id from the Begin message. */
  xid: number
  /** Row changes kept in `messages`. */
  changes: number
  /** Changes beyond the bounds, counted instead of kept (null: none). See transaction-overflow.ts. */
  overflow: TransactionOverflow | null
}

export const STREAM_STATES = { idle: 'idle', connecting: 'connecting', streaming: 'streaming', waiting: 'waiting', stopped: 'stopped' } as const
export type StreamState = (typeof STREAM_STATES)[keyof typeof STREAM_STATES]

export interface ReplicationStreamOptions {
  databaseUrl: string
  slotName: string
  /** Publications to stream (re-read at every connect, so one created later is picked up). */
  publications(): Promise<string[]>
  logger: Logger
  clock: Clock
  onTransaction(txn: RawTransaction): void
  /** True when every handed-over transaction has been delivered (safe to acknowledge keepalive positions). */
  isIdle(): boolean
  onStateChange?(state: StreamState): void
  /** Reconnect delays, ms, by attempt (last one repeats). */
  backoffMs?: readonly number[]
  /** Send a status update at least this often. */
  statusIntervalMs?: number
  /** What one transaction may hold until its commit (default: DEFAULT_LIMITS'). */
  bounds?: TransactionBounds
  /** Counts transactions over their bounds, and the largest one held. */
  metrics?: CdcMetrics
}

const DEFAULT_BACKOFF = [100, 250, 500, 1_000, 2_000, 5_000]

export class ReplicationStream {
  #state: StreamState = STREAM_STATES.idle
  #sql: Sql | null = null
  #stream: Duplex | null = null
  #attempt = 0
  #retry: ClockTimer | null = null
  #status: ClockTimer | null = null
  #acked = 0n
  /** Highest position received (keepalive WAL end or a transaction's end). */
  #received = 0n
  #open: RawTransaction | null = null
  #firstConnect: { resolve(): void; reject(e: unknown): void } | null = null
  readonly #bounds: TransactionBounds
  readonly #held = { changes: 0, bytes: 0, overflowedTransactions: 0, overflowedChanges: 0 }

  constructor(private readonly options: ReplicationStreamOptions) {
    this.#bounds = options.bounds ?? { maxChanges: DEFAULT_LIMITS.maxTransactionChanges, maxBytes: DEFAULT_LIMITS.maxTransactionBytes }
  }

  /**
   * The most one transaction has held (changes, payload bytes) since start, never more than
   * the bounds (plus one change: the one that crossed the byte bound is counted, not kept);
   * and how many transactions and changes went over them.
   */
  get transactionStats(): { largestHeldChanges: number; largestHeldBytes: number; overflowedTransactions: number; overflowedChanges: number } {
    const { changes, bytes, overflowedTransactions, overflowedChanges } = this.#held
    return { largestHeldChanges: changes, largestHeldBytes: bytes, overflowedTransactions, overflowedChanges }
  }

  get state(): StreamState {
    return this.#state
  }

  /** Highest position acknowledged to Postgres. */
  get acknowledged(): bigint {
    return this.#acked
  }

  #setState(state: StreamState): void {
    this.#state = state
    this.options.onStateChange?.(state)
  }

  /** Resolves once streaming for the first time (keeps retrying until then, like later reconnects). */
  start(): Promise<void> {
    if (this.#state !== STREAM_STATES.idle) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.#firstConnect = { resolve, reject }
      void this.#connect()
    })
  }

  async stop(): Promise<void> {
    if (this.#state === STREAM_STATES.stopped) return
    this.#setState(STREAM_STATES.stopped)
    if (this.#retry) this.options.clock.clearTimeout(this.#retry)
    if (this.#status) this.options.clock.clearTimeout(this.#status)
    this.#firstConnect?.reject(new Error('replication stream stopped before it connected'))
    this.#firstConnect = null
    await this.#teardown()
  }

  /** Everything up to `lsn` (a transaction's end LSN) is delivered: tell Postgres. */
  acknowledge(lsn: bigint): void {
    if (lsn <= this.#acked) return
    this.#acked = lsn
    this.#sendStatus(false)
  }

  /**
   * Answers a keepalive that asks for a reply: everything sent was received, and no flush
   * position (0). Why: a shutting-down Postgres waits until the client reports all it sent as
   * replicated (the flush position, or the write position when flush is 0), but the flush
   * position is also what moves the slot, and the slot deliberately stays behind what is still
   * in the replay window. Reporting "written, flush unknown" lets Postgres stop without moving
   * the slot; the next regular status reports the real flush position again.
   */
  #answerPing(): void {
    if (!this.#stream || this.#received === 0n) return this.#sendStatus(false)
    this.#stream.write(encodeStandbyStatus(0n, this.options.clock.now(), false, this.#received))
  }

  #sendStatus(replyRequested: boolean): void {
    if (!this.#stream || this.#acked === 0n) return
    this.#stream.write(encodeStandbyStatus(this.#acked, this.options.clock.now(), replyRequested))
  }

  async #teardown(): Promise<void> {
    const stream = this.#stream
    const sql = this.#sql
    this.#stream = null
    this.#sql = null
    this.#open = null
    if (stream && !stream.destroyed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000)
        const done = () => { clearTimeout(timer); resolve() }
        // postgres.js's COPY BOTH stream emits 'finish' once CopyDone (after the last standby
        // status) is written, but not always 'close': waiting for 'close' alone cost every
        // shutdown the full second.
        stream.once('finish', done)
        stream.once('close', done)
        stream.end()
      })
    }
    if (sql) await sql.end({ timeout: 1 }).catch(() => {})
  }

  async #connect(): Promise<void> {
    if (this.#state === STREAM_STATES.stopped) return
    this.#setState(STREAM_STATES.connecting)
    const { logger, slotName } = this.options
    try {
      const sql = postgres(this.options.databaseUrl, {
        max: 1,
        fetch_types: false,
        idle_timeout: null,
        max_lifetime: null,
        onnotice: () => {},
        // value-renderer.ts relies on these output formats.
        connection: { replication: 'database', TimeZone: 'UTC', DateStyle: 'ISO, MDY', IntervalStyle: 'postgres', application_name: 'switchboard_cdc' },
        no_subscribe: true,
      } as unknown as postgres.Options<Record<string, postgres.PostgresType>>)
      this.#sql = sql
      const slots = await sql.unsafe(`select 1 from pg_replication_slots where slot_name = '${slotName}'`)
      if (slots.length === 0) {
        try {
          await sql.unsafe(`CREATE_REPLICATION_SLOT ${slotName} LOGICAL pgoutput NOEXPORT_SNAPSHOT`)
          logger.info({ slot: slotName }, 'cdc: created replication slot')
        } catch (error) {
          if ((error as { code?: string }).code !== '42710') throw error // duplicate: someone else made it
        }
      }
      const publications = await this.options.publications()
      const names = publications.map((p) => `"${p.replace(/"/g, '""')}"`).join(',')
      const stream = (await sql.unsafe(
        `START_REPLICATION SLOT ${slotName} LOGICAL 0/0 (proto_version '1', publication_names '${names.replace(/'/g, "''")}', messages 'true')`,
      ).writable()) as unknown as Duplex
      if ((this.#state as StreamState) === STREAM_STATES.stopped) {
        stream.end()
        return
      }
      this.#stream = stream
      stream.on('data', (chunk: Buffer) => this.#onData(chunk))
      stream.on('error', (error: Error) => this.#onBroken(error))
      stream.on('close', () => this.#onBroken(null))
      this.#attempt = 0
      this.#setState(STREAM_STATES.streaming)
      this.#scheduleStatus()
      logger.info({ slot: slotName, publications, from: formatLsn(this.#acked) }, 'cdc: streaming')
      this.#firstConnect?.resolve()
      this.#firstConnect = null
    } catch (error) {
      this.#onBroken(error as Error)
    }
  }

  #onBroken(error: Error | null): void {
    if (this.#state === STREAM_STATES.stopped || this.#state === STREAM_STATES.waiting) return
    const delays = this.options.backoffMs ?? DEFAULT_BACKOFF
    const delay = delays[Math.min(this.#attempt, delays.length - 1)]!
    this.#attempt++
    this.options.logger.warn({ err: error ?? undefined, retryInMs: delay }, 'cdc: replication connection lost; reconnecting')
    this.#setState(STREAM_STATES.waiting)
    if (this.#status) this.options.clock.clearTimeout(this.#status)
    void this.#teardown().finally(() => {
      if (this.#state !== STREAM_STATES.waiting) return
      this.#retry = this.options.clock.setTimeout(() => void this.#connect(), delay)
    })
  }

  #scheduleStatus(): void {
    const every = this.options.statusIntervalMs ?? 10_000
    this.#status = this.options.clock.setTimeout(() => {
      if (this.#state !== STREAM_STATES.streaming) return
      this.#sendStatus(false)
      this.#scheduleStatus()
    }, every)
  }

  #onData(chunk: Buffer): void {
    const frame = decodeReplicationFrame(chunk)
    if (!frame) return
    if (frame.kind === 'keepalive') {
      if (this.#open === null && this.options.isIdle() && frame.walEnd > this.#acked) this.#acked = frame.walEnd
      if (frame.walEnd > this.#received && this.#open === null) this.#received = frame.walEnd
      if (frame.replyRequested) this.#answerPing()
      return
    }
    let msg: PgOutputMessage
    try {
      msg = decodePgOutput(frame.data)
    } catch (error) {
      this.options.logger.error({ err: error }, 'cdc: undecodable pgoutput message; reconnecting')
      this.#onBroken(error as Error)
      return
    }
    if (msg.tag === 'begin') {
      this.#open = { commitLsn: msg.finalLsn, endLsn: 0n, commitTime: msg.commitTime, messages: [], bytes: 0, xid: msg.xid, changes: 0, overflow: null }
      return
    }
    const txn = this.#open
    if (!txn) return // a message outside a transaction (e.g. non-transactional logical message)
    if (msg.tag === 'commit') {
      txn.commitLsn = msg.commitLsn
      txn.endLsn = msg.endLsn
      txn.commitTime = msg.commitTime
      this.#open = null
      if (msg.endLsn > this.#received) this.#received = msg.endLsn
      this.#countHeld(txn)
      this.options.onTransaction(txn)
      return
    }
    if (msg.tag === 'insert' || msg.tag === 'update' || msg.tag === 'delete') {
      // Past a bound, rows are counted, not kept (transaction-overflow.ts); once over, every
      // later change is counted too, so what is kept is a prefix of the transaction.
      if (txn.overflow === null && (txn.changes >= this.#bounds.maxChanges || txn.bytes + frame.data.length > this.#bounds.maxBytes)) {
        txn.overflow = new TransactionOverflow()
        this.options.logger.warn({ xid: txn.xid, kept: txn.changes, keptBytes: txn.bytes, ...this.#bounds }, 'cdc: transaction over its bounds; counting its remaining changes instead of keeping them')
      }
      if (txn.overflow !== null) {
        txn.overflow.add(msg.relationId, msg.tag)
        return
      }
      txn.changes++
    }
    txn.bytes += frame.data.length
    txn.messages.push(msg)
  }

  #countHeld(txn: RawTransaction): void {
    const held = this.#held
    held.changes = Math.max(held.changes, txn.changes)
    held.bytes = Math.max(held.bytes, txn.bytes)
    const metrics = this.options.metrics
    const slot = this.options.slotName
    if (metrics) {
      metrics.largestHeldTransactionChanges.set({ slot }, held.changes)
      metrics.largestHeldTransactionBytes.set({ slot }, held.bytes)
    }
    if (txn.overflow === null) return
    held.overflowedTransactions++
    held.overflowedChanges += txn.overflow.total
    metrics?.transactionsOverBounds.inc({ slot })
    metrics?.changesOverBounds.inc({ slot }, txn.overflow.total)
  }

  /** Backpressure: stop reading while the consumer catches up. */
  pause(): void {
    this.#stream?.pause()
  }

  resume(): void {
    this.#stream?.resume()
  }
}
