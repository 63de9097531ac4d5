/**
 * The inspector's JSON API (the page uses it; so can scripts). Every route needs the admin key or
 * a tenant's service_role key (inspect-auth.ts); a tenant outside the key's scope is answered
 * like a tenant that does not exist.
 *
 *   GET  /api/inspect/session                                  who the key is, which tenants it sees
 *   GET  /api/inspect/tenants                                  an overview of each of them
 *   GET  /api/inspect/tenants/:tenant/overview                 overview + 15-minute history
 *   GET  /api/inspect/tenants/:tenant/channels?q=&limit=       searchable channel list
 *   GET  /api/inspect/tenants/:tenant/channels/:key            one channel (`public:room1`, URL-encoded)
 *   GET  /api/inspect/tenants/:tenant/connections              the tenant's sockets
 *   GET  /api/inspect/tenants/:tenant/messages?topic=&table=   recent traced messages
 *   GET  /api/inspect/trace?tenant=&id=|position=|table=&pk=   delivery verdicts per subscriber
 *   POST /api/inspect/tenants/:tenant/tracing {minutes}        trace for a while (0: stop)
 *   POST /api/inspect/tenants/:tenant/connections/:id/disconnect
 *   POST /api/inspect/tenants/:tenant/broadcast {topic, event, payload, private}
 *   GET  /api/inspect/stream?tenant=&channel=&q=&recent=1      live updates (inspect-stream.ts)
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ErrorCode } from '@switchboard/protocol'
import type { Inspector } from '../inspect/inspector.js'
import type { TenantInspector, TraceQuery } from '../inspect/tenant-inspector.js'
import { canSee, inspectScope, namedTenant, type InspectScope } from './inspect-auth.js'
import { registerInspectStream } from './inspect-stream.js'

export interface InspectApiOptions {
  inspector: Inspector
  adminKey: string | null
}

type Query = Record<string, string | undefined>

/** The scope of the request's key, or a 401 already sent. */
export async function authorize(request: FastifyRequest, reply: FastifyReply, options: InspectApiOptions): Promise<InspectScope | null> {
  const scope = await inspectScope(request, options.inspector, options.adminKey)
  if (scope) return scope
  const tenant = options.inspector.tenants[0]?.tenant
  tenant?.metrics.countError(ErrorCode.RestUnauthorized)
  await reply.code(401).send({ error: 'Unauthorized: the inspector needs the admin key or a service_role key of the tenant' })
  return null
}

/**
 * The tenant a request is about (`:tenant`, else `tenant=`/`x-tenant-id`, else the key's own, else
 * the only one), if the key may see it; otherwise a 401/404 already sent.
 */
export async function tenantOf(request: FastifyRequest, reply: FastifyReply, options: InspectApiOptions): Promise<TenantInspector | null> {
  const scope = await authorize(request, reply, options)
  if (!scope) return null
  const param = (request.params as Record<string, string | undefined>).tenant
  const tenants = options.inspector.tenants
  const id = param ?? namedTenant(request) ?? (scope.kind === 'tenant' ? scope.tenant : tenants.length === 1 ? tenants[0]!.id : undefined)
  const inspector = id === undefined ? undefined : options.inspector.tenant(id)
  if (!inspector || !canSee(scope, inspector.id)) {
    await reply.code(404).send({ error: id === undefined ? 'name a tenant (tenant=…)' : `no tenant ${JSON.stringify(id)}` })
    return null
  }
  return inspector
}

function integer(value: string | undefined, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined | Error {
  if (value === undefined || value === '') return undefined
  if (!/^\d+$/.test(value)) return new Error(`${name} must be a whole number`)
  const n = Number(value)
  return n < min || n > max ? new Error(`${name} must be from ${min} to ${max}`) : n
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function registerInspectApi(app: FastifyInstance, options: InspectApiOptions): void {
  const { inspector } = options

  app.get('/api/inspect/session', async (request, reply) => {
    const scope = await authorize(request, reply, options)
    if (!scope) return
    const tenants = inspector.tenants.filter((t) => canSee(scope, t.id)).map((t) => t.id)
    return { scope: scope.kind, tenants }
  })

  app.get('/api/inspect/tenants', async (request, reply) => {
    const scope = await authorize(request, reply, options)
    if (!scope) return
    return { tenants: inspector.tenants.filter((t) => canSee(scope, t.id)).map((t) => t.overview()) }
  })

  app.get('/api/inspect/tenants/:tenant/overview', async (request, reply) => {
    const tenant = await tenantOf(request, reply, options)
    if (!tenant) return
    return { ...tenant.overview(), history: tenant.history() }
  })

  app.get('/api/inspect/tenants/:tenant/channels', async (request, reply) => {
    const tenant = await tenantOf(request, reply, options)
    if (!tenant) return
    const query = request.query as Query
    const limit = integer(query.limit, 'limit', 1, 5_000)
    if (limit instanceof Error) return reply.code(400).send({ error: limit.message })
    return tenant.views.list(query.q ?? '', limit ?? 200)
  })

  app.get('/api/inspect/tenants/:tenant/channels/:key', async (request, reply) => {
    const tenant = await tenantOf(request, reply, options)
    if (!tenant) return
    const detail = tenant.views.detail((request.params as { key: string }).key)
    if (!detail) return reply.code(404).send({ error: 'nobody is subscribed to this channel on this node' })
    return detail
  })

  app.get('/api/inspect/tenants/:tenant/connections', async (request, reply) => {
    const tenant = await tenantOf(request, reply, options)
    if (!tenant) return
    return tenant.views.listConnections()
  })

  app.get('/api/inspect/tenants/:tenant/messages', async (request, reply) => {
    const tenant = await tenantOf(request, reply, options)
    if (!tenant) return
    const query = request.query as Query
    const limit = integer(query.limit, 'limit', 1, 500)
    if (limit instanceof Error) return reply.code(400).send({ error: limit.message })
    return { tracing: tenant.tracing, messages: tenant.messages({ ...(query.topic ? { topic: query.topic } : {}), ...(query.table ? { table: query.table } : {}), limit: limit ?? 50 }) }
  })

  app.get('/api/inspect/trace', async (request, reply) => {
    const tenant = await tenantOf(request, reply, options)
    if (!tenant) return
    const query = request.query as Query
    const id = integer(query.id, 'id')
    const position = integer(query.position, 'position')
    const limit = integer(query.limit, 'limit', 1, 10_000)
    for (const value of [id, position, limit]) if (value instanceof Error) return reply.code(400).send({ error: value.message })
    if (id === undefined && position === undefined && !query.table) {
      return reply.code(400).send({ error: 'give id, position, or table (and pk) of the message to trace' })
    }
    const traceQuery: TraceQuery = {}
    if (typeof id === 'number') traceQuery.id = id
    if (typeof position === 'number') traceQuery.position = position
    if (query.table) traceQuery.table = query.table
    if (query.pk !== undefined) traceQuery.pk = query.pk
    if (typeof limit === 'number') traceQuery.limit = limit
    const traces = await tenant.trace(traceQuery)
    return { tenant: tenant.id, tracing: tenant.tracing, traces }
  })

  app.post('/api/inspect/tenants/:tenant/tracing', async (request, reply) => {
    const tenant = await tenantOf(request, reply, options)
    if (!tenant) return
    const minutes = isObject(request.body) ? request.body.minutes : undefined
    if (typeof minutes !== 'number' || !Number.isFinite(minutes) || minutes < 0 || minutes > 24 * 60) {
      return reply.code(400).send({ error: 'minutes must be a number from 0 (stop) to 1440' })
    }
    tenant.enableFor(minutes * 60_000)
    return tenant.overview().tracing
  })

  app.post('/api/inspect/tenants/:tenant/connections/:id/disconnect', async (request, reply) => {
    const tenant = await tenantOf(request, reply, options)
    if (!tenant) return
    const id = integer((request.params as { id: string }).id, 'id', 1)
    if (id instanceof Error || id === undefined) return reply.code(400).send({ error: 'the connection id must be a whole number' })
    if (!tenant.disconnect(id)) return reply.code(404).send({ error: `no connection ${id}` })
    return { disconnected: id }
  })

  app.post('/api/inspect/tenants/:tenant/broadcast', async (request, reply) => {
    const tenant = await tenantOf(request, reply, options)
    if (!tenant) return
    const body = request.body
    if (!isObject(body) || typeof body.topic !== 'string' || body.topic === '' || typeof body.event !== 'string' || body.event === '') {
      return reply.code(400).send({ error: 'give topic and event (strings), and payload (an object)' })
    }
    const payload = body.payload ?? {}
    if (!isObject(payload)) return reply.code(400).send({ error: 'payload must be an object' })
    if (JSON.stringify(payload).length > tenant.tenant.limits.maxPayloadBytes) return reply.code(400).send({ error: 'payload exceeds the tenant limit' })
    tenant.broadcast(body.topic, body.event, payload, body.private === true)
    return reply.code(202).send({ sent: true })
  })

  registerInspectStream(app, options)
}
