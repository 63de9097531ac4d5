/**
 * One tenant: its read-only services (who may do what, limits, clock, logs, metrics, the
 * Postgres Changes engine, the store of persisted broadcasts) next to its hub (the one
 * delivery path: topics, presence, the ordered log, cluster publish).
 *
 * The server builds the services first, then the hub, and hands both to the Postgres Changes
 * engine and to the channels: nothing is bound late.
 *
 * Switchboard runs one default tenant from the CLI flags today; a tenant store (several
 * databases and secrets, resolved from the Host subdomain like Supabase) creates several.
 */
import type { AuthContext } from '../auth/auth-context.js'
import type { JwtVerifier } from '../auth/jwt-verifier.js'
import type { Clock } from '../clock.js'
import type { Limits } from '../limits.js'
import type { Logger } from '../logger.js'
import type { ServerMetrics } from '../metrics.js'
import type { Change } from '../cdc/change.js'
import type { ChangeSubscriber, PreparedBindings, ReplayedChange } from '../cdc/postgres-changes-service.js'
import type { CompiledBinding } from '../cdc/binding-validator.js'
import type { BroadcastStore } from '../db/broadcast-store.js'
import type { TenantHub } from '../hub/tenant-hub.js'

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
  readonly metrics: ServerMetrics
}

/** A tenant: its services (read-only, copied in as they are) and its hub. */
// The interface merges the services' fields into the class, so they are declared once.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface Tenant extends TenantServices {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class Tenant {
  readonly hub: TenantHub
  /** Set during graceful shutdown: new joins are refused with `RealtimeRestarting`. */
  shuttingDown = false

  constructor(services: TenantServices, hub: TenantHub) {
    Object.assign(this, services)
    this.hub = hub
  }
}
