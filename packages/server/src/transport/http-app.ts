/**
 * The HTTP surface (Fastify): health, Prometheus metrics, REST broadcast, the tenants admin API
 * (with an admin key and tenants), the inspector's API and page, open CORS (as Supabase), and
 * the WebSocket upgrade hooked onto the same server.
 */
import { createRequire } from 'node:module'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Inspector } from '../inspect/inspector.js'
import type { Limits } from '../limits.js'
import type { ServerMetrics } from '../metrics.js'
import type { TenantRegistry } from '../tenant/tenant-registry.js'
import { registerAdminApi, type AdminApiOptions } from './admin-api.js'
import { registerInspectApi } from './inspect-api.js'
import { registerInspectorPage } from './inspector-page.js'
import { registerRestBroadcast } from './rest-broadcast.js'
import type { UpgradeHandler } from './websocket-upgrade.js'

export interface HttpAppOptions {
  registry: TenantRegistry
  metrics: ServerMetrics
  /** The server's limits (`maxFrameBytes` bounds request bodies). */
  limits: Limits
  upgrade: UpgradeHandler
  /** Databases `/health` checks, by name (`database`: the default tenant's; `control`: the tenant store). */
  healthChecks: Record<string, () => Promise<unknown>>
  /**
   * Which node and process answers `/health` (`node`, `pid`): behind one address (a load
   * balancer, `--workers N` on one port) it tells the instances apart.
   */
  identity?: { nodeId: string; pid: number }
  /** This node's cluster state (Redis, live nodes, slots it reads); absent on a single node. */
  cluster?: () => Record<string, unknown>
  /** The tenants admin API; absent without an admin key. */
  admin?: Omit<AdminApiOptions, 'registry'>
  /** Brings counters kept outside prom-client up to date before a scrape. */
  beforeMetrics?: () => void
  /** The inspector (API and page at /inspector), with the admin key and the page's folder. */
  inspector?: { inspector: Inspector; adminKey: string | null; pageDir: string | null }
  /** Extra routes (the demo app, dev endpoints) registered by the embedding program. */
  extend?: (app: FastifyInstance) => void | Promise<void>
}

/**
 * Fastify's own schema compilers (Ajv, fast-json-stringify), loaded when a route first declares
 * a schema instead of when the app is created. No route of ours declares one, and loading them
 * took ~110 ms of `Fastify()` (measured idle; twice that on a busy box): a restarted server
 * listens that much sooner, and until it listens every client is disconnected. They come from
 * Fastify's own dependencies, the versions it ships with. One difference, documented by Fastify
 * for any compiler given this way: a route's `headers` schema is not lower-cased for it.
 */
const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'))
type CompilerBuilder = (...args: unknown[]) => unknown
function loadedOnFirstUse(moduleName: string): CompilerBuilder {
  let build: CompilerBuilder | null = null
  return (...args) => (build ??= (fromFastify(moduleName) as () => CompilerBuilder)())(...args)
}
const lazyCompilers = {
  buildValidator: loadedOnFirstUse('@fastify/ajv-compiler'),
  buildSerializer: loadedOnFirstUse('@fastify/fast-json-stringify-compiler'),
}

export async function createHttpApp(options: HttpAppOptions): Promise<FastifyInstance> {
  const { registry, metrics, upgrade } = options
  const app = Fastify({
    logger: false,
    bodyLimit: options.limits.maxFrameBytes,
    schemaController: { compilersFactory: lazyCompilers as never },
  })

  app.addHook('onRequest', async (request, reply) => {
    reply.header('access-control-allow-origin', '*')
    if (request.method === 'OPTIONS') {
      reply
        .header('access-control-allow-methods', 'GET,POST,PATCH,DELETE,OPTIONS')
        .header('access-control-allow-headers', 'authorization,apikey,content-type,x-client-info,x-api-key,x-tenant-id')
        .code(204)
        .send()
    }
  })

  app.get('/health', async (_request, reply) => {
    const body: Record<string, unknown> = { status: 'ok' }
    if (options.identity) {
      body.node = options.identity.nodeId
      body.pid = options.identity.pid
    }
    let healthy = true
    for (const [name, check] of Object.entries(options.healthChecks)) {
      let state: 'ok' | 'unreachable' = 'ok'
      try {
        await Promise.race([check(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2_000).unref())])
      } catch {
        state = 'unreachable'
        healthy = false
      }
      body[name] = state
    }
    body.status = healthy ? 'ok' : 'degraded'
    if (options.cluster) body.cluster = options.cluster()
    body.connections = upgrade.connections.size
    if (registry.multiTenant) body.tenants = registry.slots.filter((slot) => slot.tenant !== null).length
    return reply.code(healthy ? 200 : 503).send(body)
  })

  app.get('/metrics', async (_request, reply) => {
    options.beforeMetrics?.()
    return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics())
  })

  registerRestBroadcast(app, registry, metrics)
  if (options.admin) await registerAdminApi(app, { ...options.admin, registry })
  if (options.inspector) {
    registerInspectApi(app, options.inspector)
    registerInspectorPage(app, options.inspector.pageDir)
  }
  await options.extend?.(app)

  app.server.on('upgrade', (request, socket, head) => upgrade.handleUpgrade(request, socket, head))
  return app
}
