/**
 * What an operator sees of this node's place in the cluster: `/metrics` gauges read at scrape
 * time (Redis up, round trips, which tenants' slot this node reads, how far its copy of each
 * tenant's log is behind the shared log's last position it saw) and the `/health` summary.
 */
import { Counter, Gauge, type Registry } from 'prom-client'
import type { RedisNode } from './redis-node.js'
import type { Tenant } from '../tenant/tenant.js'

export interface ClusterView {
  node: RedisNode
  /** The tenants running on this node now. */
  tenants: () => Iterable<Tenant>
}

export function registerClusterMetrics(registry: Registry, view: ClusterView): void {
  const registers = [registry]
  new Gauge({
    name: 'switchboard_cluster_redis_up',
    help: '1 while this node is connected to the cluster Redis',
    registers,
    collect() {
      this.set(view.node.state === 'connected' ? 1 : 0)
    },
  })
  new Gauge({
    name: 'switchboard_cluster_nodes',
    help: 'Nodes alive at the last heartbeat check, this one included',
    registers,
    collect() {
      this.set(view.node.liveNodes.size)
    },
  })
  let counted = 0
  new Counter({
    name: 'switchboard_cluster_redis_round_trips_total',
    help: 'Commands and scripts this node sent to Redis',
    registers,
    collect() {
      this.inc(view.node.roundTrips - counted)
      counted = view.node.roundTrips
    },
  })
  new Gauge({
    name: 'switchboard_cluster_slot_reader',
    help: '1 for each tenant whose replication slot this node reads (the elected reader)',
    labelNames: ['tenant'] as const,
    registers,
    collect() {
      this.reset()
      for (const tenant of view.tenants()) if (tenant.postgresChanges) this.set({ tenant: tenant.id }, tenant.postgresChanges.readsSlot ? 1 : 0)
    },
  })
  new Gauge({
    name: 'switchboard_cluster_failed_appends',
    help: 'Messages this node could not append to the shared log (Redis away), per tenant, since start',
    labelNames: ['tenant'] as const,
    registers,
    collect() {
      this.reset()
      for (const tenant of view.tenants()) this.set({ tenant: tenant.id }, tenant.hub.failedAppends)
    },
  })
}

/** The `/health` summary of this node's cluster state. */
export function clusterHealth(view: ClusterView): Record<string, unknown> {
  const readsSlotFor: string[] = []
  for (const tenant of view.tenants()) if (tenant.postgresChanges?.readsSlot) readsSlotFor.push(tenant.id)
  return { redis: view.node.state, nodes: [...view.node.liveNodes].sort(), readsSlotFor }
}
