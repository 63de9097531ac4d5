/**
 * What each node tells the others about the tenants it serves, once per heartbeat: the
 * inspector's per-node overview (connections, channels and presences on each node, and which
 * node reads the tenant's replication slot) without asking every node over the network when
 * someone opens the page.
 *
 * Counted in one pass over this node's sockets, whatever the number of tenants; published by
 * RedisNode as one expiring key per tenant and node, so a node that dies drops out of the
 * overview when its keys expire, as it drops out of `sb:nodes`.
 */
import type { Connection } from '../socket/connection.js'
import type { Tenant } from '../tenant/tenant.js'

export interface NodeTenantFigures {
  connections: number
  /** Joined channels (subscriptions to a topic), as the single-node overview counts them. */
  channels: number
  presences: number
  /** Whether this node reads the tenant's replication slot (the elected CDC reader). */
  readsSlot: boolean
}

/** One node's figures for a tenant, as another node read them from Redis. */
export interface PeerFigures extends NodeTenantFigures {
  node: string
}

/** This node's figures per running tenant. */
export function nodeReport(tenants: Iterable<Tenant>, connections: Iterable<Connection>): Map<string, NodeTenantFigures> {
  const report = new Map<string, NodeTenantFigures>()
  for (const tenant of tenants) {
    let channels = 0
    for (const [, subscribers] of tenant.hub.topics.entries()) channels += subscribers.size
    report.set(tenant.id, { connections: 0, channels, presences: tenant.hub.presence.size, readsSlot: tenant.postgresChanges?.readsSlot ?? false })
  }
  for (const connection of connections) {
    const figures = connection.closedAt === null ? report.get(connection.tenant.id) : undefined
    if (figures) figures.connections++
  }
  return report
}

/** Parses a peer's published figures; null for anything malformed (a peer of another version). */
export function parseFigures(node: string, text: string | null): PeerFigures | null {
  if (text === null) return null
  try {
    const value = JSON.parse(text) as Partial<NodeTenantFigures>
    const count = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : 0)
    return { node, connections: count(value.connections), channels: count(value.channels), presences: count(value.presences), readsSlot: value.readsSlot === true }
  } catch {
    return null
  }
}
