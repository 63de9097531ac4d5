/**
 * Prometheus metrics (prom-client), one registry per server instance so several servers in
 * one process (tests) do not collide. Hot paths count in plain integers and the flush loop
 * adds them in bulk: a prom-client `inc()` per delivered frame would cost more than the frame.
 *
 * Tenant series carry a `tenant` label whose cardinality is bounded: the first
 * `maxTenantLabels` tenants seen get their own id as label, every later one shares `_other`
 * (a scrape never grows with the number of registered tenants). Labels are never reassigned
 * within a process, so counters stay monotonic per label.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import type { ErrorCode } from '@switchboard/protocol'

/** The label of tenants past the label budget. */
export const OTHER_TENANTS_LABEL = '_other'
/** Default number of tenants with a label of their own. */
export const DEFAULT_MAX_TENANT_LABELS = 100

/** A tenant's view of the server's metrics: every series it touches carries its label. */
export interface TenantMetrics {
  /** The tenant's label: its id, or `_other` past the label budget. */
  readonly label: string
  readonly registry: Registry
  /** The server's metrics these are a view of (series of this tenant: `tenant` = `label`). */
  readonly server: ServerMetrics
  readonly connections: { inc(): void; dec(): void }
  readonly channels: { inc(): void; dec(): void }
  readonly joins: { inc(labels: { result: 'ok' | 'error' }): void }
  readonly messagesIn: { inc(labels: { kind: string }): void }
  /**
   * Frames and bytes written to the tenant's sockets: plain numbers the socket flush adds to
   * (no metric call per write), turned into `switchboard_tenant_messages_out_total` and
   * `switchboard_tenant_bytes_out_total` at scrape time.
   */
  readonly delivered: DeliveredTally
  countError(code: ErrorCode): void
}

/** What a tenant's sockets wrote, counted on the write path and read at scrape time. */
export interface DeliveredTally {
  frames: number
  bytes: number
}

export interface ServerMetrics {
  registry: Registry
  connections: Gauge<'tenant'>
  channels: Gauge<'tenant'>
  joins: Counter<'result' | 'tenant'>
  messagesIn: Counter<'kind' | 'tenant'>
  messagesOut: Counter
  bytesOut: Counter
  errors: Counter<'code' | 'tenant'>
  /** Tenants known to this node by state (`running`: pool and stream up; `idle`: config cached only). */
  tenants: Gauge<'state'>
  /** An error not attributable to a tenant (an unknown one, a bad path): label `tenant=""`. */
  countError(code: ErrorCode): void
  /** The metrics of one tenant (memoized; bounded label set). */
  forTenant(tenantId: string): TenantMetrics
}

export function createMetrics(options: { defaultMetrics?: boolean; maxTenantLabels?: number } = {}): ServerMetrics {
  const registry = new Registry()
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'switchboard_' })
  const registers = [registry]
  const maxLabels = options.maxTenantLabels ?? DEFAULT_MAX_TENANT_LABELS
  const errors = new Counter({ name: 'switchboard_errors_total', help: 'Errors by stable code', labelNames: ['code', 'tenant'] as const, registers })
  const connections = new Gauge({ name: 'switchboard_connections', help: 'Open WebSocket connections', labelNames: ['tenant'] as const, registers })
  const channels = new Gauge({ name: 'switchboard_channels', help: 'Joined channels', labelNames: ['tenant'] as const, registers })
  const joins = new Counter({ name: 'switchboard_joins_total', help: 'Channel joins by result', labelNames: ['result', 'tenant'] as const, registers })
  const messagesIn = new Counter({ name: 'switchboard_messages_in_total', help: 'Messages received from clients by kind', labelNames: ['kind', 'tenant'] as const, registers })
  const views = new Map<string, TenantMetrics>()
  let other: TenantMetrics | null = null
  // Two collectors read the same tallies: each keeps its own baseline.
  const framesBaseline = new Map<TenantMetrics, number>()
  const bytesBaseline = new Map<TenantMetrics, number>()
  const collectDelta = (baseline: Map<TenantMetrics, number>, pick: (tally: DeliveredTally) => number) =>
    function (this: Counter<'tenant'>) {
      for (const metrics of [...views.values(), ...(other ? [other] : [])]) {
        const now = pick(metrics.delivered)
        const delta = now - (baseline.get(metrics) ?? 0)
        if (delta > 0) this.inc({ tenant: metrics.label }, delta)
        baseline.set(metrics, now)
      }
    }
  new Counter({ name: 'switchboard_tenant_messages_out_total', help: 'WebSocket messages sent to clients, per tenant', labelNames: ['tenant'] as const, registers, collect: collectDelta(framesBaseline, (t) => t.frames) })
  new Counter({ name: 'switchboard_tenant_bytes_out_total', help: 'Bytes of WebSocket payload sent to clients, per tenant', labelNames: ['tenant'] as const, registers, collect: collectDelta(bytesBaseline, (t) => t.bytes) })

  // A function declaration: it reads `server`, built below, only when a tenant asks.
  function view(tenant: string): TenantMetrics {
    const connectionsChild = connections.labels({ tenant })
    const channelsChild = channels.labels({ tenant })
    return {
      label: tenant,
      registry,
      server,
      connections: { inc: () => connectionsChild.inc(), dec: () => connectionsChild.dec() },
      channels: { inc: () => channelsChild.inc(), dec: () => channelsChild.dec() },
      joins: { inc: ({ result }) => joins.inc({ result, tenant }) },
      messagesIn: { inc: ({ kind }) => messagesIn.inc({ kind, tenant }) },
      delivered: { frames: 0, bytes: 0 },
      countError: (code) => errors.inc({ code, tenant }),
    }
  }

  const server: ServerMetrics = {
    registry,
    connections,
    channels,
    joins,
    messagesIn,
    messagesOut: new Counter({ name: 'switchboard_messages_out_total', help: 'WebSocket messages sent to clients', registers }),
    bytesOut: new Counter({ name: 'switchboard_bytes_out_total', help: 'Bytes of WebSocket payload sent to clients', registers }),
    errors,
    tenants: new Gauge({ name: 'switchboard_tenants', help: 'Tenants known to this node by state', labelNames: ['state'] as const, registers }),
    countError: (code) => errors.inc({ code, tenant: '' }),
    forTenant(tenantId) {
      const existing = views.get(tenantId)
      if (existing) return existing
      if (views.size >= maxLabels) return (other ??= view(OTHER_TENANTS_LABEL))
      const created = view(tenantId)
      views.set(tenantId, created)
      return created
    },
  }
  return server
}
