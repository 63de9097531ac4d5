/**
 * Prometheus metrics of the Postgres Changes engine. One set per registry (several services —
 * tenants — share it, told apart by the `slot` label).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'

export interface CdcMetrics {
  changes: Counter<'slot' | 'type'>
  deliveries: Counter<'slot'>
  authQueries: Counter<'slot'>
  catalogLoads: Counter<'slot' | 'kind'>
  eventsOverLimit: Counter<'slot'>
  batchSeconds: Histogram<'slot'>
  bindings: Gauge<'slot'>
  batchFailures: Counter<'slot'>
  unacknowledgedBytes: Gauge<'slot'>
  transactionsOverBounds: Counter<'slot'>
  changesOverBounds: Counter<'slot'>
  largestHeldTransactionChanges: Gauge<'slot'>
  largestHeldTransactionBytes: Gauge<'slot'>
}

const perRegistry = new WeakMap<Registry, CdcMetrics>()

export function cdcMetrics(registry: Registry = new Registry()): CdcMetrics {
  const existing = perRegistry.get(registry)
  if (existing) return existing
  const registers = [registry]
  const metrics: CdcMetrics = {
    changes: new Counter({ name: 'switchboard_cdc_changes_total', help: 'Row changes read from the replication stream', labelNames: ['slot', 'type'], registers }),
    deliveries: new Counter({ name: 'switchboard_cdc_deliveries_total', help: 'postgres_changes messages handed to channels', labelNames: ['slot'], registers }),
    authQueries: new Counter({ name: 'switchboard_cdc_auth_queries_total', help: 'RLS authorization queries (one per table per auth context per batch)', labelNames: ['slot'], registers }),
    catalogLoads: new Counter({
      name: 'switchboard_cdc_catalog_loads_total',
      help: 'Catalog lookups that queried the database (cache misses): tables, types, role rights, policies',
      labelNames: ['slot', 'kind'], registers,
    }),
    eventsOverLimit: new Counter({
      name: 'switchboard_cdc_events_over_limit_total',
      help: 'Database change events beyond maxDbEventsPerSecond (counted, still delivered)',
      labelNames: ['slot'], registers,
    }),
    batchSeconds: new Histogram({
      name: 'switchboard_cdc_batch_seconds', help: 'Time to route, authorize and deliver one batch of transactions',
      labelNames: ['slot'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers,
    }),
    bindings: new Gauge({ name: 'switchboard_cdc_bindings', help: 'postgres_changes bindings in the subscription index', labelNames: ['slot'], registers }),
    batchFailures: new Counter({
      name: 'switchboard_cdc_batch_failures_total',
      help: 'Batches that failed to route or authorize and were retried (never acknowledged past)',
      labelNames: ['slot'], registers,
    }),
    unacknowledgedBytes: new Gauge({
      name: 'switchboard_cdc_retained_wal_bytes',
      help: 'WAL bytes between the slot acknowledgement and the newest transaction read (the replay window kept in the slot)',
      labelNames: ['slot'], registers,
    }),
    transactionsOverBounds: new Counter({
      name: 'switchboard_cdc_transactions_over_bounds_total',
      help: 'Transactions over maxTransactionChanges or maxTransactionBytes (their remaining changes were delivered as 413 errors)',
      labelNames: ['slot'], registers,
    }),
    changesOverBounds: new Counter({
      name: 'switchboard_cdc_changes_over_bounds_total', help: 'Changes not kept because their transaction was over its bounds',
      labelNames: ['slot'], registers,
    }),
    largestHeldTransactionChanges: new Gauge({
      name: 'switchboard_cdc_largest_held_transaction_changes', help: 'Most changes held in memory for one transaction since start',
      labelNames: ['slot'], registers,
    }),
    largestHeldTransactionBytes: new Gauge({
      name: 'switchboard_cdc_largest_held_transaction_bytes', help: 'Most payload bytes held in memory for one transaction since start',
      labelNames: ['slot'], registers,
    }),
  }
  perRegistry.set(registry, metrics)
  return metrics
}
