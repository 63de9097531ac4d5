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
import type { PresenceDiff } from '../presence/presence-topic.js'

/** Private-channel authorization through RLS on realtime.messages (auth/channel-authorizer.ts). */
export interface ChannelAuthorization {
  authorizeRead(topic: string, auth: AuthContext, extensions: ('broadcast' | 'presence')[]): Promise<{ broadcast: boolean; presence: boolean }>
  authorizeWrite(topic: string, auth: AuthContext, extension: 'broadcast' | 'presence'): Promise<boolean>
}

/** A position in the change stream (commit LSN and index in the transaction). */
export interface ChangePosition {
  lsn: bigint
  index: number
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
  }

  async start(): Promise<void> {
    await this.#cluster.start((message) => this.#deliverLocal(message))
  }

  async stop(): Promise<void> {
    await this.#cluster.stop()
  }

  publishJson(topicKey: string, topic: string, payload: Record<string, unknown>, except?: FanoutSubscriber): void {
    this.topics.broadcastJson(topicKey, topic, payload, except)
    this.#cluster.publish({ type: 'broadcast-json', topicKey, payload })
  }

  publishUser(topicKey: string, topic: string, broadcast: UserBroadcast, except?: FanoutSubscriber): void {
    this.topics.broadcastUser(topicKey, topic, broadcast, except)
    this.#cluster.publish({ type: 'broadcast-user', topicKey, broadcast })
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
        this.topics.broadcastJson(message.topicKey, topic, message.payload)
        break
      case 'broadcast-user':
        this.topics.broadcastUser(message.topicKey, topic, message.broadcast)
        break
      case 'presence-diff':
        this.topics.presenceDiff(message.topicKey, topic, message.diff)
        break
    }
  }
}
