/**
 * Starts a whole Switchboard server: database (given, or embedded), migrations, the tenant's
 * services, the HTTP + WebSocket listener; and stops it gracefully.
 *
 * @example
 * ```ts
 * import { startSwitchboard } from '@switchboard/server'
 * const server = await startSwitchboard({ port: 0, databaseUrl: process.env.DATABASE_URL })
 * console.log(server.url, server.anonKey)
 * await server.close()
 * ```
 */
import { resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Sql } from 'postgres'
import { createDevKeys, DEV_JWT_SECRET } from './auth/dev-keys.js'
import { ChannelAuthorizer } from './auth/channel-authorizer.js'
import { JwtVerifier } from './auth/jwt-verifier.js'
import { systemClock, type Clock } from './clock.js'
import { LocalClusterAdapter, type ClusterAdapter } from './cluster/cluster-adapter.js'
import { connectDatabase } from './db/connect.js'
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './db/embedded-postgres.js'
import { migrate } from './db/migrations.js'
import { resolveLimits, type Limits } from './limits.js'
import { DEFAULT_LOG_LIMITS, type LogLimits } from './hub/delivery-log.js'
import { TenantHub } from './hub/tenant-hub.js'
import { PostgresTopicMarks } from './hub/topic-marks.js'
import { PostgresBroadcastStore } from './db/broadcast-store.js'
import { silentLogger, type Logger } from './logger.js'
import { createMetrics, type ServerMetrics } from './metrics.js'
import { FlushScheduler } from './socket/outbound-queue.js'
import { Tenant } from './tenant/tenant.js'
import { PostgresChangesService } from './cdc/postgres-changes-service.js'
import { Inspector } from './inspect/inspector.js'
import type { TraceMode } from './inspect/api-types.js'
import { createHttpApp } from './transport/http-app.js'
import { defaultInspectorDir } from './transport/inspector-page.js'
import { createUpgradeHandler } from './transport/websocket-upgrade.js'
import { CloseCode } from './socket/connection.js'

export interface SwitchboardOptions {
  /** TCP port; 0 picks a free one. Default 4000. */
  port?: number
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string
  /** Postgres to use. Without it an embedded Postgres starts under `dataDir`. */
  databaseUrl?: string
  /** HS256/384/512 secret of the tenant's JWTs. Default: the Supabase CLI's local dev secret. */
  jwtSecret?: string
  /** Folder for the embedded Postgres data. Default `.switchboard`. */
  dataDir?: string
  limits?: Partial<Limits>
  /** Bounds of the tenant log that resuming channels read (default 100,000 messages, 64 MiB, 2 minutes). */
  replay?: Partial<LogLimits>
  logger?: Logger
  clock?: Clock
  cluster?: ClusterAdapter
  /**
   * Postgres Changes from logical replication (default on). `slotName` overrides the
   * permanent slot's name (default `switchboard_<database>`; slots are cluster-wide).
   * With `false`, joins with postgres_changes bindings get a `system` error.
   */
  postgresChanges?: boolean | { slotName?: string }
  /**
   * The inspector's admin key (`--admin-key`): it sees every tenant at `/inspector` and
   * `/api/inspect/*`. Without it only a tenant's service_role key opens the inspector.
   */
  adminKey?: string
  /**
   * The inspector's delivery trace: when it runs (`watched`: while someone has the inspector
   * open, the default; `always`; `off`), how many messages it keeps per tenant (default 500; 0
   * turns it off) and subscriber verdicts over all of them (default 200,000), and the folder of
   * the page (default: the built `apps/inspector`; false: no page, the API stays).
   */
  inspector?: { trace?: TraceMode; maxMessages?: number; maxVerdicts?: number; pageDir?: string | false }
  /** Extra HTTP routes (the demo, dev token endpoint). */
  extend?: (app: FastifyInstance, server: { sql: Sql; tenant: Tenant; jwtSecret: string }) => void | Promise<void>
}

export interface RunningSwitchboard {
  /** `http://host:port`: what `createClient(url, key)` takes. */
  url: string
  host: string
  port: number
  databaseUrl: string
  jwtSecret: string
  /** `anon` and `service_role` JWTs signed with `jwtSecret` (10-year expiry: development keys). */
  anonKey: string
  serviceRoleKey: string
  /** Whether `jwtSecret` is the public development default. */
  usingDevSecret: boolean
  metrics: ServerMetrics
  tenant: Tenant
  sql: Sql
  /** Graceful stop: refuse new sockets and joins, drain channels (close 1012), stop the database. */
  close(): Promise<void>
}

const IDLE_SWEEP_MS = 5_000

export async function startSwitchboard(options: SwitchboardOptions = {}): Promise<RunningSwitchboard> {
  const logger = options.logger ?? silentLogger
  const clock = options.clock ?? systemClock
  const limits = resolveLimits(options.limits)
  const jwtSecret = options.jwtSecret ?? DEV_JWT_SECRET
  if (options.adminKey !== undefined && options.adminKey.length < 16) throw new RangeError('adminKey must be at least 16 characters')
  const metrics = createMetrics({ defaultMetrics: true })
  const cleanups: (() => Promise<void>)[] = []
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch((error: unknown) => logger.error({ err: error }, 'shutdown step failed'))
  }

  try {
    let databaseUrl = options.databaseUrl
    let embedded: EmbeddedPostgresHandle | null = null
    if (!databaseUrl) {
      embedded = await startEmbeddedPostgres({ dataDir: resolve(options.dataDir ?? '.switchboard'), logger })
      cleanups.push(() => embedded!.stop())
      databaseUrl = embedded.url
    }
    const sql = await connectDatabase(databaseUrl, { logger })
    cleanups.push(() => sql.end({ timeout: 5 }))
    await migrate(sql, logger)

    // The hub first: the Postgres Changes engine writes into its log, the channels read it.
    const marks = new PostgresTopicMarks(sql)
    await marks.prune().catch((error: unknown) => logger.warn({ err: error }, 'pruning old topic marks failed'))
    const hub = new TenantHub({ limits: { ...DEFAULT_LOG_LIMITS, ...options.replay }, clock, logger, cluster: options.cluster ?? new LocalClusterAdapter(), marks })
    const changesOption = options.postgresChanges ?? true
    const engine = changesOption
      ? new PostgresChangesService({
          databaseUrl,
          ...(typeof changesOption === 'object' && changesOption.slotName ? { slotName: changesOption.slotName } : {}),
          logger,
          clock,
          limits,
          registry: metrics.registry,
          log: hub,
          tracing: hub.tracing,
        })
      : null
    const tenant = new Tenant(
      {
        id: 'default',
        verifier: new JwtVerifier(jwtSecret, clock),
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
    await hub.start()
    cleanups.push(() => hub.stop())
    if (engine) {
      await engine.start()
      cleanups.push(() => engine.stop())
    } else {
      hub.markRebuilt(null) // no slot to rebuild from
    }
    const sweeper = setInterval(() => hub.log.evictExpired(), 1_000)
    sweeper.unref()
    cleanups.push(async () => clearInterval(sweeper))

    const scheduler = new FlushScheduler()
    const upgrade = createUpgradeHandler(tenant, scheduler)
    const syncDeliveryCounters = () => {
      metrics.messagesOut.inc(scheduler.framesWritten)
      metrics.bytesOut.inc(scheduler.bytesWritten)
      scheduler.framesWritten = 0
      scheduler.bytesWritten = 0
    }
    const idleSweeper = setInterval(() => {
      syncDeliveryCounters()
      const idleBefore = clock.now() - limits.idleTimeoutMs
      for (const connection of upgrade.connections) {
        if (connection.lastFrameAt < idleBefore) connection.close(CloseCode.goingAway, 'idle timeout')
      }
    }, Math.min(IDLE_SWEEP_MS, limits.idleTimeoutMs))
    idleSweeper.unref()
    cleanups.push(async () => clearInterval(idleSweeper))

    const inspectOptions = options.inspector ?? {}
    const inspector = new Inspector({ scheduler, clock, logger })
    inspector.addTenant({
      tenant,
      sql,
      changes: engine,
      registry: metrics.registry,
      connections: () => upgrade.connections,
      bounds: {
        ...(inspectOptions.maxMessages ? { maxMessages: inspectOptions.maxMessages } : {}),
        ...(inspectOptions.maxVerdicts ? { maxVerdicts: inspectOptions.maxVerdicts } : {}),
      },
      trace: inspectOptions.maxMessages === 0 ? 'off' : (inspectOptions.trace ?? 'watched'),
      beforeSample: syncDeliveryCounters,
    })
    inspector.start()
    cleanups.push(async () => inspector.stop())
    const pageDir = inspectOptions.pageDir === false ? null : (inspectOptions.pageDir ?? defaultInspectorDir())
    const adminKey = options.adminKey ?? null
    const app = await createHttpApp({ tenant, metrics, sql, upgrade, inspector: { inspector, adminKey, pageDir }, beforeMetrics: syncDeliveryCounters, extend: options.extend ? (a) => options.extend!(a, { sql, tenant, jwtSecret }) : undefined })
    const host = options.host ?? '127.0.0.1'
    await app.listen({ port: options.port ?? 4000, host })
    const address = app.server.address()
    const port = typeof address === 'object' && address ? address.port : (options.port ?? 4000)
    cleanups.push(async () => {
      upgrade.stopAccepting()
      tenant.shuttingDown = true
      for (const connection of upgrade.connections) connection.drain()
      // Sockets were asked to close; Fastify waits for HTTP requests in flight.
      await app.close()
    })

    const keys = await createDevKeys(jwtSecret)
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
    logger.info({ port, host, embedded: embedded !== null }, `listening on ${url}`)
    let closing: Promise<void> | null = null
    return {
      url,
      host,
      port,
      databaseUrl,
      jwtSecret,
      ...keys,
      usingDevSecret: jwtSecret === DEV_JWT_SECRET,
      metrics,
      tenant,
      sql,
      close: () => (closing ??= cleanup()),
    }
  } catch (error) {
    await cleanup()
    throw error
  }
}
