/**
 * A small TCP proxy that tests control, to put bad networks between a client and a server:
 *
 *   dropAll()    destroy every open connection (both sides), like a network drop / server crash
 *   blackhole()  stall: keep sockets open, forward nothing (new connections hang too), like a
 *                sleeping laptop or a dead NAT entry; heartbeats time out on the client
 *   refuse()     destroy new connections as they arrive, like a server that is down
 *   setDelay(ms) forward every chunk after `ms` (order kept)
 *   resume()     back to normal (stalled bytes flow again; refusing stops)
 *   setTarget(p) point new connections at another port
 *
 * Usage: `const proxy = await startTcpProxy({ targetPort }); client → proxy.url`.
 */
import { createServer, connect, type Server, type Socket } from 'node:net'

export interface TcpProxy {
  /** The port the proxy listens on. */
  port: number
  /** `http://127.0.0.1:<port>` */
  url: string
  /** Open client connections. */
  readonly connections: number
  /** Connections accepted so far. */
  readonly accepted: number
  setTarget(port: number, host?: string): void
  dropAll(): void
  blackhole(): void
  refuse(): void
  setDelay(ms: number): void
  resume(): void
  close(): Promise<void>
}

interface Pair {
  client: Socket
  upstream: Socket | undefined
}

export async function startTcpProxy(options: { targetPort: number; targetHost?: string; port?: number }): Promise<TcpProxy> {
  let targetPort = options.targetPort
  let targetHost = options.targetHost ?? '127.0.0.1'
  let mode: 'normal' | 'blackhole' | 'refuse' = 'normal'
  let delayMs = 0
  let accepted = 0
  const pairs = new Set<Pair>()
  const waiting = new Set<() => void>()

  const pipe = (from: Socket, to: () => Socket | undefined) => {
    let chain = Promise.resolve()
    from.on('data', (chunk) => {
      if (delayMs <= 0) {
        to()?.write(chunk)
        return
      }
      const ms = delayMs
      chain = chain.then(() => new Promise<void>((r) => setTimeout(() => {
        to()?.write(chunk)
        r()
      }, ms)))
    })
  }

  const server: Server = createServer((client) => {
    accepted++
    if (mode === 'refuse') {
      client.destroy()
      return
    }
    const pair: Pair = { client, upstream: undefined }
    pairs.add(pair)
    client.on('error', () => undefined)
    const cleanup = () => {
      pairs.delete(pair)
      client.destroy()
      pair.upstream?.destroy()
    }
    client.on('close', cleanup)
    const open = () => {
      if (client.destroyed) return
      const upstream = connect(targetPort, targetHost)
      pair.upstream = upstream
      upstream.on('error', () => undefined)
      upstream.on('close', cleanup)
      pipe(upstream, () => client)
      if (mode === 'blackhole') {
        upstream.pause()
      }
    }
    pipe(client, () => pair.upstream)
    if (mode === 'blackhole') {
      client.pause()
      waiting.add(open)
    } else {
      open()
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  if (!address || typeof address !== 'object') throw new Error('proxy has no address')

  return {
    port: address.port,
    url: `http://127.0.0.1:${address.port}`,
    get connections() {
      return pairs.size
    },
    get accepted() {
      return accepted
    },
    setTarget(port, host) {
      targetPort = port
      if (host) targetHost = host
    },
    dropAll() {
      for (const pair of [...pairs]) {
        pair.client.destroy()
        pair.upstream?.destroy()
      }
      pairs.clear()
    },
    blackhole() {
      mode = 'blackhole'
      for (const pair of pairs) {
        pair.client.pause()
        pair.upstream?.pause()
      }
    },
    refuse() {
      mode = 'refuse'
    },
    setDelay(ms) {
      delayMs = ms
    },
    resume() {
      mode = 'normal'
      delayMs = 0
      for (const open of [...waiting]) open()
      waiting.clear()
      for (const pair of pairs) {
        pair.client.resume()
        pair.upstream?.resume()
      }
    },
    close() {
      for (const pair of [...pairs]) {
        pair.client.destroy()
        pair.upstream?.destroy()
      }
      pairs.clear()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
