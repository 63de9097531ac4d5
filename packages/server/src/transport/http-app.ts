/**
 * The HTTP surface (Fastify): health, Prometheus metrics, REST broadcast, open CORS (as
 * Supabase), and the WebSocket upgrade hooked onto the same server.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import type { Sql } from 'postgres'
import type { Inspector } from '../inspect/inspector.js'
import type { ServerMetrics } from '../metrics.js'
import type { Tenant } from '../tenant/tenant.js'
import { registerInspectApi } from './inspect-api.js'
import { registerInspectorPage } from './inspector-page.js'
import { registerRestBroadcast } from './rest-broadcast.js'
import type { UpgradeHandler } from './websocket-upgrade.js'

export interface HttpAppOptions {
  tenant: Tenant
  metrics: ServerMetrics
  sql: Sql
  upgrade: UpgradeHandler
  /** Brings counters kept outside prom-client up to date before a scrape. */
  beforeMetrics?: () => void
  /** The inspector (API and page at /inspector), with the admin key and the page's folder. */
  inspector?: { inspector: Inspector; adminKey: string | null; pageDir: string | null }
  /** Extra routes (the demo app, dev endpoints) registered by the embedding program. */
  extend?: (app: FastifyInstance) => void | Promise<void>
}

export async function createHttpApp(options: HttpAppOptions): Promise<FastifyInstance> {
  const { tenant, metrics, sql, upgrade } = options
  const app = Fastify({ logger: false, bodyLimit: tenant.limits.maxFrameBytes })

  app.addHook('onRequest', async (request, reply) => {
    reply.header('access-control-allow-origin', '*')
    if (request.method === 'OPTIONS') {
      reply
        .header('access-control-allow-methods', 'GET,POST,OPTIONS')
        .header('access-control-allow-headers', 'authorization,apikey,content-type,x-client-info,x-api-key')
        .code(204)
        .send()
    }
  })

  app.get('/health', async (_request, reply) => {
    let database: 'ok' | 'unreachable' = 'ok'
    try {
      await Promise.race([sql`select 1`, new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2_000).unref())])
    } catch {
      database = 'unreachable'
    }
    const body = { status: database === 'ok' ? 'ok' : 'degraded', database, connections: upgrade.connections.size }
    return reply.code(database === 'ok' ? 200 : 503).send(body)
  })

  app.get('/metrics', async (_request, reply) => {
    options.beforeMetrics?.()
    return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics())
  })

  registerRestBroadcast(app, tenant)
  if (options.inspector) {
    registerInspectApi(app, options.inspector)
    registerInspectorPage(app, options.inspector.pageDir)
  }
  await options.extend?.(app)

  app.server.on('upgrade', (request, socket, head) => upgrade.handleUpgrade(request, socket, head))
  return app
}
