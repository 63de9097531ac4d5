/**
 * One tenant: its read-only services (who may do what, limits, clock, logs, metrics, the
 * Postgres Changes engine, the store of persisted broadcasts) next to its hub (the one
 * delivery path: topics, presence, the ordered log, cluster publish).
 *
 * The services are built first, then the hub, and both are handed to the Postgres Changes
 * engine and to the channels: nothing is bound late (tenant/start-tenant.ts does it).
 *
 * A server runs the `default` tenant from its flags, and with a control database any number
 * of stored ones (tenant/tenant-registry.ts starts them on first use and stops them when idle).
 * `limits` is the tenant's own object: the registry updates it in place when the admin API
 * changes a quota, so every check that reads it (socket, channel, quota) sees the new value.
 */
import type { AuthContext } from '../auth/auth-context.js'
import type { JwtVerifier } from '../auth/jwt-verifier.js'
import type { Clock } from '../clock.js'
import type { Limits } from '../limits.js'
import type { Logger } from '../logger.js'
import type { TenantMetrics } from '../metrics.js'
import type { Change } from '../cdc/change.js'
import type { ChangeSubscriber, PreparedBindings, ReplayedChange } from '../cdc/postgres-changes-service.js'
import type { CompiledBinding } from '../cdc/binding-validator.js'
import type { BroadcastStore } from '../db/broadcast-store.js'
import type { TenantHub } from '../hub/tenant-hub.js'
import { TenantQuota } from './tenant-quota.js'

/** Private-channel authorization through RLS on realtime.messages (auth/channel-authorizer.ts). */
export interface ChannelAuthorization {
  authorizeRead(topic: string, auth: AuthContext, extensions: ('broadcast' | 'presence')[]): Promise<{ broadcast: boolean; presence: boolean }>
  authorizeWrite(topic: string, auth: AuthContext, extension: 'broadcast' | 'presence'): Promise<boolean>
}

/** The channel's side of the Postgres Changes engine (cdc/postgres-changes-service.ts implements it). */
export interface PostgresChangesEngine {
  bindingId(binding: Record<string, unknown>): number
  /** Validates bindings against the catalog. Never throws. */
  prepare(bindings: ReadonlyArray<Record<string, unknown>>, auth: AuthContext): Promise<PreparedBindings>
  /** Registers prepared bindings at log position `cursor` (synchronous). */
  register(subscriber: ChangeSubscriber, bindings: CompiledBinding[], auth: AuthContext, cursor: number): void
  updateAuth(subscriber: ChangeSubscriber, auth: AuthContext): void
  unsubscribe(subscriber: ChangeSubscriber): void
  /** The changes among `changes` (from the log) that `subscriber` may see now, in order. */
  replay(subscriber: ChangeSubscriber, changes: readonly Change[]): Promise<ReplayedChange[]>
  /** Whether the replication connection is up (`replication_ready`). */
  readonly streaming: boolean
  whenStreaming(): Promise<void>
  /** Whether this node reads the replication slot (always on one node; the elected reader in a cluster). */
  readonly readsSlot: boolean
}

/** What a tenant's channels read and never change. */
export interface TenantServices {
  readonly id: string
  readonly verifier: JwtVerifier
  readonly authorizer: ChannelAuthorization
  readonly postgresChanges: PostgresChangesEngine | null
  /** Persisted broadcasts in `realtime.messages` (`persist`, `broadcast.replay`). */
  readonly messages: BroadcastStore
  readonly limits: Limits
  readonly clock: Clock
  readonly logger: Logger
  readonly metrics: TenantMetrics
}

/** A tenant: its services (read-only, copied in as they are) and its hub. */
// The interface merges the services' fields into the class, so they are declared once.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface Tenant extends TenantServices {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class Tenant {
  readonly hub: TenantHub
  /** Tenant-wide events, bytes and joins per second, summed over its sockets and REST calls. */
  readonly quota: TenantQuota
  /** Set during graceful shutdown: new joins are refused with `RealtimeRestarting`. */
  shuttingDown = false
  /** Public channels are refused (`PrivateOnly`); changed live by the admin API. */
  privateOnly = false

  constructor(services: TenantServices, hub: TenantHub) {
    Object.assign(this, services)
    this.hub = hub
    this.quota = new TenantQuota(services.limits, services.clock)
  }
}
