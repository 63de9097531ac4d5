/**
 * The scale-out seam (style.md §9, Socket.IO `cluster-adapter.ts`): how a tenant's hub shares
 * its log and presence with other nodes. Channels never see it; the hub (hub/tenant-hub.ts)
 * is the only caller.
 *
 * One node (`LocalClusterAdapter`, `shared: false`): the hub positions messages in its own log
 * and nothing leaves the process.
 *
 * A cluster (cluster/redis-tenant-log.ts, `shared: true`): positions come from the shared log,
 * so a message goes out first and comes back positioned, to every node that hosts its topic:
 *
 *   publish ──append──▶ shared log (position N) ──▶ every node hosting the topic ──▶ hub.logged(N)
 *
 * A node hosts a topic while it has channels on it (`host`/`release`): it then receives the
 * topic's messages in position order, and what came before is read back from the shared log
 * (`read`).
 */
import type { PresenceDiff, PresenceGroup } from '../presence/presence-topic.js'
import type { SharedMessage } from './shared-message.js'
import type { SharedChanges } from '../cdc/postgres-changes-service.js'
import type { Clock } from '../clock.js'

/** What the shared log and the other nodes hand to this node's hub. */
export interface ClusterSink {
  /** A message of the shared log at `seq`, in position order (topics this node hosts, and changes). */
  logged(seq: number, message: SharedMessage): void
  /** A presence diff from another node (`node` tracked or untracked). */
  remotePresence(topicKey: string, node: string, diff: PresenceDiff): void
  /** Presences of `node` are gone (the node died or lost its Redis session). */
  nodeGone(node: string): void
  /** The shared log was lost (Redis came back empty): positions start again in `epoch`. */
  reset(epoch: string): void
  /** The last position this node has (where reading back after a lost connection starts). */
  lastPosition(): number
  /** Messages for this node may be gone (a lost connection, longer than the log keeps): every channel rejoins. */
  lost(reason: string): void
  /** This node's own presences on a topic (re-published after a lost connection). */
  localPresence(topicKey: string): PresenceGroup
}

/** Entries of the shared log after a position, or why they cannot be had. */
export type SharedRead =
  | { ok: true; entries: { seq: number; message: SharedMessage }[] }
  | { ok: false; reason: 'evicted' | 'epoch' | 'error' }

/** A topic's presences on other nodes: node → presence ref → key and meta. */
export type RemotePresences = Map<string, Map<string, { key: string; meta: PresenceGroup[string]['metas'][number] }>>

export interface ClusterAdapter {
  /** Positions come from the cluster (true) or from this node's log (false). */
  readonly shared: boolean
  /** Messages that could not be appended to the shared log (Redis away). */
  readonly failedAppends: number
  /** Starts; resolves with the shared log's epoch (null: one node, the hub picks its own). */
  start(sink: ClusterSink): Promise<string | null>
  /**
   * Appends a message to the shared log; it comes back through `sink.logged` on every node
   * hosting its topic. Resolves once Redis has it (what an acknowledgement waits for); rejects
   * when it could not be appended.
   */
  append(message: SharedMessage): Promise<void>
  /**
   * This node starts (or keeps) receiving `topicKey`. Resolves with a position P such that
   * every later message of the topic reaches this node through `sink.logged` and every earlier
   * one is in the shared log; the topic's presences on other nodes come with it.
   */
  host(topicKey: string): Promise<{ position: number; presences: RemotePresences }>
  /** No channel of this node is on the topic any more. */
  release(topicKey: string): void
  /** The shared log's entries in (after, through], oldest first. */
  read(after: number, through: number): Promise<SharedRead>
  /** Starts receiving runs of Postgres changes; resolves with a position after which every run arrives. */
  hostChanges(): Promise<number>
  /** The elected slot reader for the tenant's Postgres Changes (null: one node reads its slot itself). */
  slotReader(hostChanges: () => Promise<number>, clock: Clock): SharedChanges | null
  /** This node's presence diff on a topic, for the other nodes. */
  publishPresence(topicKey: string, diff: PresenceDiff): void
  stop(): Promise<void>
}

/** One node: nothing to share. */
export class LocalClusterAdapter implements ClusterAdapter {
  readonly shared = false
  readonly failedAppends = 0
  async start(): Promise<string | null> {
    return null
  }
  async append(): Promise<void> {}
  async host(): Promise<{ position: number; presences: RemotePresences }> {
    return { position: 0, presences: new Map() }
  }
  release(): void {}
  async read(): Promise<SharedRead> {
    return { ok: false, reason: 'epoch' }
  }
  async hostChanges(): Promise<number> {
    return 0
  }
  slotReader(): SharedChanges | null {
    return null
  }
  publishPresence(): void {}
  async stop(): Promise<void> {}
}
