/**
 * The scale-out seam (style.md §9, Socket.IO `cluster-adapter.ts`). Everything a node
 * publishes to a topic goes through `publish`; messages from other nodes arrive through the
 * handler given to `start`. The local adapter has no other nodes, so it does nothing; a
 * Redis adapter will implement the same two methods without touching channels.
 */
import type { UserBroadcast } from '@switchboard/protocol'
import type { PresenceDiff } from '../presence/presence-topic.js'

export type ClusterMessage =
  | { type: 'broadcast-json'; topicKey: string; payload: Record<string, unknown> }
  | { type: 'broadcast-user'; topicKey: string; broadcast: UserBroadcast }
  | { type: 'presence-diff'; topicKey: string; diff: PresenceDiff }

export interface ClusterAdapter {
  start(onMessage: (message: ClusterMessage) => void): Promise<void>
  publish(message: ClusterMessage): void
  stop(): Promise<void>
}

/** One node: nothing to share. */
export class LocalClusterAdapter implements ClusterAdapter {
  async start(): Promise<void> {}
  publish(): void {}
  async stop(): Promise<void> {}
}
