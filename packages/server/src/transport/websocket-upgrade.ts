/**
 * The WebSocket endpoint, `/realtime/v1/websocket` (and `/socket/websocket`, the Supabase
 * server's own path). Everything a client can be refused for is decided BEFORE the upgrade and
 * answered with an HTTP error and a JSON body (`{"error": …}`, supabase-protocol.md §6.4):
 *
 *   path ─▶ tenant (Host / x-tenant-id / ?tenant=: 404 unknown, 403 suspended) ─▶ sockets
 *   (429) ─▶ vsn (400) ─▶ apikey from `x-api-key` (wins) or `?apikey=` (401 missing) ─▶ verified
 *   with the tenant's keys (401) ─▶ tenant started if idle (503 when its database is down) ─▶ 101
 *
 * An apikey that does not verify never starts a tenant. `vsn` picks the serializer.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import { ErrorCode, RealtimeError, serializerFor } from '@switchboard/protocol'
import { connectErrorMessage } from '../auth/jwt-verifier.js'
import type { Limits } from '../limits.js'
import { redactUrl, type Logger } from '../logger.js'
import type { ServerMetrics } from '../metrics.js'
import { Connection } from '../socket/connection.js'
import type { FlushScheduler } from '../socket/outbound-queue.js'
import { TENANT_GONE_CLOSE, type TenantRegistry } from '../tenant/tenant-registry.js'
import { upgradeRefusal } from './tenant-refusal.js'

const WEBSOCKET_PATHS = new Set(['/realtime/v1/websocket', '/socket/websocket'])

export interface UpgradeHandler {
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void
  /** Every open socket of every tenant. */
  readonly connections: ReadonlySet<Connection>
  /** Stop accepting new sockets (graceful shutdown). */
  stopAccepting(): void
}

export interface UpgradeOptions {
  registry: TenantRegistry
  scheduler: FlushScheduler
  metrics: ServerMetrics
  logger: Logger
  /** The server's limits: `maxFrameBytes`, and `maxConnections` over all tenants. */
  limits: Limits
}

export function createUpgradeHandler(options: UpgradeOptions): UpgradeHandler {
  const { registry, scheduler, metrics, logger } = options
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.limits.maxFrameBytes,
    perMessageDeflate: false,
    clientTracking: false,
  })
  const connections = new Set<Connection>()
  let accepting = true

  function reject(socket: Duplex, status: number, message: string, code: ErrorCode, count: (code: ErrorCode) => void = metrics.countError): void {
    count(code)
    const body = JSON.stringify({ error: message })
    const statusText = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' }[status] ?? 'Error'
    socket.end(
      `HTTP/1.1 ${status} ${statusText}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  }

  async function handle(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost')
    if (!WEBSOCKET_PATHS.has(url.pathname)) return reject(socket, 404, 'Not Found', ErrorCode.UnmatchedTopic)
    if (!accepting) return reject(socket, 503, 'Realtime is restarting, please standby', ErrorCode.RealtimeRestarting)
    const lookup = await registry.lookup(request.headers, request.url)
    if (!lookup.ok) {
      const answer = upgradeRefusal(lookup.refusal)
      logger.info({ tenant: lookup.tenantId, code: answer.code }, 'connection refused')
      return reject(socket, answer.status, answer.message, answer.code)
    }
    const { slot } = lookup
    const tenantMetrics = metrics.forTenant(slot.id)
    const count = tenantMetrics.countError
    if (connections.size >= options.limits.maxConnections || slot.clients.size >= slot.limits.maxConnections) {
      return reject(socket, 429, 'Too many connected users', ErrorCode.ConnectionRateLimitReached, count)
    }
    const serializer = serializerFor(url.searchParams.get('vsn'))
    if (!serializer) return reject(socket, 400, `Unsupported serializer version: ${url.searchParams.get('vsn')}`, ErrorCode.MalformedWebSocketMessage, count)
    const header = request.headers['x-api-key']
    const apiKey = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('apikey')
    if (!apiKey) return reject(socket, 401, 'API key is missing', ErrorCode.ApiKeyMissing, count)
    try {
      await slot.verifier.verify(apiKey)
    } catch (error) {
      const realtimeError = error instanceof RealtimeError ? error : new RealtimeError(ErrorCode.MalformedJWT, 'The token provided is not a valid JWT')
      logger.info({ tenant: slot.id, url: redactUrl(request.url ?? ''), code: realtimeError.code }, 'connection refused')
      return reject(socket, 401, connectErrorMessage(realtimeError), realtimeError.code, count)
    }
    const acquired = await slot.tryAcquire()
    if (!acquired.ok) {
      const answer = upgradeRefusal(acquired.refusal)
      return reject(socket, answer.status, answer.message, answer.code, count)
    }
    const { lease } = acquired
    if (socket.destroyed) return lease.release()
    socket.once('close', () => lease.release())
    const tenant = lease.tenant
    wss.handleUpgrade(request, socket, head, (ws) => {
      const agent = request.headers['x-client-info'] ?? request.headers['user-agent']
      const client = { vsn: serializer!.vsn, agent: typeof agent === 'string' ? agent.slice(0, 120) : null, remoteAddress: request.socket.remoteAddress ?? null }
      const connection = new Connection(ws, socket, tenant, serializer!, apiKey, scheduler, client)
      connections.add(connection)
      slot.attach(connection)
      lease.release()
      ws.once('close', () => {
        connections.delete(connection)
        slot.detach(connection)
      })
      // Shutdown began while this socket was being set up (the checks above await): the drain
      // has already run over `connections`, so this one is drained here or it would hold the
      // HTTP server open, and the restart with it, until the client left.
      if (!accepting) connection.drain()
      // Removed or suspended (or stopped) while this socket was being set up: tell it at once.
      else if (slot.refusal !== null || slot.tenant !== tenant) connection.disconnect('Server requested disconnect', TENANT_GONE_CLOSE, 'tenant unavailable')
    })
  }

  return {
    connections,
    handleUpgrade(request, socket, head) {
      socket.on('error', () => socket.destroy())
      handle(request, socket, head).catch((error: unknown) => {
        logger.error({ err: error }, 'upgrade failed')
        reject(socket, 500, 'Error connecting to Realtime', ErrorCode.UnknownErrorOnChannel)
      })
    },
    stopAccepting() {
      accepting = false
    },
  }
}
