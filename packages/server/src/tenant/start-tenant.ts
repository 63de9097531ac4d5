/**
 * Starts one tenant: its database pool (checked), migrations, the hub, the Postgres Changes
 * engine on its permanent slot, and the Tenant that channels use; and stops it again.
 *
 *   connect ─▶ migrate ─▶ hub (log, topics, presence) ─▶ engine.start (slot attached, marker
 *   written: the slot's backlog is read back into the log as history) ─▶ Tenant
 *
 * Stopping and starting again is a restart of that tenant, nothing less: the hub's log is new
 * (a new epoch), the slot kept every change since its acknowledgement, and clients of the
 * previous run resume by stream point (hub/tenant-hub.ts, cdc/postgres-changes-service.ts).
 *
 * @example
 * const running = await startTenant({ id: 'acme', databaseUrl, verifier, limits }, deps)
 * // … running.tenant serves channels …
 * await running.stop()
 */
import type { Sql } from 'postgres'
import { ChannelAuthorizer } from '../auth/channel-authorizer.js'
import type { JwtVerifier } from '../auth/jwt-verifier.js'
import { PostgresChangesService } from '../cdc/postgres-changes-service.js'
import type { Clock } from '../clock.js'
import type { ClusterAdapter } from '../cluster/cluster-adapter.js'
import { PostgresBroadcastStore } from '../db/broadcast-store.js'
import { connectDatabase } from '../db/connect.js'
import { migrate } from '../db/migrations.js'
import type { LogLimits } from '../hub/delivery-log.js'
import { TenantHub } from '../hub/tenant-hub.js'
import { PostgresTopicMarks } from '../hub/topic-marks.js'
import type { Limits } from '../limits.js'
import type { Logger } from '../logger.js'
import type { ServerMetrics } from '../metrics.js'
import { Tenant } from './tenant.js'

/** How often a tenant's log drops what is past its age bound while no message arrives. */
const EVICT_INTERVAL_MS = 1_000

export interface TenantParameters {
  id: string
  databaseUrl: string
  verifier: JwtVerifier
  /** The tenant's live limits object (updated in place when its quotas change). */
  limits: Limits
  privateOnly?: boolean
  /**
   * Postgres Changes (default on); `slotName` overrides the slot's name, `metricsLabel` the
   * value of its metrics' `slot` label (default: the slot's name).
   */
  postgresChanges?: boolean | { slotName?: string; metricsLabel?: string }
  /** Pool size of the tenant's database connection (postgres.js `max`). Default 10. */
  poolSize?: number
}

export interface TenantDependencies {
  logger: Logger
  clock: Clock
  metrics: ServerMetrics
  replay: LogLimits
  cluster: ClusterAdapter
}

export interface RunningTenant {
  readonly tenant: Tenant
  /** The tenant's database pool. */
  readonly sql: Sql
  /** Its Postgres Changes engine, if it has one. */
  readonly engine: PostgresChangesService | null
  /** Stops the engine (acknowledging only what left the log), the hub and the pool. */
  stop(): Promise<void>
}

export async function startTenant(parameters: TenantParameters, dependencies: TenantDependencies): Promise<RunningTenant> {
  const { id, databaseUrl, limits } = parameters
  const { clock } = dependencies
  const logger = dependencies.logger.child({ tenant: id })
  const metrics = dependencies.metrics.forTenant(id)
  const cleanups: (() => Promise<void>)[] = []
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch((error: unknown) => logger.error({ err: error }, 'tenant stop step failed'))
  }
  try {
    const sql = await connectDatabase(databaseUrl, { logger, ...(parameters.poolSize ? { max: parameters.poolSize } : {}) })
    cleanups.push(() => sql.end({ timeout: 5 }))

    // The hub first: the Postgres Changes engine writes into its log, the channels read it.
    const marks = new PostgresTopicMarks(sql)
    const hub = new TenantHub({ limits: dependencies.replay, clock, logger, cluster: dependencies.cluster, marks })
    const changesOption = parameters.postgresChanges ?? true
    // In a cluster one elected node reads the slot and every node receives the runs.
    const slotReader = changesOption ? hub.slotReader() : null
    const engine = changesOption
      ? new PostgresChangesService({
          databaseUrl,
          ...(typeof changesOption === 'object' && changesOption.slotName ? { slotName: changesOption.slotName } : {}),
          ...(typeof changesOption === 'object' && changesOption.metricsLabel ? { metricsLabel: changesOption.metricsLabel } : {}),
          logger,
          clock,
          limits,
          registry: dependencies.metrics.registry,
          log: hub,
          tracing: hub.tracing,
          ...(slotReader ? { shared: slotReader } : {}),
        })
      : null
    const tenant = new Tenant(
      {
        id,
        verifier: parameters.verifier,
        authorizer: new ChannelAuthorizer(sql, logger),
        postgresChanges: engine,
        messages: new PostgresBroadcastStore(sql),
        limits,
        clock,
        logger,
        metrics,
      },
      hub,
    )
    tenant.privateOnly = parameters.privateOnly ?? false
    // The first join of a tenant waits for all of this: connections are opened side by side
    // (the engine's while migrations are checked); pruning old topic marks waits for nobody.
    // Stopped in reverse: the engine (acknowledging what left the log) before the hub.
    cleanups.push(() => hub.stop())
    if (engine) cleanups.push(() => engine.stop())
    const warming = engine?.warm()
    warming?.catch(() => {}) // a failure surfaces from start() below
    await migrate(sql, logger)
    marks.prune().catch((error: unknown) => logger.warn({ err: error }, 'pruning old topic marks failed'))
    await hub.start()
    if (engine) {
      await warming
      await engine.start()
    } else {
      hub.markRebuilt(null) // no slot to rebuild from
    }
    const sweeper = setInterval(() => hub.log.evictExpired(), EVICT_INTERVAL_MS)
    sweeper.unref()
    cleanups.push(async () => clearInterval(sweeper))
    let stopping: Promise<void> | null = null
    return { tenant, sql, engine, stop: () => (stopping ??= cleanup()) }
  } catch (error) {
    await cleanup()
    throw error
  }
}
