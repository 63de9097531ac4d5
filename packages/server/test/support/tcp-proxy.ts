/**
 * A round-robin TCP proxy for cluster tests: one address in front of several Switchboard nodes,
 * the way a load balancer puts one hostname in front of a cluster.
 *
 *   client ──► proxy ──► backend[cursor]   (cursor moves on at every new connection)
 *                 └─ connect refused/timed out ──► backend[cursor+1] … (each tried once)
 *
 *   setBackends(ports)  the nodes new connections go to (open ones stay where they are)
 *   dropAll()           destroy every proxied connection, both sides: a network drop, or a
 *                       load balancer restart; clients reconnect and land on the next nodes
 *   connectionsTo(port) open connections on one backend (which node a client landed on)
 *   close()             dropAll, and stop listening
 *
 * Why a new proxy rather than test-support/tcp-proxy.ts (the client chaos tests' one, which
 * this borrows from: destroy both sides to drop, swallow socket errors): that one forwards to
 * one target and can stall or delay bytes; this one chooses among many and skips dead ones,
 * which is what moving clients between nodes needs. Each client connection waits, unread (the
 * kernel buffers its first bytes), until its backend is connected, then the two are piped with
 * backpressure.
 *
 * @example
 * const proxy = await startRoundRobinProxy({ backends: [a.port, b.port] })
 * createClient(proxy.url, anonKey)            // lands on a, the next client on b
 * await a.kill(); proxy.dropAll()             // every client reconnects, all to b
 */
import { connect, createServer, type Server, type Socket } from 'node:net'

export interface RoundRobinProxy {
  /** The port the proxy listens on (127.0.0.1). */
  readonly port: number
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** Open proxied connections. */
  readonly connections: number
  /** Client connections accepted so far (also those no backend took). */
  readonly accepted: number
  setBackends(ports: readonly number[]): void
  /** Open proxied connections whose backend is `port`. */
  connectionsTo(port: number): number
  dropAll(): void
  close(): Promise<void>
}

export interface RoundRobinProxyOptions {
  backends: readonly number[]
  /** Where the backends listen. Default 127.0.0.1. */
  backendHost?: string
  /** The proxy's own port. Default: a free one. */
  port?: number
  /** A backend that neither accepts nor refuses within this is skipped. Default 2 s. */
  connectTimeoutMs?: number
}

interface Pair {
  client: Socket
  upstream: Socket | null
  backend: number | null
}

export async function startRoundRobinProxy(options: RoundRobinProxyOptions): Promise<RoundRobinProxy> {
  const host = options.backendHost ?? '127.0.0.1'
  const connectTimeoutMs = options.connectTimeoutMs ?? 2_000
  let backends = [...options.backends]
  let cursor = 0
  let accepted = 0
  const pairs = new Set<Pair>()

  const destroy = (pair: Pair) => {
    pairs.delete(pair)
    pair.client.destroy()
    pair.upstream?.destroy()
  }

  /** Tries backends from `start` on, each once; the first that accepts gets the client. */
  const route = (pair: Pair, list: readonly number[], start: number, tried: number) => {
    if (pair.client.destroyed || !pairs.has(pair)) return destroy(pair)
    if (tried >= list.length) return destroy(pair) // nobody home: like a load balancer with no healthy node
    const index = (start + tried) % list.length
    const port = list[index]!
    const upstream = connect({ port, host })
    pair.upstream = upstream // so that a drop while connecting destroys it too
    upstream.setTimeout(connectTimeoutMs, () => upstream.destroy(new Error('connect timeout')))
    const onFailure = () => {
      upstream.destroy()
      route(pair, list, start, tried + 1)
    }
    upstream.once('error', onFailure)
    upstream.once('connect', () => {
      upstream.off('error', onFailure)
      upstream.setTimeout(0)
      upstream.on('error', () => undefined)
      if (pair.client.destroyed || !pairs.has(pair)) return destroy(pair)
      // The next connection starts after the backend that took this one, so a dead backend's
      // share goes to the live ones in turn rather than all to its neighbour.
      if (list === backends) cursor = (index + 1) % list.length
      pair.backend = port
      upstream.on('close', () => destroy(pair))
      pair.client.pipe(upstream)
      upstream.pipe(pair.client)
    })
  }

  const server: Server = createServer((client) => {
    accepted++
    const pair: Pair = { client, upstream: null, backend: null }
    pairs.add(pair)
    client.on('error', () => undefined)
    client.on('close', () => destroy(pair))
    const list = backends
    const start = list.length === 0 ? 0 : cursor % list.length
    cursor = list.length === 0 ? 0 : (start + 1) % list.length
    route(pair, list, start, 0)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  if (!address || typeof address !== 'object') throw new Error('proxy has no address')
  const port = address.port

  const dropAll = () => {
    for (const pair of [...pairs]) destroy(pair)
  }

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return [...pairs].filter((pair) => pair.backend !== null).length
    },
    get accepted() {
      return accepted
    },
    setBackends(ports) {
      backends = [...ports]
      cursor = 0
    },
    connectionsTo(backend) {
      return [...pairs].filter((pair) => pair.backend === backend).length
    },
    dropAll,
    close() {
      dropAll()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
