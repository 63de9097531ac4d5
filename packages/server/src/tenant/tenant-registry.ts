/**
 * The tenants of this node: resolves a request to its tenant, starts a tenant on first use and
 * stops it when idle, and applies changes made in the store (by this node's admin API or any
 * other node's) to live sockets.
 *
 *   request ─▶ tenantIdOf (header, query, Host) ─▶ lookup: cached slot, or the store ─▶ 404 / 403
 *           ─▶ verify the apikey (slot.verifier, no database) ─▶ acquire: start if idle ─▶ use
 *
 * Without a store (single-tenant mode) every request is the `default` tenant's, as before.
 * With one, requests that name no tenant go to `default`, and everything else to the store's.
 *
 * Memory: a tenant not in use costs its slot (configuration, verifier, limits: a few KB); its
 * pool, hub and replication stream exist only while it runs. Slots of unused tenants are
 * dropped past `maxCachedTenants` (least recently used first) and looked up again when needed;
 * unknown ids are remembered briefly (bounded), so a scan of made-up hosts costs few queries.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { JwtVerifier } from '../auth/jwt-verifier.js'
import { databaseNameOf } from '../db/database-name.js'
import { fnv1a } from '../fnv1a.js'
import type { Clock } from '../clock.js'
import { LocalClusterAdapter, type ClusterAdapter } from '../cluster/cluster-adapter.js'
import type { Limits } from '../limits.js'
import type { Logger } from '../logger.js'
import type { ServerMetrics } from '../metrics.js'
import { startTenant, type RunningTenant, type TenantDependencies } from './start-tenant.js'
import type { Tenant } from './tenant.js'
import { DEFAULT_TENANT_ID, TENANT_ID_PATTERN, needsRestart, tenantLimits, type TenantConfig } from './tenant-config.js'
import { tenantIdOf } from './tenant-identity.js'
import { TenantSlot, TenantState, verifierKeys, type TenantRefusal } from './tenant-slot.js'
import type { TenantStore } from './tenant-store.js'

/** Close code of the sockets of a removed, suspended or moved tenant (they reconnect and are told why). */
export const TENANT_GONE_CLOSE = 1001

export interface TenantRegistryOptions {
  /** The control database's tenants; null in single-tenant mode. */
  store: TenantStore | null
  /** The flags-configured tenant, already started; null when the server has none. */
  defaultTenant: RunningTenant | null
  /** The server's limits: what a stored tenant's own limits override. */
  baseLimits: Limits
  logger: Logger
  clock: Clock
  metrics: ServerMetrics
  replay: TenantDependencies['replay']
  /** The cluster adapter of a stored tenant (default: one node). */
  clusterFor?: (tenantId: string) => ClusterAdapter
  /** A tenant without sockets or requests for this long is stopped. Default 5 minutes. */
  idleStopMs?: number
  /** Slots of tenants not running kept in memory. Default 10,000. */
  maxCachedTenants?: number
  /** A tenant whose start failed is refused this long before it is tried again. Default 2 s. */
  startRetryMs?: number
  /** Pool size of a stored tenant's database connection. Default 4. */
  tenantPoolSize?: number
  /** Told when a stored tenant has started and when it has stopped (the inspector follows them). */
  observer?: TenantObserver
}

export interface TenantObserver {
  started(running: RunningTenant): void
  stopped(tenantId: string): void
}

export type Lookup = { ok: true; slot: TenantSlot } | { ok: false; refusal: TenantRefusal; tenantId: string | null }

const DEFAULT_IDLE_STOP_MS = 5 * 60_000
const UNKNOWN_TTL_MS = 2_000
const MAX_UNKNOWN = 10_000

export class TenantRegistry {
  readonly #options: TenantRegistryOptions
  readonly #store: TenantStore | null
  readonly #default: TenantSlot | null
  readonly #slots = new Map<string, TenantSlot>()
  readonly #loading = new Map<string, Promise<TenantSlot | null>>()
  readonly #unknown = new Map<string, number>()
  readonly #refreshing = new Map<string, Promise<void>>()
  readonly #idleStopMs: number
  #sweeper: ReturnType<typeof setInterval> | null = null
  #closed = false

  constructor(options: TenantRegistryOptions) {
    this.#options = options
    this.#store = options.store
    this.#idleStopMs = options.idleStopMs ?? DEFAULT_IDLE_STOP_MS
    this.#default = options.defaultTenant
      ? TenantSlot.running(this.#slotOptions(DEFAULT_TENANT_ID, null, options.defaultTenant.tenant.verifier, options.defaultTenant.tenant.limits), options.defaultTenant)
      : null
    this.#countStates()
  }

  /** Whether tenants come from a store (multi-tenant mode). */
  get multiTenant(): boolean {
    return this.#store !== null
  }

  get store(): TenantStore | null {
    return this.#store
  }

  /** The `default` tenant's slot, if the server has one. */
  get defaultSlot(): TenantSlot | null {
    return this.#default
  }

  /** Every slot in memory (the default one first). */
  get slots(): TenantSlot[] {
    return [...(this.#default ? [this.#default] : []), ...this.#slots.values()]
  }

  /** The tenants running on this node now. */
  *runningTenants(): Iterable<Tenant> {
    for (const slot of this.slots) if (slot.tenant) yield slot.tenant
  }

  /** Starts watching the store and the idle sweep. */
  async start(): Promise<void> {
    if (!this.#store) return
    await this.#store.watch({
      onChange: (id) => void this.refresh(id).catch((error: unknown) => this.#options.logger.error({ err: error, tenant: id }, 'tenant: applying a change failed')),
      onResync: () => void this.#resync(),
    })
    const sweepMs = Math.max(50, Math.min(5_000, this.#idleStopMs / 4))
    this.#sweeper = setInterval(() => void this.#sweep(), sweepMs)
    this.#sweeper.unref()
  }

  /** The tenant a request names (cheap: no database but, on a cache miss, the store). */
  async lookup(headers: IncomingHttpHeaders, url: string | undefined): Promise<Lookup> {
    if (!this.#store) return this.#default ? { ok: true, slot: this.#default } : { ok: false, refusal: 'not-found', tenantId: null }
    const id = tenantIdOf(headers, url)
    if (id === null || id === DEFAULT_TENANT_ID) {
      return this.#default ? { ok: true, slot: this.#default } : { ok: false, refusal: 'not-found', tenantId: id }
    }
    const slot = await this.#slotFor(id)
    if (!slot) return { ok: false, refusal: 'not-found', tenantId: id }
    const refusal = slot.refusal
    return refusal ? { ok: false, refusal, tenantId: id } : { ok: true, slot }
  }

  /** The slot of a tenant id (loaded from the store when not in memory), or null. */
  async slot(id: string): Promise<TenantSlot | null> {
    if (id === DEFAULT_TENANT_ID) return this.#default
    return this.#slotFor(id)
  }

  /**
   * Re-reads tenant `id` from the store and applies it: removed → sockets told and closed,
   * tenant stopped; suspended → the same, kept refused; a new database → stopped (sockets
   * reconnect to the new one); keys, limits and private_only → applied to what runs.
   */
  refresh(id: string): Promise<void> {
    this.#unknown.delete(id)
    if (!this.#store || id === DEFAULT_TENANT_ID) return Promise.resolve()
    // One refresh of a tenant at a time (the admin API's and the notification's): each reads
    // the store after the previous one applied, so the last one read the newest state.
    const previous = this.#refreshing.get(id) ?? Promise.resolve()
    const next = previous.catch(() => {}).then(async () => {
      const slot = this.#slots.get(id)
      if (!slot) return // not in memory: the next lookup reads the store
      await this.#apply(slot, await this.#store!.get(id))
    })
    const tracked = next.finally(() => {
      if (this.#refreshing.get(id) === tracked) this.#refreshing.delete(id)
    })
    this.#refreshing.set(id, tracked)
    return next
  }

  /** Marks every running tenant as shutting down (joins refused with `RealtimeRestarting`). */
  markShuttingDown(): void {
    for (const slot of this.slots) if (slot.tenant) slot.tenant.shuttingDown = true
  }

  /** Stops every tenant and the watch. */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#sweeper) clearInterval(this.#sweeper)
    await Promise.all(this.slots.map((slot) => slot.stop().catch((error: unknown) => this.#options.logger.error({ err: error, tenant: slot.id }, 'tenant: stop failed'))))
  }

  // ─── internals ──────────────────────────────────────────────────────────────────────────

  async #slotFor(id: string): Promise<TenantSlot | null> {
    const cached = this.#slots.get(id)
    if (cached) {
      // Most recently used last: eviction takes from the front.
      this.#slots.delete(id)
      this.#slots.set(id, cached)
      return cached
    }
    if (!TENANT_ID_PATTERN.test(id)) return null
    const unknownUntil = this.#unknown.get(id)
    if (unknownUntil !== undefined && unknownUntil > this.#options.clock.now()) return null
    let loading = this.#loading.get(id)
    if (!loading) {
      loading = this.#load(id).finally(() => this.#loading.delete(id))
      this.#loading.set(id, loading)
    }
    return loading
  }

  async #load(id: string): Promise<TenantSlot | null> {
    const config = await this.#store!.get(id)
    if (this.#slots.has(id)) return this.#slots.get(id)! // loaded by a concurrent path meanwhile
    if (!config) {
      if (this.#unknown.size >= MAX_UNKNOWN) this.#unknown.clear()
      this.#unknown.set(id, this.#options.clock.now() + UNKNOWN_TTL_MS)
      return null
    }
    const slot = new TenantSlot(this.#slotOptions(id, config, new JwtVerifier(verifierKeys(config), this.#options.clock), tenantLimits(this.#options.baseLimits, config.limits)))
    this.#slots.set(id, slot)
    this.#evictCold()
    this.#countStates()
    return slot
  }

  #slotOptions(id: string, config: TenantConfig | null, verifier: JwtVerifier, limits: Limits) {
    return {
      id,
      config,
      verifier,
      limits,
      start: (slot: TenantSlot) => this.#startSlot(slot),
      logger: this.#options.logger,
      clock: this.#options.clock,
      startRetryMs: this.#options.startRetryMs ?? 2_000,
      onStateChange: () => this.#countStates(),
      ...(this.#options.observer ? { observer: this.#options.observer } : {}),
    }
  }

  #startSlot(slot: TenantSlot): Promise<RunningTenant> {
    const config = slot.config
    if (!config || this.#closed) return Promise.reject(new Error(`tenant ${slot.id} cannot be started`))
    const { logger, clock, metrics, replay } = this.#options
    const started = performance.now()
    return startTenant(
      {
        id: slot.id,
        databaseUrl: config.databaseUrl,
        verifier: slot.verifier,
        limits: slot.limits,
        privateOnly: config.privateOnly,
        postgresChanges: { slotName: tenantSlotName(slot.id, config.databaseUrl), metricsLabel: metrics.forTenant(slot.id).label },
        poolSize: this.#options.tenantPoolSize ?? 4,
      },
      { logger, clock, metrics, replay, cluster: this.#options.clusterFor?.(slot.id) ?? new LocalClusterAdapter() },
    ).then((running) => {
      logger.info({ tenant: slot.id, ms: Math.round(performance.now() - started) }, 'tenant started')
      return running
    })
  }

  async #apply(slot: TenantSlot, config: TenantConfig | null): Promise<void> {
    if (!config) {
      slot.markRemoved()
      const sockets = slot.disconnectAll(TENANT_GONE_CLOSE, 'tenant removed')
      this.#slots.delete(slot.id)
      this.#options.logger.info({ tenant: slot.id, sockets }, 'tenant removed')
      await slot.stop()
      this.#countStates()
      return
    }
    const before = slot.config
    slot.apply(config, this.#options.baseLimits)
    if (config.suspended) {
      const sockets = slot.disconnectAll(TENANT_GONE_CLOSE, 'tenant suspended')
      if (!before?.suspended) this.#options.logger.info({ tenant: slot.id, sockets }, 'tenant suspended')
      await slot.stop()
    } else if (before && needsRestart(before, config)) {
      slot.disconnectAll(TENANT_GONE_CLOSE, 'tenant moved to another database')
      await slot.stop()
    }
  }

  async #resync(): Promise<void> {
    if (!this.#store || this.#slots.size === 0) return
    try {
      const current = new Map((await this.#store.list()).map((config) => [config.externalId, config]))
      for (const slot of [...this.#slots.values()]) await this.#apply(slot, current.get(slot.id) ?? null)
    } catch (error) {
      this.#options.logger.error({ err: error }, 'tenant: resync with the store failed')
    }
  }

  async #sweep(): Promise<void> {
    for (const slot of [...this.#slots.values()]) {
      if (!slot.idleFor(this.#idleStopMs)) continue
      this.#options.logger.debug({ tenant: slot.id }, 'tenant idle: stopping')
      await slot.stop().catch((error: unknown) => this.#options.logger.error({ err: error, tenant: slot.id }, 'tenant: idle stop failed'))
    }
  }

  /** Drops the least recently used slots of tenants not running, past the bound. */
  #evictCold(): void {
    const max = this.#options.maxCachedTenants ?? 10_000
    if (this.#slots.size <= max) return
    for (const [id, slot] of this.#slots) {
      if (this.#slots.size <= max) break
      if (slot.state === TenantState.idle && !slot.busy) this.#slots.delete(id)
    }
  }

  #countStates(): void {
    let running = 0
    for (const slot of this.slots) if (slot.state !== TenantState.idle) running += 1
    this.#options.metrics.tenants.set({ state: 'running' }, running)
    this.#options.metrics.tenants.set({ state: 'idle' }, this.#slots.size + (this.#default ? 1 : 0) - running)
  }
}

/**
 * The replication slot of a stored tenant: `switchboard_t_<id>_<hash of its database's name>`
 * (hyphens as underscores; a DNS label has no underscore, so distinct ids give distinct names).
 * Slots are per Postgres server, not per database: the id alone would make two deployments
 * that share a server (staging and production, each with a tenant `acme` in its own database)
 * take the same slot, and the second one's changes would never flow. Two tenants may share a
 * database: the id keeps their slots apart. Ids too long for the 63-character limit keep a
 * prefix and a hash of both.
 */
export function tenantSlotName(id: string, databaseUrl: string): string {
  const database = databaseNameOf(databaseUrl)
  const base = `switchboard_t_${id.replace(/-/g, '_')}`
  const name = `${base}_${hex8(database)}`
  if (name.length <= 63) return name
  return `${base.slice(0, 45)}_${hex8(`${id}\u0000${database}`)}`
}

const hex8 = (text: string): string => fnv1a(text).toString(16).padStart(8, '0')
