/**
 * REST broadcast (supabase-protocol.md §3.5):
 *
 *   POST /realtime/v1/api/broadcast                           batch of JSON messages → 202
 *   POST /realtime/v1/api/broadcast/:topic/events/:event      one event, JSON or bytes → 202
 *
 * `topic` is the channel name without `realtime:`. Private messages need write permission
 * (RLS INSERT on realtime.messages); the batch endpoint skips topics without it (still 202,
 * as Supabase), the single-event endpoint answers 403.
 *
 * The tenant is resolved first, as for the WebSocket (Host, `x-tenant-id`, `?tenant=`): 401
 * `Tenant not found in database`, 403 suspended; then the token is verified with its keys, and
 * only then is the tenant started if idle. Each message counts against the tenant's events
 * and bytes per second (429 `Too many requests` above them).
 */
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ErrorCode } from '@switchboard/protocol'
import { isServiceRole, type AuthContext } from '../auth/auth-context.js'
import { topicKey } from '../broadcast/topic-registry.js'
import type { Tenant } from '../tenant/tenant.js'
import type { TenantRegistry } from '../tenant/tenant-registry.js'
import type { ServerMetrics } from '../metrics.js'
import { authenticateRequest } from './rest-auth.js'
import { restRefusal } from './tenant-refusal.js'

interface BatchMessage {
  topic: string
  event: string
  payload: Record<string, unknown>
  private: boolean
  id?: string
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Validates the batch body; returns messages or a map of errors (422 `{"errors": …}`). */
function parseBatch(body: unknown, tenant: Tenant): { messages: BatchMessage[] } | { errors: Record<string, string[]> } {
  if (!isObject(body) || !Array.isArray(body.messages)) return { errors: { messages: ['must be a list of messages'] } }
  if (body.messages.length > tenant.limits.maxRestBatchMessages) {
    return { errors: { messages: ['Too many messages to broadcast, please reduce the batch size'] } }
  }
  const problems: string[] = []
  const messages: BatchMessage[] = []
  body.messages.forEach((raw: unknown, index: number) => {
    if (!isObject(raw)) return problems.push(`${index}: must be an object`)
    const { topic, event, payload, id } = raw
    if (typeof topic !== 'string' || topic.length === 0) return problems.push(`${index}: topic can't be blank`)
    if (typeof event !== 'string' || event.length === 0) return problems.push(`${index}: event can't be blank`)
    if (!isObject(payload)) return problems.push(`${index}: payload must be an object`)
    if (JSON.stringify(payload).length > tenant.limits.maxPayloadBytes) return problems.push(`${index}: Payload size exceeds tenant limit`)
    const message: BatchMessage = { topic, event, payload, private: raw.private === true || raw.private === 'true' }
    if (typeof id === 'string') message.id = id
    messages.push(message)
  })
  return problems.length > 0 ? { errors: { messages: problems } } : { messages }
}

async function canWrite(tenant: Tenant, auth: AuthContext, topic: string, isPrivate: boolean): Promise<boolean> {
  if (!isPrivate || isServiceRole(auth)) return true
  return tenant.authorizer.authorizeWrite(topic, auth, 'broadcast')
}

function tooManyRequests(reply: FastifyReply, tenant: Tenant) {
  tenant.metrics.countError(ErrorCode.TooManyEvents)
  return reply.code(429).send({ message: 'Too many requests' })
}

type Handler = (tenant: Tenant, auth: AuthContext) => Promise<FastifyReply>

/**
 * Resolves the request's tenant, verifies its token with the tenant's keys, starts the tenant
 * if idle and runs `handle` with it (the tenant is held until `handle` is done).
 */
async function withTenant(registry: TenantRegistry, metrics: ServerMetrics, request: FastifyRequest, reply: FastifyReply, handle: Handler): Promise<FastifyReply> {
  const lookup = await registry.lookup(request.headers, request.url)
  if (!lookup.ok) {
    const answer = restRefusal(lookup.refusal)
    metrics.countError(answer.code)
    return reply.code(answer.status).send({ message: answer.message })
  }
  const { slot } = lookup
  const auth = await authenticateRequest(request, slot.verifier)
  if (!auth) {
    metrics.forTenant(slot.id).countError(ErrorCode.RestUnauthorized)
    return reply.code(401).send({ message: 'Unauthorized' })
  }
  const acquired = await slot.tryAcquire()
  if (!acquired.ok) {
    const answer = restRefusal(acquired.refusal)
    metrics.forTenant(slot.id).countError(answer.code)
    return reply.code(answer.status).send({ message: answer.message })
  }
  try {
    return await handle(acquired.lease.tenant, auth)
  } finally {
    acquired.lease.release()
  }
}

export function registerRestBroadcast(app: FastifyInstance, registry: TenantRegistry, metrics: ServerMetrics): void {
  // The single-event endpoint forwards bodies as bytes: keep JSON raw here and accept octet-stream.
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))

  for (const prefix of ['/realtime/v1/api', '/api']) {
    app.post(`${prefix}/broadcast`, (request, reply) => withTenant(registry, metrics, request, reply, async (tenant, auth) => {
      const parsed = parseBatch(request.body, tenant)
      if ('errors' in parsed) {
        tenant.metrics.countError(ErrorCode.RestInvalidBody)
        return reply.code(422).send({ errors: parsed.errors })
      }
      for (const message of parsed.messages) {
        if (!tenant.quota.allowEvent(JSON.stringify(message.payload).length)) return tooManyRequests(reply, tenant)
      }
      const allowed = new Map<string, Promise<boolean>>()
      const appends: Promise<void>[] = []
      for (const message of parsed.messages) {
        const key = topicKey(message.topic, message.private)
        let check = allowed.get(key)
        if (!check) allowed.set(key, (check = canWrite(tenant, auth, message.topic, message.private)))
        if (!(await check)) continue
        const payload: Record<string, unknown> = { type: 'broadcast', event: message.event, payload: message.payload }
        if (message.id) payload.meta = { id: message.id }
        tenant.metrics.messagesIn.inc({ kind: 'rest' })
        const appended = tenant.hub.publishJson(key, `realtime:${message.topic}`, payload)
        if (appended) appends.push(appended)
      }
      // In a cluster, 202 means every message is in the shared log (positioned, in order).
      if (appends.length > 0 && (await Promise.allSettled(appends)).some((r) => r.status === 'rejected')) return clusterUnavailable(reply)
      return reply.code(202).send()
    }))

    app.post<{ Params: { topic: string; event: string }; Querystring: { private?: string; persist?: string; 'persist[ttl]'?: string } }>(
      `${prefix}/broadcast/:topic/events/:event`,
      (request, reply) => withTenant(registry, metrics, request, reply, async (tenant, auth) => {
        const contentType = (request.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase()
        let bytes: Uint8Array
        let encoding: 'json' | 'binary'
        if (contentType === 'application/octet-stream') {
          bytes = request.body as Buffer
          encoding = 'binary'
        } else if (contentType === 'application/json') {
          bytes = Buffer.from(JSON.stringify(request.body ?? {}), 'utf8')
          encoding = 'json'
        } else {
          tenant.metrics.countError(ErrorCode.RestUnsupportedMediaType)
          return reply.code(415).send({ error: 'Unsupported Media Type. Use application/json or application/octet-stream' })
        }
        if (bytes.length > tenant.limits.maxPayloadBytes) {
          tenant.metrics.countError(ErrorCode.PayloadTooLarge)
          return reply.code(422).send({ errors: { payload: ['Payload size exceeds tenant limit'] } })
        }
        if (!tenant.quota.allowEvent(bytes.length)) return tooManyRequests(reply, tenant)
        const { topic, event } = request.params
        const isPrivate = request.query.private === 'true'
        if (!(await canWrite(tenant, auth, topic, isPrivate))) {
          tenant.metrics.countError(ErrorCode.Unauthorized)
          return reply.code(403).send({ message: 'Unauthorized' })
        }
        tenant.metrics.messagesIn.inc({ kind: 'rest' })
        // realtime-js `httpSend(event, payload, { persist })` adds `persist=true` (or `persist[ttl]=n`):
        // stored in realtime.messages and delivered from the replication stream, like `realtime.send`.
        if (request.query.persist === 'true' || request.query['persist[ttl]'] !== undefined) {
          const id = randomUUID()
          try {
            await tenant.messages.persist({ id, topic, event, private: isPrivate, json: encoding === 'json' ? Buffer.from(bytes).toString('utf8') : null, binary: encoding === 'binary' ? bytes : null })
          } catch (error) {
            tenant.metrics.countError(ErrorCode.BroadcastPersistFailed)
            return reply.code(422).send({ error: `${ErrorCode.BroadcastPersistFailed}: ${(error as Error).message}` })
          }
          if (!tenant.postgresChanges) await tenant.hub.publishUser(topicKey(topic, isPrivate), `realtime:${topic}`, { event, encoding, payload: bytes, metadataJson: JSON.stringify({ id }) })?.catch(() => {})
          return reply.code(202).send()
        }
        const appended = tenant.hub.publishUser(topicKey(topic, isPrivate), `realtime:${topic}`, { event, encoding, payload: bytes, metadataJson: null })
        if (appended) {
          try {
            await appended
          } catch {
            return clusterUnavailable(reply)
          }
        }
        return reply.code(202).send()
      }),
    )
  }
}

/** The shared log could not take the message (Redis away): nothing was sent, the caller may retry. */
function clusterUnavailable(reply: FastifyReply): FastifyReply {
  return reply.code(503).send({ error: 'The cluster log is unavailable; the message was not sent' })
}
