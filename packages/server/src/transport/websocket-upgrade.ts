/**
 * The WebSocket endpoint, `/realtime/v1/websocket` (and `/socket/websocket`, the Supabase
 * server's own path). The apikey, from `x-api-key` (wins) or the `apikey` query parameter,
 * is verified BEFORE the upgrade: a bad key gets an HTTP error with a JSON body
 * (`{"error": …}`, supabase-protocol.md §6.4) and never a socket. `vsn` picks the serializer.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import { ErrorCode, RealtimeError, serializerFor } from '@switchboard/protocol'
import { connectErrorMessage } from '../auth/jwt-verifier.js'
import { redactUrl } from '../logger.js'
import { Connection } from '../socket/connection.js'
import type { FlushScheduler } from '../socket/outbound-queue.js'
import type { Tenant } from '../tenant/tenant.js'

const WEBSOCKET_PATHS = new Set(['/realtime/v1/websocket', '/socket/websocket'])

export interface UpgradeHandler {
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void
  readonly connections: ReadonlySet<Connection>
  /** Stop accepting new sockets (graceful shutdown). */
  stopAccepting(): void
}

export function createUpgradeHandler(tenant: Tenant, scheduler: FlushScheduler): UpgradeHandler {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: tenant.limits.maxFrameBytes,
    perMessageDeflate: false,
    clientTracking: false,
  })
  const connections = new Set<Connection>()
  let accepting = true

  function reject(socket: Duplex, status: number, message: string, code: ErrorCode): void {
    tenant.metrics.countError(code)
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
    if (connections.size >= tenant.limits.maxConnections) return reject(socket, 429, 'Too many connected users', ErrorCode.ConnectionRateLimitReached)
    const serializer = serializerFor(url.searchParams.get('vsn'))
    if (!serializer) return reject(socket, 400, `Unsupported serializer version: ${url.searchParams.get('vsn')}`, ErrorCode.MalformedWebSocketMessage)
    const header = request.headers['x-api-key']
    const apiKey = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('apikey')
    if (!apiKey) return reject(socket, 401, 'API key is missing', ErrorCode.ApiKeyMissing)
    try {
      await tenant.verifier.verify(apiKey)
    } catch (error) {
      const realtimeError = error instanceof RealtimeError ? error : new RealtimeError(ErrorCode.MalformedJWT, 'The token provided is not a valid JWT')
      tenant.logger.info({ url: redactUrl(request.url ?? ''), code: realtimeError.code }, 'connection refused')
      return reject(socket, 401, connectErrorMessage(realtimeError), realtimeError.code)
    }
    if (socket.destroyed) return
    wss.handleUpgrade(request, socket, head, (ws) => {
      const agent = request.headers['x-client-info'] ?? request.headers['user-agent']
      const client = { vsn: serializer.vsn, agent: typeof agent === 'string' ? agent.slice(0, 120) : null, remoteAddress: request.socket.remoteAddress ?? null }
      const connection = new Connection(ws, socket, tenant, serializer, apiKey, scheduler, client)
      connections.add(connection)
      ws.once('close', () => connections.delete(connection))
    })
  }

  return {
    connections,
    handleUpgrade(request, socket, head) {
      socket.on('error', () => socket.destroy())
      handle(request, socket, head).catch((error: unknown) => {
        tenant.logger.error({ err: error }, 'upgrade failed')
        reject(socket, 500, 'Error connecting to Realtime', ErrorCode.UnknownErrorOnChannel)
      })
    },
    stopAccepting() {
      accepting = false
    },
  }
}
