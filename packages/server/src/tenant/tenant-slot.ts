/**
 * One tenant known to this node: its configuration, the verifier and live limits that exist
 * from the first lookup (cheap: no database), and the running part (pool, migrations, hub,
 * replication stream) that exists only while the tenant is in use.
 *
 *              acquire()                  started
 *     idle ─────────────────▶ starting ─────────────▶ running
 *      ▲  ▲                      │ failed               │ stop(): idle for idleStopMs, removed,
 *      │  └──────────────────────┘ (refused for          │ suspended, database changed,
 *      │                            startRetryMs)        ▼ server shutdown
 *      └───────────────────────────────────────────── stopping
 *
 * Users hold leases: a socket for its life (attach/detach), an upgrade or a REST request while
 * it runs (acquire → release). A tenant with neither stops after `idleStopMs` of quiet, and
 * starting it again is a restart (tenant/start-tenant.ts): the slot kept its changes.
 */
import type { JwtVerifier} from '../auth/jwt-verifier.js';
import { type VerifierKeys } from '../auth/jwt-verifier.js'
import type { Clock, ClockTimer } from '../clock.js'
import type { Limits } from '../limits.js'
import type { Logger } from '../logger.js'
import type { RunningTenant } from './start-tenant.js'
import type { Tenant } from './tenant.js'
import { tenantLimits, type TenantConfig } from './tenant-config.js'

export const TenantState = {
  idle: 'idle',
  starting: 'starting',
  running: 'running',
  stopping: 'stopping',
} as const
export type TenantState = (typeof TenantState)[keyof typeof TenantState]

/** What a slot needs of a socket (socket/connection.ts): to be told to go, or to recheck its tokens. */
export interface TenantClient {
  disconnect(message: string, code: number, reason: string): void
  recheckTokens(): void
}

/**
 * Why a tenant cannot be used: it does not exist (or was just removed), it is suspended, or it
 * cannot be started now (its database is unreachable, say). The transport answers each with
 * Supabase's HTTP error (transport/tenant-refusal.ts).
 */
export type TenantRefusal = 'not-found' | 'suspended' | 'unavailable'

export class TenantRefusedError extends Error {
  constructor(readonly tenantId: string, readonly refusal: TenantRefusal, options?: { cause?: unknown }) {
    super(`tenant ${JSON.stringify(tenantId)}: ${refusal}`, options)
    this.name = 'TenantRefusedError'
  }
}

export interface TenantLease {
  readonly tenant: Tenant
  /** Ends the lease (idempotent). */
  release(): void
}

function sameKeys(a: TenantConfig, b: TenantConfig): boolean {
  return a.jwtSecret === b.jwtSecret && a.previousJwtSecret === b.previousJwtSecret && a.previousJwtSecretValidUntil === b.previousJwtSecretValidUntil && JSON.stringify(a.jwks) === JSON.stringify(b.jwks)
}

/** The keys of a stored tenant, as its verifier takes them. */
export function verifierKeys(config: TenantConfig): VerifierKeys {
  return {
    secret: config.jwtSecret,
    previous: config.previousJwtSecret !== null && config.previousJwtSecretValidUntil !== null ? { secret: config.previousJwtSecret, retiresAt: config.previousJwtSecretValidUntil } : null,
    jwks: config.jwks,
  }
}

export interface TenantSlotOptions {
  id: string
  /** Null for the flags-configured `default` tenant. */
  config: TenantConfig | null
  verifier: JwtVerifier
  limits: Limits
  /** Starts the running part (tenant/start-tenant.ts with this slot's verifier and limits). */
  start: (slot: TenantSlot) => Promise<RunningTenant>
  logger: Logger
  clock: Clock
  /** How long a failed start is answered without trying again. */
  startRetryMs: number
  onStateChange: () => void
  /** Told when the running part has started and when it has stopped (not for `TenantSlot.running`). */
  observer?: { started(running: RunningTenant): void; stopped(tenantId: string): void }
}

export class TenantSlot {
  readonly id: string
  readonly verifier: JwtVerifier
  /** The tenant's live limits: the running Tenant holds this very object. */
  readonly limits: Limits
  readonly clients = new Set<TenantClient>()
  #config: TenantConfig | null
  #state: TenantState = TenantState.idle
  #running: RunningTenant | null = null
  #starting: Promise<RunningTenant> | null = null
  #stopping: Promise<void> | null = null
  #leases = 0
  #lastUsedAt: number
  #failedUntil = 0
  #failure: unknown = null
  /** Fires when the previous secret of a rotation retires: channels still on it end then. */
  #retirement: ClockTimer | null = null
  /** Removed from the store: never started again, refused to whoever still holds the slot. */
  #removed = false
  readonly #options: TenantSlotOptions

  constructor(options: TenantSlotOptions) {
    this.#options = options
    this.id = options.id
    this.#config = options.config
    this.verifier = options.verifier
    this.limits = options.limits
    this.#lastUsedAt = options.clock.now()
  }

  /** A slot whose running part already exists (the `default` tenant, started with the server). */
  static running(options: TenantSlotOptions, running: RunningTenant): TenantSlot {
    const slot = new TenantSlot(options)
    slot.#running = running
    slot.#state = TenantState.running
    return slot
  }

  get state(): TenantState {
    return this.#state
  }

  get config(): TenantConfig | null {
    return this.#config
  }

  get suspended(): boolean {
    return this.#config?.suspended ?? false
  }

  get removed(): boolean {
    return this.#removed
  }

  /** Why the tenant cannot be used now, or null when it can. */
  get refusal(): TenantRefusal | null {
    if (this.#removed) return 'not-found'
    if (this.suspended) return 'suspended'
    return null
  }

  /** The running tenant, if any (no start). */
  get tenant(): Tenant | null {
    return this.#running?.tenant ?? null
  }

  get running(): RunningTenant | null {
    return this.#running
  }

  /** Whether a socket or a lease holds the tenant. */
  get busy(): boolean {
    return this.clients.size > 0 || this.#leases > 0
  }

  /** Whether nobody has used the tenant for `idleMs` and nothing holds it. */
  idleFor(idleMs: number): boolean {
    return this.#state === TenantState.running && this.clients.size === 0 && this.#leases === 0 && this.#options.clock.now() - this.#lastUsedAt >= idleMs
  }

  /** The running tenant, started if needed; hold the lease while using it. */
  async acquire(): Promise<TenantLease> {
    this.#leases += 1
    this.#lastUsedAt = this.#options.clock.now()
    let released = false
    const release = () => {
      if (released) return
      released = true
      this.#leases -= 1
      this.#lastUsedAt = this.#options.clock.now()
    }
    try {
      const running = await this.#ensureRunning()
      return { tenant: running.tenant, release }
    } catch (error) {
      release()
      throw error
    }
  }

  /** `acquire`, with a refusal as a value instead of an error (what the transports answer). */
  async tryAcquire(): Promise<{ ok: true; lease: TenantLease } | { ok: false; refusal: TenantRefusal }> {
    try {
      return { ok: true, lease: await this.acquire() }
    } catch (error) {
      if (!(error instanceof TenantRefusedError)) throw error
      return { ok: false, refusal: error.refusal }
    }
  }

  attach(client: TenantClient): void {
    this.clients.add(client)
    this.#lastUsedAt = this.#options.clock.now()
  }

  detach(client: TenantClient): void {
    if (this.clients.delete(client)) this.#lastUsedAt = this.#options.clock.now()
  }

  /**
   * A new configuration from the store: keys and limits apply at once (to live sockets too);
   * the caller stops the slot where a change needs it (suspended, new database).
   */
  apply(config: TenantConfig, baseLimits: Limits): void {
    const before = this.#config
    this.#config = config
    Object.assign(this.limits, tenantLimits(baseLimits, config.limits))
    if (this.#running) this.#running.tenant.privateOnly = config.privateOnly
    if (before && sameKeys(before, config)) return
    this.verifier.setKeys(verifierKeys(config))
    // Channels verify their tokens again now (a secret replaced outright, a JWKS changed) and
    // when a rotated-out secret retires: tokens of the old secret are good until then.
    this.recheckTokens()
    const { clock } = this.#options
    if (this.#retirement) clock.clearTimeout(this.#retirement)
    this.#retirement = null
    const until = config.previousJwtSecretValidUntil
    if (until !== null && until > clock.now()) {
      this.#retirement = clock.setTimeout(() => {
        this.#retirement = null
        this.recheckTokens()
      }, Math.min(until - clock.now() + 1, 2 ** 31 - 1))
    }
  }

  /** Every socket's channels verify their tokens with the keys of now. */
  recheckTokens(): void {
    for (const client of this.clients) client.recheckTokens()
  }

  /** The tenant was removed from the store: refuse it from now on (then disconnect and stop). */
  markRemoved(): void {
    this.#removed = true
  }

  /** Tells every socket to go (`Server requested disconnect`, then close). */
  disconnectAll(code: number, reason: string): number {
    const clients = [...this.clients]
    for (const client of clients) client.disconnect('Server requested disconnect', code, reason)
    return clients.length
  }

  /** Stops the running part (after a start in progress), back to idle. */
  stop(): Promise<void> {
    if (this.#stopping) return this.#stopping
    if (this.#state === TenantState.idle) return Promise.resolve()
    const stopping = (async () => {
      if (this.#starting) await this.#starting.catch(() => {})
      const running = this.#running
      if (!running) return
      this.#setState(TenantState.stopping)
      this.#options.observer?.stopped(this.id)
      await running.stop()
      this.#running = null
    })().finally(() => {
      this.#stopping = null
      if (this.#state !== TenantState.idle) this.#setState(TenantState.idle)
    })
    this.#stopping = stopping
    return stopping
  }

  async #ensureRunning(): Promise<RunningTenant> {
    for (;;) {
      if (this.#running && this.#state === TenantState.running) {
        const refusal = this.refusal
        if (refusal) throw new TenantRefusedError(this.id, refusal)
        return this.#running
      }
      if (this.#starting) return this.#starting
      if (this.#stopping) {
        await this.#stopping
        continue
      }
      const refusal = this.refusal
      if (refusal) throw new TenantRefusedError(this.id, refusal)
      if (this.#options.clock.now() < this.#failedUntil) throw new TenantRefusedError(this.id, 'unavailable', { cause: this.#failure })
      const starting = this.#options.start(this).then(
        (running) => {
          this.#running = running
          this.#setState(TenantState.running)
          this.#options.observer?.started(running)
          return running
        },
        (error: unknown) => {
          this.#failure = error
          this.#failedUntil = this.#options.clock.now() + this.#options.startRetryMs
          this.#options.logger.warn({ err: error, tenant: this.id }, 'tenant: start failed')
          this.#setState(TenantState.idle)
          throw new TenantRefusedError(this.id, 'unavailable', { cause: error })
        },
      ).finally(() => {
        this.#starting = null
      })
      this.#starting = starting
      this.#setState(TenantState.starting)
      return starting
    }
  }

  #setState(state: TenantState): void {
    this.#state = state
    this.#options.onStateChange()
  }
}
