/**
 * What each node tells the others about the tenants it serves, once per heartbeat: the
 * inspector's per-node overview (connections, channels, presences and rates on each node, and
 * which node reads the tenant's replication slot) without asking every node over the network
 * when someone opens the page.
 *
 * The figures are the inspector's latest one-second sample of each tenant (inspect/
 * tenant-sampler.ts), which it takes anyway; RedisNode publishes them as one expiring key per
 * tenant and node, so a node that dies drops out of the overview when its keys expire, as it
 * drops out of `sb:nodes`.
 */
import type { NodeFigures } from '../inspect/api-types.js'

/** A node's share of one tenant, as published: the overview's figures (inspect/api-types.ts) without the node's name. */
export interface NodeTenantFigures extends Omit<NodeFigures, 'id' | 'cdcLeader'> {
  /** Whether this node reads the tenant's replication slot (the elected CDC reader). */
  readsSlot: boolean
}

/** One node's figures for a tenant, as another node read them from Redis. */
export interface PeerFigures extends NodeTenantFigures {
  node: string
}

/** Parses a peer's published figures; null for anything malformed (a peer of another version). */
export function parseFigures(node: string, text: string | null): PeerFigures | null {
  if (text === null) return null
  try {
    const value = JSON.parse(text) as Partial<NodeTenantFigures>
    const count = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : 0)
    return {
      node,
      connections: count(value.connections),
      channels: count(value.channels),
      presences: count(value.presences),
      messagesIn: count(value.messagesIn),
      messagesOut: count(value.messagesOut),
      rlsChecks: count(value.rlsChecks),
      readsSlot: value.readsSlot === true,
    }
  } catch {
    return null
  }
}
