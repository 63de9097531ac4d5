/**
 * The inspector of one tenant: its delivery trace and when it runs, its sampled history, its
 * views (overview, channels, connections, traces) and the operator's actions (disconnect a
 * connection, send a test broadcast).
 *
 * When the trace runs (`trace` option):
 *   'watched' (default)  while a live stream of the tenant is open, for a minute after the last
 *                        one closes (a page reload keeps it), and while enabled through the API
 *   'always'             from start (benchmarks, a server under investigation)
 *   'off'                never (the API and the page still show counts and channels)
 * When it does not run, the hub's trace slot is empty: the delivery path does one null check per
 * hook and nothing else.
 */
import type { Registry } from 'prom-client'
import type { Sql } from 'postgres'
import { topicKey as makeTopicKey } from '../broadcast/topic-registry.js'
import type { NodeTenantFigures, PeerFigures } from '../cluster/node-report.js'
import { CloseCode, type Connection } from '../socket/connection.js'
import type { Tenant } from '../tenant/tenant.js'
import { ChannelViews, type ChangeRegistrations } from './channel-views.js'
import { attachPolicies } from './policy-lookup.js'
import type { History, MessageSummary, SlotLag, TenantOverview, TraceMode, TraceReport } from './api-types.js'
import { NODE_ID } from './subscriber-view.js'
import { TenantSampler, type CounterTotals } from './tenant-sampler.js'
import { TopicRates } from './topic-rates.js'
import { DEFAULT_TRACE_BOUNDS, TraceRecorder, type TraceBounds } from './trace-recorder.js'
import type { TracedMessage } from './traced-message.js'
import { messageSummary, primaryKeyOf, traceReport } from './verdicts.js'

/** How long tracing stays on after the last live stream closes. */
const LINGER_MS = 60_000

export interface TenantInspectorOptions {
  tenant: Tenant
  /** The tenant's database (slot lag, policy texts). */
  sql: Sql
  /** The Postgres Changes engine's registrations and slot, when the tenant has one. */
  changes: (ChangeRegistrations & { readonly slotName: string; readonly metricsLabel?: string; readonly streaming: boolean; readonly readsSlot: boolean; readonly oldestUndelivered: number | null }) | null
  /** Registry holding the tenant's Postgres Changes counters. */
  registry: Registry
  /** Every socket of the server (filtered by tenant here). */
  connections: () => Iterable<Connection>
  bounds?: Partial<TraceBounds>
  trace?: TraceMode
  /** Brings counters kept outside prom-client up to date before a sample (frames written). */
  beforeSample?: () => void
  /** Called when the trace starts or stops (the server moves its flush hook). */
  onTracingChange: () => void
  /** In a cluster: this node's member id, and the other nodes' published figures for the tenant (cluster/node-report.ts). */
  cluster?: { nodeId: string; peers: () => Promise<PeerFigures[]> } | null
}

export interface TraceQuery {
  id?: number
  position?: number
  /** `schema.table` (or `table`, meaning `public.table`) of a Postgres change. */
  table?: string
  /** The change's primary key: the value, or values in key order joined by commas. */
  pk?: string
  limit?: number
}

export class TenantInspector {
  readonly tenant: Tenant
  readonly recorder: TraceRecorder
  readonly sampler: TenantSampler
  readonly views: ChannelViews
  readonly mode: TraceMode
  readonly #options: TenantInspectorOptions
  readonly #rates = new TopicRates()
  #streams = 0
  #lingerUntil = 0
  #enabledUntil = 0
  /** The other nodes' figures for this tenant, as last read (clustered). */
  #peers: PeerFigures[] = []

  constructor(options: TenantInspectorOptions) {
    this.#options = options
    this.tenant = options.tenant
    this.mode = options.trace ?? 'watched'
    const bounds = { ...DEFAULT_TRACE_BOUNDS, ...options.bounds }
    this.recorder = new TraceRecorder(options.tenant.hub.topics, bounds)
    this.views = new ChannelViews(options.tenant, this.recorder, this.#rates, options.connections, options.changes)
    this.sampler = new TenantSampler({
      gauges: () => this.#gauges(),
      totals: () => this.#totals(),
      slotLag: () => this.#slotLag(),
      lagSeconds: () => {
        const oldest = options.changes?.oldestUndelivered
        return options.changes ? (oldest == null ? 0 : Math.max(0, (Date.now() - oldest) / 1000)) : null
      },
    })
    this.#update()
  }

  get id(): string {
    return this.tenant.id
  }

  get tracing(): boolean {
    return this.tenant.hub.tracing.current === this.recorder
  }

  // ─── when the trace runs ────────────────────────────────────────────────────────────────

  /** A live stream opened: tracing runs until it closes (and a minute after). Returns the close. */
  openStream(): () => void {
    this.#streams++
    this.#update()
    let closed = false
    return () => {
      if (closed) return
      closed = true
      this.#streams--
      this.#lingerUntil = this.tenant.clock.now() + LINGER_MS
      this.#update()
    }
  }

  /** Tracing on for `ms` from now (0: off now, unless a stream or the mode keeps it on). */
  enableFor(ms: number): void {
    this.#enabledUntil = ms > 0 ? this.tenant.clock.now() + ms : 0
    if (ms <= 0) this.#lingerUntil = 0
    this.#update()
  }

  #update(): void {
    const now = this.tenant.clock.now()
    const on = this.mode === 'always' || (this.mode === 'watched' && (this.#streams > 0 || now < this.#lingerUntil || now < this.#enabledUntil))
    if (on === this.tracing) return
    if (!on) this.recorder.flushed() // what was handed out is written by now, or will be at the next flush
    this.tenant.hub.tracing.current = on ? this.recorder : null
    this.#options.onTracingChange()
  }

  /** Every second: a sample for the history, the topic rates, and whether tracing has expired; the other nodes' figures while a stream watches. */
  async tick(now = this.tenant.clock.now()): Promise<void> {
    this.#update()
    await this.sampler.sample(now)
    this.#rates.update(this.tracing ? this.recorder.counts : null, now)
    if (this.#streams > 0) await this.refreshPeers()
  }

  /** Reads the other nodes' figures for this tenant (clustered; a no-op alone). A failed read keeps the last ones. */
  async refreshPeers(): Promise<void> {
    const cluster = this.#options.cluster
    if (!cluster) return
    try {
      this.#peers = await cluster.peers()
    } catch (error) {
      this.tenant.logger.debug({ err: error }, 'inspector: could not read the other nodes\' figures')
    }
  }

  // ─── views ──────────────────────────────────────────────────────────────────────────────

  overview(): TenantOverview {
    const gauges = this.#gauges()
    const changes = this.#options.changes
    const node = this.#options.cluster?.nodeId ?? NODE_ID
    const readsSlot = changes !== null && changes.readsSlot
    const leader = readsSlot ? node : (this.#peers.find((peer) => peer.readsSlot)?.node ?? null)
    const ring = this.recorder.ring
    const until = Math.max(this.#enabledUntil, this.#streams > 0 ? 0 : this.#lingerUntil)
    return {
      tenant: this.id,
      node,
      at: new Date().toISOString(),
      now: this.sampler.history.latest,
      errors: { total: this.sampler.errorTotals, last15Minutes: this.sampler.recentErrors },
      cdc: changes ? { slot: changes.slotName, streaming: changes.streaming, leader, lag: this.sampler.slotLag } : null,
      tracing: {
        on: this.tracing,
        mode: this.mode,
        until: this.tracing && this.mode === 'watched' && until > this.tenant.clock.now() ? new Date(until).toISOString() : null,
        watchers: this.#streams,
        messages: ring.size,
        maxMessages: ring.maxItems,
        verdicts: ring.weight,
        maxVerdicts: ring.maxWeight,
      },
      nodes: [
        { id: node, ...this.#sampledRates(), ...gauges, cdcLeader: readsSlot },
        ...this.#peers.map(({ node: id, readsSlot: cdcLeader, ...figures }) => ({ id, ...figures, cdcLeader })),
      ],
    }
  }

  /** This node's share of the tenant as of the last sample (what the node publishes to the others in a cluster). */
  figures(): NodeTenantFigures {
    const latest = this.sampler.history.latest
    return {
      connections: latest?.connections ?? 0,
      channels: latest?.channels ?? 0,
      presences: latest?.presences ?? 0,
      ...this.#sampledRates(),
      readsSlot: this.#options.changes?.readsSlot ?? false,
    }
  }

  #sampledRates(): { messagesIn: number; messagesOut: number; rlsChecks: number } {
    const latest = this.sampler.history.latest
    return { messagesIn: latest?.messagesIn ?? 0, messagesOut: latest?.messagesOut ?? 0, rlsChecks: latest?.rlsChecks ?? 0 }
  }

  history(): History {
    return { seconds: this.sampler.history.seconds, tenSeconds: this.sampler.history.tenSeconds }
  }

  /** Recent traced messages, newest first, optionally of one topic key or table. */
  messages(filter: { topic?: string; table?: string; limit?: number } = {}): MessageSummary[] {
    const out: MessageSummary[] = []
    const table = filter.table ? qualify(filter.table) : undefined
    for (const message of this.recorder.ring.newestFirst()) {
      if (out.length >= (filter.limit ?? 50)) break
      if (filter.topic !== undefined && (message.kind === 'change' || message.topicKey !== filter.topic)) continue
      if (table !== undefined && (message.kind !== 'change' || message.table !== table)) continue
      out.push(messageSummary(message))
    }
    return out
  }

  /** The delivery traces matching `query`, newest first, with the policies behind RLS verdicts. */
  async trace(query: TraceQuery): Promise<TraceReport[]> {
    const found: TracedMessage[] = []
    const ring = this.recorder.ring
    if (query.id !== undefined) {
      const message = ring.get(query.id)
      if (message) found.push(message)
    } else if (query.position !== undefined) {
      const message = ring.atPosition(query.position)
      if (message) found.push(message)
    } else if (query.table !== undefined) {
      const table = qualify(query.table)
      for (const message of ring.newestFirst()) {
        if (found.length >= 20) break
        if (message.kind === 'change' && message.table === table && (query.pk === undefined || keyMatches(primaryKeyOf(message.change), query.pk))) found.push(message)
      }
    }
    const reports = found.map((message) => traceReport(message, this.views, query.limit))
    await attachPolicies(this.#options.sql, reports)
    return reports
  }

  // ─── actions ────────────────────────────────────────────────────────────────────────────

  /** Closes one of the tenant's sockets (its channels are told first); false when there is no such socket. */
  disconnect(connectionId: number): boolean {
    for (const connection of this.#options.connections()) {
      if (connection.id !== connectionId || connection.tenant !== this.tenant) continue
      connection.disconnect('Disconnected by an operator', CloseCode.normal, 'disconnected by an operator')
      return true
    }
    return false
  }

  /** A test broadcast through the hub, as a REST broadcast would be. */
  broadcast(topic: string, event: string, payload: Record<string, unknown>, isPrivate: boolean): void {
    this.tenant.metrics.messagesIn.inc({ kind: 'inspector' })
    // Fire and forget: a failed cluster append is counted there (failed appends).
    this.tenant.hub.publishJson(makeTopicKey(topic, isPrivate), `realtime:${topic}`, { type: 'broadcast', event, payload })?.catch(() => {})
  }

  // ─── sources of the samples ─────────────────────────────────────────────────────────────

  #gauges(): { connections: number; channels: number; presences: number } {
    let connections = 0
    for (const connection of this.#options.connections()) if (connection.tenant === this.tenant && connection.closedAt === null) connections++
    let channels = 0
    for (const [, subscribers] of this.tenant.hub.topics.entries()) channels += subscribers.size
    return { connections, channels, presences: this.tenant.hub.presence.size }
  }

  async #totals(): Promise<CounterTotals> {
    this.#options.beforeSample?.()
    // This tenant's series (label `tenant`); frames out are counted for the whole server.
    const { label, server: metrics } = this.tenant.metrics
    const mine = (values: readonly { value: number; labels: Record<string, unknown> }[]) => values.filter((v) => v.labels.tenant === label)
    const slot = this.#options.changes ? (this.#options.changes.metricsLabel ?? this.#options.changes.slotName) : undefined
    const errorsByCode: Record<string, number> = {}
    for (const value of mine((await metrics.errors.get()).values)) {
      const code = String(value.labels.code)
      errorsByCode[code] = (errorsByCode[code] ?? 0) + value.value
    }
    return {
      messagesIn: sum(mine((await metrics.messagesIn.get()).values)),
      messagesOut: sum((await metrics.messagesOut.get()).values),
      changes: slot ? await counterTotal(this.#options.registry, 'switchboard_cdc_changes_total', slot) : 0,
      rlsChecks: slot ? await counterTotal(this.#options.registry, 'switchboard_cdc_auth_queries_total', slot) : 0,
      errorsByCode,
    }
  }

  async #slotLag(): Promise<SlotLag | null> {
    const changes = this.#options.changes
    if (!changes) return null
    const slot = changes.slotName
    const [row] = await this.#options.sql<{ lag: number | null; retained: number | null; active: boolean }[]>`
      select pg_wal_lsn_diff(pg_current_wal_lsn(), coalesce(r.sent_lsn, s.confirmed_flush_lsn))::float8 as lag,
             pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::float8 as retained,
             s.active
      from pg_replication_slots s left join pg_stat_replication r on r.pid = s.active_pid
      where s.slot_name = ${slot}`
    if (!row) return { slot, lagBytes: null, retainedBytes: null, active: false }
    return { slot, lagBytes: row.lag === null ? null : Math.max(0, row.lag), retainedBytes: row.retained, active: row.active }
  }
}

const sum = (values: readonly { value: number }[]) => values.reduce((total, v) => total + v.value, 0)

async function counterTotal(registry: Registry, name: string, slot: string): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (!metric) return 0
  const { values } = await metric.get()
  return values.reduce((total, v) => total + (v.labels.slot === slot ? v.value : 0), 0)
}

/** `calls` → `public.calls`. */
function qualify(table: string): string {
  return table.includes('.') ? table : `public.${table}`
}

function keyMatches(key: Record<string, string | null>, pk: string): boolean {
  const values = Object.values(key)
  if (values.length === 1) return values[0] === pk
  return values.join(',') === pk
}
