/**
 * The tenants admin API, authorized with the server's admin key only (`Authorization: Bearer
 * <ADMIN_KEY>`; a tenant's JWT, even `service_role`, is refused):
 *
 *   GET    /api/tenants                       200 [tenant, …]
 *   POST   /api/tenants                       201 tenant   (400 bad input, 409 id taken, 422 database unreachable)
 *   GET    /api/tenants/:id                   200 tenant   (404)
 *   PATCH  /api/tenants/:id                   200 tenant   (400, 404)
 *   DELETE /api/tenants/:id                   204          (404): sockets told and closed, tenant stopped, slot dropped
 *   POST   /api/tenants/:id/rotate-secret     200 tenant   (400, 404): the old secret stays valid until the given time
 *
 * Errors are `{"error": "<what>", "errors"?: {"<field>": ["<problem>", …]}}`. Input is checked
 * completely before anything is written (tenant/tenant-config.ts), and a tenant is created
 * only after its database answered: nothing is half-created. Each change is applied on this
 * node before the response (sockets of a removed tenant are gone when DELETE returns) and
 * reaches other nodes through the store's notifications.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Clock } from '../clock.js'
import { connectDatabase, DatabaseError } from '../db/connect.js'
import { dropReplicationSlot } from '../db/replication-slot.js'
import type { Logger } from '../logger.js'
import { SecretsKeyError } from '../tenant/secret-box.js'
import {
  applyPatch,
  applyRotation,
  checkTenantId,
  maskPassword,
  parseNewTenant,
  parseRotation,
  parseTenantPatch,
  tenantView,
  type FieldErrors,
} from '../tenant/tenant-config.js'
import { tenantSlotName, type TenantRegistry } from '../tenant/tenant-registry.js'
import { TenantExistsError, type TenantStore } from '../tenant/tenant-store.js'

export interface AdminApiOptions {
  adminKey: string
  store: TenantStore
  registry: TenantRegistry
  clock: Clock
  logger: Logger
  /** Checks that a tenant's database answers before it is stored. Default: connect and `select 1`. */
  checkDatabase?: (url: string) => Promise<void>
}

const SLOT_DROP_ATTEMPTS = 10
const SLOT_DROP_WAIT_MS = 200

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

async function defaultCheckDatabase(url: string, logger: Logger): Promise<void> {
  const sql = await connectDatabase(url, { logger, max: 1 })
  await sql.end({ timeout: 1 })
}

export async function registerAdminApi(app: FastifyInstance, options: AdminApiOptions): Promise<void> {
  const { store, registry, clock, logger } = options
  if (options.adminKey.length < 16) throw new RangeError('the admin key must be at least 16 characters')
  const expected = digest(options.adminKey)
  const checkDatabase = options.checkDatabase ?? ((url: string) => defaultCheckDatabase(url, logger))

  const fail = (reply: FastifyReply, status: number, error: string, errors?: FieldErrors) =>
    reply.code(status).send(errors ? { error, errors } : { error })

  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      if (request.method === 'OPTIONS') return
      const header = request.headers.authorization
      const presented = header?.toLowerCase().startsWith('bearer ') ? header.slice(7).trim() : ''
      // Compare digests: constant time whatever the lengths.
      if (!presented || !timingSafeEqual(digest(presented), expected)) {
        return fail(reply, 401, 'Unauthorized: the admin API takes the server admin key (Authorization: Bearer <ADMIN_KEY>), not a tenant key')
      }
    })

    scope.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
      if (error instanceof SecretsKeyError) return fail(reply, 503, error.message)
      if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) return fail(reply, error.statusCode, `bad request: ${error.message}`)
      logger.error({ err: error, url: request.url }, 'admin API request failed')
      return fail(reply, 503, `the control database did not answer: ${error.message.split('\n')[0]}`)
    })

    /** Drops the tenant's slot on `databaseUrl` once this node's stream has let go of it (best effort, logged). */
    const dropSlot = async (id: string, databaseUrl: string) => {
      const slot = tenantSlotName(id, databaseUrl)
      let outcome = 'absent'
      for (let attempt = 0; attempt < SLOT_DROP_ATTEMPTS; attempt++) {
        outcome = await dropReplicationSlot(databaseUrl, slot).catch((error: unknown) => `failed: ${(error as Error).message}`)
        if (outcome !== 'active') break
        await new Promise((resolve) => setTimeout(resolve, SLOT_DROP_WAIT_MS))
      }
      if (outcome !== 'dropped' && outcome !== 'absent') logger.warn({ tenant: id, slot, outcome }, 'the replication slot could not be dropped: drop it by hand')
    }

    const idOf = (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply): string | null => {
      const errors: FieldErrors = {}
      const id = checkTenantId(request.params.id, errors)
      if (id === null) fail(reply, 400, 'invalid tenant id', errors)
      return id
    }

    scope.get('/api/tenants', async (_request, reply) => reply.send((await store.list()).map(tenantView)))

    scope.post('/api/tenants', async (request, reply) => {
      const parsed = parseNewTenant(request.body)
      if (!parsed.ok) return fail(reply, 400, 'invalid tenant', parsed.errors)
      const tenant = parsed.value
      if (await store.get(tenant.externalId)) return fail(reply, 409, `tenant ${JSON.stringify(tenant.externalId)} already exists`)
      try {
        await checkDatabase(tenant.databaseUrl)
      } catch (error) {
        const message = error instanceof DatabaseError ? error.message : `cannot connect to database at ${maskPassword(tenant.databaseUrl)}`
        return fail(reply, 422, 'the tenant database does not answer', { database_url: [message] })
      }
      try {
        const created = await store.create(tenant)
        await registry.refresh(created.externalId)
        logger.info({ tenant: created.externalId }, 'tenant added')
        return reply.code(201).send(tenantView(created))
      } catch (error) {
        if (error instanceof TenantExistsError) return fail(reply, 409, error.message)
        throw error
      }
    })

    scope.get<{ Params: { id: string } }>('/api/tenants/:id', async (request, reply) => {
      const id = idOf(request, reply)
      if (id === null) return reply
      const tenant = await store.get(id)
      return tenant ? reply.send(tenantView(tenant)) : fail(reply, 404, `no tenant ${JSON.stringify(id)}`)
    })

    scope.patch<{ Params: { id: string } }>('/api/tenants/:id', async (request, reply) => {
      const id = idOf(request, reply)
      if (id === null) return reply
      const parsed = parseTenantPatch(request.body)
      if (!parsed.ok) return fail(reply, 400, 'invalid change', parsed.errors)
      if (parsed.value.databaseUrl !== undefined) {
        try {
          await checkDatabase(parsed.value.databaseUrl)
        } catch (error) {
          return fail(reply, 422, 'the tenant database does not answer', { database_url: [error instanceof DatabaseError ? error.message : 'cannot connect'] })
        }
      }
      let previousDatabaseUrl: string | null = null
      const updated = await store.update(id, (current) => {
        previousDatabaseUrl = current.databaseUrl
        const next = applyPatch(current, parsed.value, clock.now())
        if (next.jwtSecret === null && next.jwks === null) throw new PatchRejected({ jwt_jwks: ['cannot remove the JWKS of a tenant without a jwt_secret'] })
        return next
      }).catch((error: unknown) => {
        if (error instanceof PatchRejected) return error
        throw error
      })
      if (updated instanceof PatchRejected) return fail(reply, 400, 'invalid change', updated.errors)
      if (!updated) return fail(reply, 404, `no tenant ${JSON.stringify(id)}`)
      await registry.refresh(id)
      // Moved to another database: the slot on the old one would keep its WAL forever.
      if (previousDatabaseUrl !== null && previousDatabaseUrl !== updated.databaseUrl) await dropSlot(id, previousDatabaseUrl)
      logger.info({ tenant: id, fields: Object.keys(parsed.value) }, 'tenant updated')
      return reply.send(tenantView(updated))
    })

    scope.post<{ Params: { id: string } }>('/api/tenants/:id/rotate-secret', async (request, reply) => {
      const id = idOf(request, reply)
      if (id === null) return reply
      const parsed = parseRotation(request.body, clock.now())
      if (!parsed.ok) return fail(reply, 400, 'invalid rotation', parsed.errors)
      const updated = await store.update(id, (current) => applyRotation(current, parsed.value, clock.now()))
      if (!updated) return fail(reply, 404, `no tenant ${JSON.stringify(id)}`)
      await registry.refresh(id)
      logger.info({ tenant: id, oldSecretValidUntil: new Date(parsed.value.oldSecretValidUntil).toISOString() }, 'tenant secret rotated')
      return reply.send(tenantView(updated))
    })

    scope.delete<{ Params: { id: string } }>('/api/tenants/:id', async (request, reply) => {
      const id = idOf(request, reply)
      if (id === null) return reply
      const removed = await store.remove(id)
      if (!removed) return fail(reply, 404, `no tenant ${JSON.stringify(id)}`)
      // Sockets told and closed, tenant stopped here; other nodes do the same on the notification.
      await registry.refresh(id)
      await dropSlot(id, removed.databaseUrl)
      logger.info({ tenant: id }, 'tenant removed')
      return reply.code(204).send()
    })
  })
}

/** A patch that would leave the tenant without any key: rolled back, answered 400. */
class PatchRejected extends Error {
  constructor(readonly errors: FieldErrors) {
    super('patch rejected')
  }
}
