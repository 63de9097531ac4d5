/**
 * Test harness for the Postgres Changes service: a fresh migrated database, a service bound to
 * it, and recording subscribers. The subscribers stand for the channel side of the seam
 * (ChangeSubscriber); they only record what the service hands them.
 */
import postgres from 'postgres'
import { Registry } from 'prom-client'
import { createTestDatabase, type TestDatabase } from '../../../../test-support/database.js'
import { createAuthContext, type AuthContext } from '../../src/auth/auth-context.js'
import type { ChangeData } from '../../src/cdc/change-payload.js'
import { PostgresChangesService, type ChangePosition, type ChangeSubscriber, type DatabaseBroadcast } from '../../src/cdc/postgres-changes-service.js'
import { systemClock } from '../../src/clock.js'
import { migrate } from '../../src/db/migrations.js'
import { resolveLimits, type Limits } from '../../src/limits.js'
import type { ChangeLogPort } from '../../src/hub/tenant-hub.js'
import { silentLogger, createLogger } from '../../src/logger.js'

export interface Delivered {
  ids: readonly number[]
  data: Record<string, unknown> & { type: string; record?: Record<string, unknown>; old_record?: Record<string, unknown>; errors: string[] | null }
  json: string
  position: ChangePosition
}

export class RecordingSubscriber implements ChangeSubscriber {
  readonly changes: Delivered[] = []
  readonly system: { status: 'ok' | 'error'; message: string }[] = []
  #waiters: (() => void)[] = []

  deliverChange(ids: readonly number[], data: ChangeData): void {
    this.changes.push({ ids: [...ids], data: JSON.parse(data.json), json: data.json, position: data.position })
    this.#wake()
  }

  systemMessage(status: 'ok' | 'error', message: string): void {
    this.system.push({ status, message })
    this.#wake()
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }

  /** Resolves once `predicate` holds (checked after every delivery), or fails after `ms`. */
  async until(predicate: () => boolean, ms = 5_000): Promise<void> {
    const deadline = Date.now() + ms
    while (!predicate()) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out; got ${JSON.stringify({ changes: this.changes.map((c) => c.data), system: this.system })}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100))
        this.#waiters.push(() => { clearTimeout(t); resolve() })
      })
    }
  }

  async changeCount(n: number, ms?: number): Promise<Delivered[]> {
    await this.until(() => this.changes.length >= n, ms)
    return this.changes
  }
}

export interface ServiceOverrides {
  limits?: Partial<Limits>
  slotName?: string
  /** The tenant log the service positions changes in (default: a private counter, nothing retained). */
  log?: ChangeLogPort
  retryBackoffMs?: readonly number[]
  deliveriesPerChunk?: number
}

export interface Harness {
  db: TestDatabase
  sql: postgres.Sql
  broadcasts: DatabaseBroadcast[]
  registry: Registry
  service: PostgresChangesService
  newService(overrides?: ServiceOverrides): PostgresChangesService
  close(): Promise<void>
}

export async function createHarness(setupSql: string, limits: Partial<Limits> = {}): Promise<Harness> {
  const db = await createTestDatabase('cdc')
  const sql = postgres(db.url, { max: 3, onnotice: () => {} })
  await migrate(sql, silentLogger)
  if (setupSql) await sql.unsafe(setupSql).simple()
  const broadcasts: DatabaseBroadcast[] = []
  const registry = new Registry()
  const services: PostgresChangesService[] = []
  const newService = (overrides: ServiceOverrides = {}) => {
    const service = new PostgresChangesService({
      databaseUrl: db.url,
      slotName: overrides.slotName,
      logger: process.env.CDC_DEBUG ? createLogger({ level: "debug" }) : silentLogger,
      clock: systemClock,
      limits: resolveLimits({ ...limits, ...overrides.limits }),
      registry,
      onDatabaseBroadcast: (m) => broadcasts.push(m),
      ...(overrides.log ? { log: overrides.log } : {}),
      ...(overrides.retryBackoffMs ? { retryBackoffMs: overrides.retryBackoffMs } : {}),
      ...(overrides.deliveriesPerChunk ? { deliveriesPerChunk: overrides.deliveriesPerChunk } : {}),
    })
    services.push(service)
    return service
  }
  const service = newService()
  return {
    db, sql, broadcasts, registry, service, newService,
    async close() {
      for (const s of services) await s.stop().catch(() => {})
      await sql.end()
      await db.drop()
    },
  }
}

export const serviceRole: AuthContext = createAuthContext({ role: 'service_role', exp: 4_000_000_000 })
export const anon: AuthContext = createAuthContext({ role: 'anon', exp: 4_000_000_000 })
export function user(sub: string, extra: Record<string, unknown> = {}): AuthContext {
  return createAuthContext({ role: 'authenticated', sub, exp: 4_000_000_000, ...extra })
}

/** Subscribes and waits for the "Subscribed to PostgreSQL" (or error) system message. */
export async function subscribe(h: Harness, bindings: Record<string, unknown>[], auth: AuthContext, service = h.service): Promise<RecordingSubscriber> {
  const sub = new RecordingSubscriber()
  await service.subscribe(sub, bindings, auth)
  return sub
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
