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

/** A bad parameter: the route answers 400 with its message. */
class BadRequest extends Error {}

/** A whole number parameter in [min, max], or undefined when absent; throws BadRequest otherwise. */
function integer(value: string | undefined, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined || value === '') return undefined
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < min || n > max) throw new BadRequest(`${name} must be a whole number from ${min} to ${max}`)
  return n
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

type TenantHandler = (tenant: TenantInspector, request: FastifyRequest, reply: FastifyReply) => unknown

export function registerInspectApi(app: FastifyInstance, options: InspectApiOptions): void {
  const { inspector } = options
  /** A route about one tenant the key may see; BadRequest becomes a 400. */
  const withTenant = (handler: TenantHandler) => async (request: FastifyRequest, reply: FastifyReply) => {
    const tenant = await tenantOf(request, reply, options)
    if (!tenant) return
    try {
      return await handler(tenant, request, reply)
    } catch (error) {
      if (error instanceof BadRequest) return reply.code(400).send({ error: error.message })
      throw error
    }
  }
  const query = (request: FastifyRequest) => request.query as Query

  app.get('/api/inspect/session', async (request, reply) => {
    const scope = await authorize(request, reply, options)
    if (!scope) return
    return { scope: scope.kind, tenants: inspector.tenants.filter((t) => canSee(scope, t.id)).map((t) => t.id) }
  })

  app.get('/api/inspect/tenants', async (request, reply) => {
    const scope = await authorize(request, reply, options)
    if (!scope) return
    const tenants = inspector.tenants.filter((t) => canSee(scope, t.id))
    await Promise.all(tenants.map((t) => t.refreshPeers()))
    return { tenants: tenants.map((t) => t.overview()) }
  })

  app.get('/api/inspect/tenants/:tenant/overview', withTenant(async (tenant) => {
    await tenant.refreshPeers()
    return { ...tenant.overview(), history: tenant.history() }
  }))

  app.get('/api/inspect/tenants/:tenant/channels', withTenant((tenant, request) => {
    const { q, limit } = query(request)
    return tenant.views.list(q ?? '', integer(limit, 'limit', 1, 5_000) ?? 200)
  }))

  app.get('/api/inspect/tenants/:tenant/channels/:key', withTenant((tenant, request, reply) => {
    const detail = tenant.views.detail((request.params as { key: string }).key)
    return detail ?? reply.code(404).send({ error: 'nobody is subscribed to this channel on this node' })
  }))

  app.get('/api/inspect/tenants/:tenant/connections', withTenant((tenant) => tenant.views.listConnections()))

  app.get('/api/inspect/tenants/:tenant/messages', withTenant((tenant, request) => {
    const { topic, table, limit } = query(request)
    return { tracing: tenant.tracing, messages: tenant.messages({ ...(topic ? { topic } : {}), ...(table ? { table } : {}), limit: integer(limit, 'limit', 1, 500) ?? 50 }) }
  }))

  app.get('/api/inspect/trace', withTenant(async (tenant, request) => {
    const { id, position, table, pk, limit } = query(request)
    const traceQuery: TraceQuery = {}
    const byId = integer(id, 'id')
    const byPosition = integer(position, 'position')
    const verdicts = integer(limit, 'limit', 1, 10_000)
    if (byId !== undefined) traceQuery.id = byId
    if (byPosition !== undefined) traceQuery.position = byPosition
    if (table) traceQuery.table = table
    if (pk !== undefined) traceQuery.pk = pk
    if (verdicts !== undefined) traceQuery.limit = verdicts
    if (byId === undefined && byPosition === undefined && !table) throw new BadRequest('give id, position, or table (and pk) of the message to trace')
    return { tenant: tenant.id, tracing: tenant.tracing, traces: await tenant.trace(traceQuery) }
  }))

  app.post('/api/inspect/tenants/:tenant/tracing', withTenant((tenant, request) => {
    const minutes = isObject(request.body) ? request.body.minutes : undefined
    if (typeof minutes !== 'number' || !Number.isFinite(minutes) || minutes < 0 || minutes > 24 * 60) throw new BadRequest('minutes must be a number from 0 (stop) to 1440')
    tenant.enableFor(minutes * 60_000)
    return tenant.overview().tracing
  }))

  app.post('/api/inspect/tenants/:tenant/connections/:id/disconnect', withTenant((tenant, request, reply) => {
    const id = integer((request.params as { id: string }).id, 'the connection id', 1)!
    return tenant.disconnect(id) ? { disconnected: id } : reply.code(404).send({ error: `no connection ${id}` })
  }))

  app.post('/api/inspect/tenants/:tenant/broadcast', withTenant((tenant, request, reply) => {
    const body = request.body
    if (!isObject(body) || typeof body.topic !== 'string' || body.topic === '' || typeof body.event !== 'string' || body.event === '') {
      throw new BadRequest('give topic and event (strings), and payload (an object)')
    }
    const payload = body.payload ?? {}
    if (!isObject(payload)) throw new BadRequest('payload must be an object')
    if (JSON.stringify(payload).length > tenant.tenant.limits.maxPayloadBytes) throw new BadRequest('payload exceeds the tenant limit')
    tenant.broadcast(body.topic, body.event, payload, body.private === true)
    return reply.code(202).send({ sent: true })
  }))

  registerInspectStream(app, options)
}
