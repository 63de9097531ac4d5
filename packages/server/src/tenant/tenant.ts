/**
 * Everything one tenant's channels share: its JWT verifier, its database authorizer, the
 * topic and presence registries, the Postgres Changes engine and the cluster adapter.
 *
 * Switchboard runs one default tenant from the CLI flags today; a tenant store (several
 * databases and secrets, resolved from the Host subdomain like Supabase) can create several
 * of these later without touching channels.
 */
import type { UserBroadcast } from '@switchboard/protocol'
import type { AuthContext } from '../auth/auth-context.js'
import type { JwtVerifier } from '../auth/jwt-verifier.js'
import type { Clock } from '../clock.js'
import type { ClusterAdapter, ClusterMessage } from '../cluster/cluster-adapter.js'
import type { Limits } from '../limits.js'
import type { Logger } from '../logger.js'
import type { ServerMetrics } from '../metrics.js'
import { TopicRegistry, type FanoutSubscriber } from '../broadcast/topic-registry.js'
import { PresenceRegistry } from '../presence/presence-registry.js'
import { ReplayLog, type ReplayLimits } from '../replay/replay-log.js'
import type { ReplayEntry } from '../replay/replay-entry.js'
import type { PresenceDiff } from '../presence/presence-topic.js'

/** Private-channel authorization through RLS on realtime.messages (auth/channel-authorizer.ts). */
export interface ChannelAuthorization {
  authorizeRead(topic: string, auth: AuthContext, extensions: ('broadcast' | 'presence')[]): Promise<{ broadcast: boolean; presence: boolean }>
  authorizeWrite(topic: string, auth: AuthContext, extension: 'broadcast' | 'presence'): Promise<boolean>
}

/** A position in the change stream (commit LSN, index in the transaction, replay position). */
export interface ChangePosition {
  lsn: bigint
  index: number
  seq: number
}

/** One change replayed to one subscriber. */
export interface ReplayedChange {
  ids: readonly number[]
  dataJson: string
  position: ChangePosition
}

/** The channel's side of the Postgres Changes seam (cdc/postgres-changes-service.ts). */
export interface ChangeSubscriber {
  deliverChange(ids: readonly number[], dataJson: string, position: ChangePosition): void
  systemMessage(status: 'ok' | 'error', message: string): void
}

export interface PostgresChangesEngine {
  bindingId(binding: Record<string, unknown>): number
  subscribe(subscriber: ChangeSubscriber, bindings: ReadonlyArray<Record<string, unknown>>, auth: AuthContext): Promise<void>
  updateAuth(subscriber: ChangeSubscriber, auth: AuthContext): void
  unsubscribe(subscriber: ChangeSubscriber): void
  /** The changes among `changes` (from the replay log) that `subscriber` may see now, in order. */
  replay(subscriber: ChangeSubscriber, changes: readonly unknown[]): Promise<ReplayedChange[]>
}

export interface TenantOptions {
  id: string
  verifier: JwtVerifier
  authorizer: ChannelAuthorization
  postgresChanges: PostgresChangesEngine | null
  cluster: ClusterAdapter
  limits: Limits
  clock: Clock
  logger: Logger
  metrics: ServerMetrics
  replay: ReplayLimits
}

/**
 * Who sent a broadcast whose sender must not receive it (`self: false`): its channel, skipped
 * in live fan-out, and its resume session, skipped when that session replays the log.
 */
export interface BroadcastSender {
  exclude: FanoutSubscriber
  session: string | null
}

export class Tenant {
  readonly id: string
  readonly verifier: JwtVerifier
  readonly authorizer: ChannelAuthorization
  readonly postgresChanges: PostgresChangesEngine | null
  readonly limits: Limits
  readonly clock: Clock
  readonly logger: Logger
  readonly metrics: ServerMetrics
  readonly topics = new TopicRegistry()
  readonly presence = new PresenceRegistry<FanoutSubscriber>()
  /** Every delivered message, by tenant-wide position, for channels that resume (replay/). */
  readonly replayLog: ReplayLog<ReplayEntry>
  readonly #cluster: ClusterAdapter
  /** Set during graceful shutdown: new joins are refused with `RealtimeRestarting`. */
  shuttingDown = false

  constructor(options: TenantOptions) {
    this.id = options.id
    this.verifier = options.verifier
    this.authorizer = options.authorizer
    this.postgresChanges = options.postgresChanges
    this.limits = options.limits
    this.clock = options.clock
    this.logger = options.logger
    this.metrics = options.metrics
    this.#cluster = options.cluster
    this.replayLog = new ReplayLog<ReplayEntry>(options.replay, options.clock)
  }

  async start(): Promise<void> {
    await this.#cluster.start((message) => this.#deliverLocal(message))
  }

  async stop(): Promise<void> {
    await this.#cluster.stop()
  }

  /** A JSON-object broadcast to a topic: logged for replay, delivered here and on other nodes. */
  publishJson(topicKey: string, topic: string, payload: Record<string, unknown>, sender?: BroadcastSender): void {
    this.#deliverJson(topicKey, topic, payload, sender)
    this.#cluster.publish({ type: 'broadcast-json', topicKey, payload })
  }

  /** A user (bytes) broadcast to a topic: logged for replay, delivered here and on other nodes. */
  publishUser(topicKey: string, topic: string, broadcast: UserBroadcast, sender?: BroadcastSender): void {
    this.#deliverUser(topicKey, topic, broadcast, sender)
    this.#cluster.publish({ type: 'broadcast-user', topicKey, broadcast })
  }

  /** The replay position of a Postgres change, assigned in delivery order by the CDC engine. */
  sequenceChange(change: unknown, bytes: number): number {
    return this.replayLog.append({ kind: 'change', change }, bytes)
  }

  #deliverJson(topicKey: string, topic: string, payload: Record<string, unknown>, sender?: BroadcastSender): void {
    // JSON-object broadcasts come from vsn 1.0.0 clients and REST (kind-3 bytes are the hot
    // path), so measuring their size for the log's byte bound by stringifying is affordable.
    const bytes = JSON.stringify(payload).length
    const seq = this.replayLog.append({ kind: 'broadcast-json', topicKey, topic, payload, senderSession: sender?.session ?? null }, bytes)
    this.topics.broadcastJson(topicKey, topic, payload, seq, sender?.exclude)
  }

  #deliverUser(topicKey: string, topic: string, broadcast: UserBroadcast, sender?: BroadcastSender): void {
    const seq = this.replayLog.append({ kind: 'broadcast-user', topicKey, topic, broadcast, senderSession: sender?.session ?? null }, broadcast.payload.length + 128)
    this.topics.broadcastUser(topicKey, topic, broadcast, seq, sender?.exclude)
  }

  publishPresenceDiff(topicKey: string, topic: string, diff: PresenceDiff): void {
    this.topics.presenceDiff(topicKey, topic, diff)
    this.#cluster.publish({ type: 'presence-diff', topicKey, diff })
  }

  /**
   * A `realtime.send` / `broadcast_changes` row from the replication stream: a user broadcast
   * on its topic with `meta.id` (§3.6). Private topics reach only channels whose broadcast-read
   * was authorized at join, which the topic registry enforces.
   */
  deliverDatabaseBroadcast(message: { topic: string; event: string; private: boolean; id: string; payloadJson: string | null; binaryPayload: Uint8Array | null }): void {
    const binary = message.payloadJson === null && message.binaryPayload !== null
    const payload = binary ? message.binaryPayload! : new TextEncoder().encode(message.payloadJson ?? '{}')
    const broadcast: UserBroadcast = { event: message.event, encoding: binary ? 'binary' : 'json', payload, metadataJson: JSON.stringify({ id: message.id }) }
    this.metrics.messagesIn.inc({ kind: 'database' })
    this.publishUser(`${message.private ? 'private' : 'public'}:${message.topic}`, `realtime:${message.topic}`, broadcast)
  }

  #deliverLocal(message: ClusterMessage): void {
    const topic = `realtime:${message.topicKey.slice(message.topicKey.indexOf(':') + 1)}`
    switch (message.type) {
      case 'broadcast-json':
        this.#deliverJson(message.topicKey, topic, message.payload)
        break
      case 'broadcast-user':
        this.#deliverUser(message.topicKey, topic, message.broadcast)
        break
      case 'presence-diff':
        this.topics.presenceDiff(message.topicKey, topic, message.diff)
        break
    }
  }
}
