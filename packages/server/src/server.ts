/**
 * Starts a whole Switchboard server: database (given, or embedded), the `default` tenant from
 * the flags (its services and hub), the tenants of a control database when there is one, the
 * HTTP + WebSocket listener; and stops it gracefully.
 *
 *   single-tenant (no admin key, no control database): every request is `default`'s, as before
 *   multi-tenant: requests name their tenant (Host's first label, `x-tenant-id`, `?tenant=`);
 *                 tenants live in the control database (`switchboard_control` beside the
 *                 server's database unless `controlDatabaseUrl`), are managed by the admin API
 *                 and start on first use; requests that name none go to `default`
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
import { JwtVerifier, type Jwks } from './auth/jwt-verifier.js'
import { systemClock, type Clock } from './clock.js'
import { LocalClusterAdapter, type ClusterAdapter } from './cluster/cluster-adapter.js'
import { randomBytes } from 'node:crypto'
import type { RedisNode } from './cluster/redis-node.js'
import { defaultNodeId, isValidNodeId } from './cluster/node-id.js'
import { clusterHealth, registerClusterMetrics } from './cluster/cluster-metrics.js'
import type { TraceMode } from './inspect/api-types.js'
import { Inspector } from './inspect/inspector.js'
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './db/embedded-postgres.js'
import { ensureDatabase } from './db/ensure-database.js'
import { resolveLimits, type Limits } from './limits.js'
import { DEFAULT_LOG_LIMITS, type LogLimits } from './hub/delivery-log.js'
import { silentLogger, type Logger } from './logger.js'
import { createMetrics, type ServerMetrics } from './metrics.js'
import { FlushScheduler } from './socket/outbound-queue.js'
import type { Tenant } from './tenant/tenant.js'
import { startTenant, type RunningTenant } from './tenant/start-tenant.js'
import { PostgresTenantStore } from './tenant/postgres-tenant-store.js'
import { parseSecretsKey } from './tenant/secret-box.js'
import { DEFAULT_TENANT_ID } from './tenant/tenant-config.js'
import { TenantRegistry } from './tenant/tenant-registry.js'
import { createHttpApp } from './transport/http-app.js'
import { defaultInspectorDir } from './transport/inspector-page.js'
import { createUpgradeHandler } from './transport/websocket-upgrade.js'
import { runShutdown, type ShutdownStep } from './shutdown.js'
import { CloseCode, type Connection } from './socket/connection.js'

/** The control database created beside the server's own database when none is given. */
export const DEFAULT_CONTROL_DATABASE = 'switchboard_control'

export interface TenantsOptions {
  /** A tenant without sockets or requests for this long stops (pool, stream). Default 5 minutes. */
  idleStopMs?: number
  /** Slots of idle tenants kept in memory (config and keys). Default 10,000. */
  maxCachedTenants?: number
  /** Pool size of each stored tenant's database connection. Default 4. */
  poolSize?: number
  /** Tenants with a metrics label of their own; the rest share `_other`. Default 100. */
  maxMetricLabels?: number
  /** The cluster adapter of a stored tenant (default: one node). */
  clusterFor?: (tenantId: string) => ClusterAdapter
  /** Checks a new tenant's database before it is stored (default: connect and `select 1`). */
  checkDatabase?: (url: string) => Promise<void>
}

export interface SwitchboardOptions {
  /** TCP port; 0 picks a free one. Default 4000. */
  port?: number
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string
  /** Postgres of the `default` tenant. Without it an embedded Postgres starts under `dataDir`. */
  databaseUrl?: string
  /** HS256/384/512 secret of the `default` tenant's JWTs. Default: the Supabase CLI's local dev secret. */
  jwtSecret?: string
  /** JWKS of the `default` tenant (asymmetric keys, `oct` keys by kid). */
  jwtJwks?: Jwks
  /** Folder for the embedded Postgres data. Default `.switchboard`. */
  dataDir?: string
  /** The server's limits: the `default` tenant's, and the base of every stored tenant's. */
  limits?: Partial<Limits>
  /** Bounds of the tenant log that resuming channels read (default 100,000 messages, 64 MiB, 2 minutes). */
  replay?: Partial<LogLimits>
  logger?: Logger
  clock?: Clock
  /** The `default` tenant's cluster adapter. */
  cluster?: ClusterAdapter
  /**
   * Redis of the cluster (`--redis-url`, `REDIS_URL`): processes that share a database and a
   * Redis serve one set of channels (docs/cluster.md). Without it the server is one node.
   */
  redisUrl?: string
  /** This node's name in the cluster (default: host name, pid and a random suffix). */
  nodeId?: string
  /**
   * Postgres Changes from logical replication (default on). `slotName` overrides the
   * permanent slot's name (default `switchboard_<database>`; slots are cluster-wide).
   * With `false`, joins with postgres_changes bindings get a `system` error.
   */
  postgresChanges?: boolean | { slotName?: string }
  /**
   * The admin key (`--admin-key`, at least 16 characters): it sees every tenant in the inspector
   * (`/inspector`, `/api/inspect/*`; without it only a tenant's service_role key opens the
   * inspector on that tenant) and, with tenants, opens the admin API (`/api/tenants`).
   */
  adminKey?: string
  /**
   * The inspector's delivery trace: when it runs (`watched`: while someone has the inspector
   * open, the default; `always`; `off`), how many messages it keeps per tenant (default 500; 0
   * turns it off) and subscriber verdicts over all of them (default 200,000), and the folder of
   * the page (default: the built `apps/inspector`; false: no page, the API stays).
   */
  inspector?: { trace?: TraceMode; maxMessages?: number; maxVerdicts?: number; pageDir?: string | false }
  /** Serve the tenants of a control database (multi-tenant mode). Implied by `controlDatabaseUrl`. */
  multiTenant?: boolean
  /** Where tenants are stored; implies multi-tenant mode. Default: `switchboard_control` beside `databaseUrl`. */
  controlDatabaseUrl?: string
  /** 32 bytes, hex or base64 (`openssl rand -base64 32`): encrypts tenant secrets at rest. */
  secretsKey?: string
  /**
   * The secrets key being rotated away from (`--previous-secrets-key`): at start, stored values
   * it opens are re-encrypted under `secretsKey`, in one transaction (docs/operations.md).
   */
  previousSecretsKey?: string
  tenants?: TenantsOptions
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
  /** The `default` tenant. */
  tenant: Tenant
  /** The `default` tenant's database. */
  sql: Sql
  /** Every tenant of this node (the default one, and the stored ones in multi-tenant mode). */
  registry: TenantRegistry
  /** The control database, in multi-tenant mode (contains a password: do not log it). */
  controlDatabaseUrl: string | null
  /** This node's name in the cluster (`options.nodeId`, or host-pid-random); `/health` shows it. */
  nodeId: string
  /** Graceful stop: refuse new sockets and joins, drain channels (close 1012), stop the database. */
  close(): Promise<void>
}

const IDLE_SWEEP_MS = 5_000

export async function startSwitchboard(options: SwitchboardOptions = {}): Promise<RunningSwitchboard> {
  const logger = options.logger ?? silentLogger
  const clock = options.clock ?? systemClock
  const limits = resolveLimits(options.limits)
  const jwtSecret = options.jwtSecret ?? DEV_JWT_SECRET
  const replay = { ...DEFAULT_LOG_LIMITS, ...options.replay }
  const metrics = createMetrics({ defaultMetrics: true, ...(options.tenants?.maxMetricLabels ? { maxTenantLabels: options.tenants.maxMetricLabels } : {}) })
  if (options.adminKey !== undefined && options.adminKey.length < 16) throw new RangeError('adminKey must be at least 16 characters')
  if (options.nodeId !== undefined && !isValidNodeId(options.nodeId)) throw new RangeError('nodeId must be 1-64 letters, digits, ".", "_" or "-"')
  // Resolved once: the same name in Redis keys, logs and /health for the life of the process.
  const nodeId = options.nodeId ?? defaultNodeId()
  const multiTenant = options.multiTenant === true || options.controlDatabaseUrl !== undefined
  // Fail on a bad key before anything starts.
  const secretsKey = options.secretsKey ? parseSecretsKey(options.secretsKey) : null
  const previousSecretsKey = options.previousSecretsKey ? parseSecretsKey(options.previousSecretsKey) : null
  // Shutdown steps, run last-registered first. Each is logged if it is slow, so a shutdown that
  // hangs says where (a restart that never finished was seen once in CI and nowhere else).
  const closeSteps: ShutdownStep[] = []
  const onClose = (name: string, run: () => Promise<void>) => closeSteps.push({ name, run })
  const cleanup = () => runShutdown(closeSteps.reverse(), { logger, clock })

  try {
    let databaseUrl = options.databaseUrl
    let embedded: EmbeddedPostgresHandle | null = null
    if (!databaseUrl) {
      embedded = await startEmbeddedPostgres({ dataDir: resolve(options.dataDir ?? '.switchboard'), logger })
      onClose('embedded postgres', () => embedded!.stop())
      databaseUrl = embedded.url
    }

    // A cluster node: one Redis session for every tenant this process serves (docs/cluster.md).
    let redisNode: RedisNode | null = null
    let clusterFor = (_tenantId: string): ClusterAdapter => new LocalClusterAdapter()
    if (options.redisUrl) {
      // Loaded only for a cluster: the Redis client was an eighth of a single node's start-up
      // time (a restarted node serves nobody until it listens).
      const [{ RedisNode }, { RedisTenantLog }] = await Promise.all([import('./cluster/redis-node.js'), import('./cluster/redis-tenant-log.js')])
      // The cluster member is this process: the node id plus a suffix, because a node restarted
      // under the same id (a worker, a pod) must not be taken for the one that died (its
      // presences and slot lease are the dead process's, not the new one's).
      const node = new RedisNode({ url: options.redisUrl, nodeId: `${nodeId}.${randomBytes(3).toString('hex')}`, logger, clock })
      onClose('redis node', () => node.stop())
      await node.start()
      redisNode = node
      clusterFor = (tenantId) => new RedisTenantLog({ node, tenantId, logger, maxEntries: replay.maxMessages })
    }

    // The `default` tenant: the flags' database and secret, started now and never idle-stopped.
    const defaultTenant = await startTenant(
      {
        id: DEFAULT_TENANT_ID,
        databaseUrl,
        verifier: new JwtVerifier({ secret: jwtSecret, jwks: options.jwtJwks ?? null }, clock),
        limits,
        postgresChanges: options.postgresChanges ?? true,
      },
      { logger, clock, metrics, replay, cluster: options.cluster ?? clusterFor(DEFAULT_TENANT_ID) },
    )
    onClose('default tenant', () => defaultTenant.stop()) // idempotent: the registry stops it first
    const tenant = defaultTenant.tenant
    const sql = defaultTenant.sql

    let store: PostgresTenantStore | null = null
    let controlDatabaseUrl: string | null = null
    if (multiTenant) {
      controlDatabaseUrl = options.controlDatabaseUrl ?? (await ensureDatabase(databaseUrl, DEFAULT_CONTROL_DATABASE))
      store = await PostgresTenantStore.open(controlDatabaseUrl, { secretsKey, previousSecretsKey, logger })
      const opened = store
      onClose('control database', () => opened.close())
    }
    // The inspector follows every tenant that runs on this node: the default one from now on,
    // stored ones from their start to their stop.
    const scheduler = new FlushScheduler(clock)
    const inspectOptions = options.inspector ?? {}
    const inspector = new Inspector({ scheduler, clock, logger })
    const syncDeliveryCounters = () => {
      metrics.messagesOut.inc(scheduler.framesWritten)
      metrics.bytesOut.inc(scheduler.bytesWritten)
      scheduler.framesWritten = 0
      scheduler.bytesWritten = 0
    }
    let connections: () => Iterable<Connection> = () => []
    const inspect = (running: RunningTenant) =>
      inspector.addTenant({
        tenant: running.tenant,
        sql: running.sql,
        changes: running.engine,
        registry: metrics.registry,
        connections: () => connections(),
        bounds: {
          ...(inspectOptions.maxMessages ? { maxMessages: inspectOptions.maxMessages } : {}),
          ...(inspectOptions.maxVerdicts ? { maxVerdicts: inspectOptions.maxVerdicts } : {}),
        },
        trace: inspectOptions.maxMessages === 0 ? 'off' : (inspectOptions.trace ?? 'watched'),
        beforeSample: syncDeliveryCounters,
        cluster: redisNode ? { nodeId: redisNode.id, peers: () => redisNode!.peerFigures(running.tenant.id) } : null,
      })
    inspect(defaultTenant)
    onClose('inspector', async () => inspector.stop())

    const registry = new TenantRegistry({
      observer: { started: inspect, stopped: (id) => inspector.removeTenant(id) },
      store,
      defaultTenant,
      baseLimits: limits,
      logger,
      clock,
      metrics,
      replay,
      clusterFor: options.tenants?.clusterFor ?? clusterFor,
      ...(options.tenants?.idleStopMs !== undefined ? { idleStopMs: options.tenants.idleStopMs } : {}),
      ...(options.tenants?.maxCachedTenants !== undefined ? { maxCachedTenants: options.tenants.maxCachedTenants } : {}),
      ...(options.tenants?.poolSize !== undefined ? { tenantPoolSize: options.tenants.poolSize } : {}),
    })
    onClose('tenants', () => registry.close())
    await registry.start()

    const upgrade = createUpgradeHandler({ registry, scheduler, metrics, logger, limits })
    connections = () => upgrade.connections
    inspector.start()
    const idleSweeper = setInterval(() => {
      syncDeliveryCounters()
      const now = clock.now()
      for (const connection of upgrade.connections) {
        if (connection.lastFrameAt < now - connection.tenant.limits.idleTimeoutMs) connection.close(CloseCode.goingAway, 'idle timeout')
      }
    }, Math.min(IDLE_SWEEP_MS, limits.idleTimeoutMs))
    idleSweeper.unref()
    onClose('idle sweeper', async () => clearInterval(idleSweeper))

    const clusterView = redisNode ? { node: redisNode, tenants: () => registry.runningTenants() } : null
    // Each heartbeat tells the other nodes what this one serves (the inspector's per-node overview).
    redisNode?.reportWith(() => inspector.nodeReport())
    if (clusterView) registerClusterMetrics(metrics.registry, clusterView)
    const healthChecks: Record<string, () => Promise<unknown>> = { database: () => sql`select 1` }
    if (store) {
      const opened = store
      healthChecks.control = async () => {
        if (!(await opened.ping())) throw new Error('control database unreachable')
      }
    }
    const app = await createHttpApp({
      registry,
      metrics,
      limits,
      upgrade,
      healthChecks,
      identity: { nodeId, pid: process.pid },
      ...(clusterView ? { cluster: () => clusterHealth(clusterView) } : {}),
      ...(store && options.adminKey ? { admin: { adminKey: options.adminKey, store, clock, logger, ...(options.tenants?.checkDatabase ? { checkDatabase: options.tenants.checkDatabase } : {}) } } : {}),
      inspector: { inspector, adminKey: options.adminKey ?? null, pageDir: inspectOptions.pageDir === false ? null : (inspectOptions.pageDir ?? defaultInspectorDir()) },
      beforeMetrics: syncDeliveryCounters,
      ...(options.extend ? { extend: (a: FastifyInstance) => options.extend!(a, { sql, tenant, jwtSecret }) } : {}),
    })
    const host = options.host ?? '127.0.0.1'
    await app.listen({ port: options.port ?? 4000, host })
    const address = app.server.address()
    const port = typeof address === 'object' && address ? address.port : (options.port ?? 4000)
    onClose('sockets and http', async () => {
      upgrade.stopAccepting()
      registry.markShuttingDown()
      for (const connection of upgrade.connections) connection.drain()
      // Sockets were asked to close; Fastify waits for HTTP requests in flight.
      await app.close()
    })

    const keys = await createDevKeys(jwtSecret)
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
    logger.info({ port, host, nodeId, embedded: embedded !== null, multiTenant }, `listening on ${url}`)
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
      registry,
      controlDatabaseUrl,
      nodeId,
      close: () => (closing ??= cleanup()),
    }
  } catch (error) {
    await cleanup()
    throw error
  }
}
