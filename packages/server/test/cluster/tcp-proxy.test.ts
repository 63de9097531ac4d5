/**
 * The cluster tests' round-robin proxy (test/support/tcp-proxy.ts) against plain TCP servers
 * that greet each connection with their name and echo what they receive.
 */
import { connect, createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, test } from 'vitest'
import { freePort } from '../../src/db/free-port.js'
import { startRoundRobinProxy, type RoundRobinProxy } from '../support/tcp-proxy.js'

interface Backend {
  name: string
  port: number
  server: Server
  sockets: Set<Socket>
  stop(): Promise<void>
}

async function backend(name: string): Promise<Backend> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    socket.write(`${name}\n`)
    socket.pipe(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const port = (server.address() as { port: number }).port
  return {
    name,
    port,
    server,
    sockets,
    stop: () => {
      for (const socket of sockets) socket.destroy()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

interface Client {
  socket: Socket
  /** Everything received so far. */
  text: () => string
  closed: Promise<void>
}

/** Connects through the proxy and waits for the backend's greeting. */
async function client(proxy: RoundRobinProxy): Promise<Client & { greeting: string }> {
  const socket = connect(proxy.port, '127.0.0.1')
  let received = ''
  socket.on('data', (chunk) => (received += chunk.toString()))
  socket.on('error', () => undefined)
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  const deadline = Date.now() + 5_000
  while (!received.includes('\n')) {
    if (socket.destroyed) throw new Error('closed before the greeting')
    if (Date.now() > deadline) throw new Error('no greeting')
    await new Promise((r) => setTimeout(r, 5))
  }
  return { socket, text: () => received, closed, greeting: received.split('\n')[0]! }
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function setup(names: string[]) {
  const backends = await Promise.all(names.map(backend))
  cleanups.push(async () => void (await Promise.all(backends.map((b) => b.stop()))))
  const proxy = await startRoundRobinProxy({ backends: backends.map((b) => b.port) })
  cleanups.push(() => proxy.close())
  return { backends, proxy }
}

describe('round-robin TCP proxy', () => {
  test('new connections go to the backends in turn, bytes flow both ways', async () => {
    const { proxy, backends } = await setup(['a', 'b', 'c'])
    const clients = []
    for (let i = 0; i < 6; i++) clients.push(await client(proxy))
    expect(clients.map((c) => c.greeting)).toEqual(['a', 'b', 'c', 'a', 'b', 'c'])
    expect(proxy.connections).toBe(6)
    expect(backends.map((b) => proxy.connectionsTo(b.port))).toEqual([2, 2, 2])
    clients[4]!.socket.write('ping\n')
    const deadline = Date.now() + 5_000
    while (!clients[4]!.text().includes('ping') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    expect(clients[4]!.text()).toBe('b\nping\n')
  })

  test('a backend that refuses connections is skipped, its turn going to the next live one', async () => {
    const { proxy, backends } = await setup(['a', 'b', 'c'])
    await backends[1]!.stop()
    const greetings = []
    for (let i = 0; i < 4; i++) greetings.push((await client(proxy)).greeting)
    expect(greetings).toEqual(['a', 'c', 'a', 'c'])
  })

  test('with no live backend a client is closed at once', async () => {
    const dead = await freePort()
    const proxy = await startRoundRobinProxy({ backends: [dead] })
    cleanups.push(() => proxy.close())
    const socket = connect(proxy.port, '127.0.0.1')
    socket.on('error', () => undefined)
    await new Promise((resolve) => socket.once('close', resolve))
    expect(proxy.accepted).toBe(1)
    expect(proxy.connections).toBe(0)
  })

  test('dropAll destroys every proxied connection on both sides; new ones still work', async () => {
    const { proxy, backends } = await setup(['a', 'b'])
    const clients = [await client(proxy), await client(proxy), await client(proxy)]
    proxy.dropAll()
    await Promise.all(clients.map((c) => c.closed))
    const deadline = Date.now() + 5_000
    while (backends.some((b) => b.sockets.size > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    expect(backends.map((b) => b.sockets.size)).toEqual([0, 0])
    expect(proxy.connections).toBe(0)
    expect((await client(proxy)).greeting).toMatch(/^[ab]$/)
  })

  test('setBackends points new connections elsewhere and leaves open ones where they are', async () => {
    const { proxy, backends } = await setup(['a', 'b'])
    const first = await client(proxy)
    expect(first.greeting).toBe('a')
    proxy.setBackends([backends[1]!.port])
    expect([(await client(proxy)).greeting, (await client(proxy)).greeting]).toEqual(['b', 'b'])
    expect(first.socket.destroyed).toBe(false)
    expect(proxy.connectionsTo(backends[0]!.port)).toBe(1)
  })
})
