/**
 * Test fixtures: a real Switchboard server on a per-file database, a TCP proxy in front of it,
 * a recording WebSocket transport, and token minting.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { SignJWT } from 'jose'
import type postgres from 'postgres'
import WebSocket from 'ws'
import { startSwitchboard } from '@switchboard/server'
import { ChannelManager, type RealtimeConfig } from '@switchboard/client'
import { createTestDatabase, type TestDatabase } from '../../../test-support/database.js'
import { startTcpProxy, type TcpProxy } from '../../../test-support/tcp-proxy.js'

export type Server = Awaited<ReturnType<typeof startSwitchboard>>

export interface Harness {
  db: TestDatabase
  server: Server
  proxy: TcpProxy
  /** Restarts the server on the same port and database (`close()` then `startSwitchboard`). */
  restart(options?: { downMs?: number }): Promise<void>
  stop(): Promise<void>
  start(): Promise<void>
  manager(config?: Partial<RealtimeConfig>): ChannelManager
  token(claims?: { sub?: string; expiresInSec?: number; role?: string }): Promise<string>
  sent: string[]
  dispose(): Promise<void>
}

/** A `ws` WebSocket that records every frame the client sends (to check join payloads). */
export function recordingTransport(sent: string[]): typeof WebSocket {
  return class RecordingWebSocket extends WebSocket {
    override send(data: unknown, ...rest: unknown[]): void {
      if (typeof data === 'string') sent.push(data)
      ;(super.send as (...args: unknown[]) => void)(data, ...rest)
    }
  } as unknown as typeof WebSocket
}

export type ServerOptions = Omit<NonNullable<Parameters<typeof startSwitchboard>[0]>, 'port' | 'host' | 'databaseUrl' | 'jwtSecret'>

export async function createHarness(serverOptions: ServerOptions = {}): Promise<Harness> {
  const db = await createTestDatabase('client')
  const jwtSecret = 'switchboard-client-test-secret-at-least-32-chars'
  let server: Server | undefined = await startSwitchboard({ ...serverOptions, port: 0, host: '127.0.0.1', databaseUrl: db.url, jwtSecret })
  const port = server.port
  const proxy = await startTcpProxy({ targetPort: port })
  const managers: ChannelManager[] = []
  const sent: string[] = []
  const first = server
  const h: Harness = {
    db,
    get server() {
      return server ?? first
    },
    proxy,
    sent,
    async stop() {
      await server?.close()
      server = undefined
    },
    async start() {
      server = await startSwitchboard({ ...serverOptions, port, host: '127.0.0.1', databaseUrl: db.url, jwtSecret })
    },
    async restart(options = {}) {
      await h.stop()
      if (options.downMs) await new Promise((r) => setTimeout(r, options.downMs))
      await h.start()
    },
    manager(config = {}) {
      const m = new ChannelManager({
        url: proxy.url,
        apiKey: first.anonKey,
        transport: recordingTransport(sent),
        reconnect: { baseDelayMs: 100, maxDelayMs: 1000, maxAttempts: 5 },
        connectTimeoutMs: 2000,
        idleDisconnectMs: 200,
        ...config,
      })
      managers.push(m)
      return m
    },
    async token({ sub = 'user-1', expiresInSec = 3600, role = 'authenticated' } = {}) {
      return new SignJWT({ role, sub })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSec)
        .sign(new TextEncoder().encode(jwtSecret))
    },
    async dispose() {
      await Promise.all(managers.map((m) => m.destroy()))
      await proxy.close()
      await server?.close()
      await db.drop()
    },
  }
  return h
}

/** A `ws` WebSocket that delivers every incoming frame matching `dup` twice (duplicate delivery). */
export function duplicatingTransport(dup: (data: unknown) => boolean): typeof WebSocket {
  return class DuplicatingWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args)
      // `ws` defines `onmessage` as an accessor on its prototype; wrap the handler it receives.
      const base = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage')!
      type Handler = ((event: WebSocket.MessageEvent) => void) | null
      Object.defineProperty(this, 'onmessage', {
        get: () => base.get!.call(this) as Handler,
        set: (handler: Handler) => {
          base.set!.call(this, handler && ((event: WebSocket.MessageEvent) => {
            handler(event)
            if (dup(event.data)) handler(event)
          }))
        },
      })
    }
  } as unknown as typeof WebSocket
}

/** Polls `predicate` until it is true (or throws after `timeoutMs`). */
export async function waitFor(predicate: () => boolean, timeoutMs = 10_000, label = 'condition'): Promise<void> {
  const start = Date.now()
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${label}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** `create table <name> (<columns>)` with full old rows, in the server's publication. */
export async function publishTable(sql: postgres.Sql, name: string, columns: string): Promise<void> {
  await sql.unsafe(`create table ${name} (${columns})`)
  await sql.unsafe(`alter table ${name} replica identity full`)
  await sql.unsafe(`alter publication supabase_realtime add table ${name}`)
}

/** Parsed `phx_join` frames (vsn 2.0.0 arrays) sent for `topic`. */
export function joinFrames(sent: string[], topic: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  for (const frame of sent) {
    try {
      const msg = JSON.parse(frame) as unknown
      if (Array.isArray(msg) && msg[2] === topic && msg[3] === 'phx_join') out.push(msg[4] as Record<string, unknown>)
    } catch {
      // binary or non-JSON frames are not joins
    }
  }
  return out
}

/**
 * A `ws` WebSocket whose open sockets the test can leave half-dead, like a laptop back from
 * sleep or Chromium's offline emulation: after `freeze()` nothing sent or received gets through
 * and `close()` never completes (no close event), while new sockets work normally.
 */
export function freezableTransport(): { transport: typeof WebSocket; freeze(): void } {
  const sockets = new Set<{ frozen: boolean }>()
  class FreezableWebSocket extends WebSocket {
    frozen = false
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args)
      sockets.add(this)
      const base = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage')!
      type Handler = ((event: WebSocket.MessageEvent) => void) | null
      Object.defineProperty(this, 'onmessage', {
        get: () => base.get!.call(this) as Handler,
        set: (handler: Handler) => base.set!.call(this, handler && ((event: WebSocket.MessageEvent) => this.frozen || handler(event))),
      })
    }
    override send(data: unknown, ...rest: unknown[]): void {
      if (!this.frozen) (super.send as (...args: unknown[]) => void)(data, ...rest)
    }
    override close(code?: number, reason?: string): void {
      if (!this.frozen) super.close(code, reason)
    }
  }
  return {
    transport: FreezableWebSocket as unknown as typeof WebSocket,
    freeze: () => {
      for (const socket of sockets) socket.frozen = true
      sockets.clear()
    },
  }
}

/** Parsed frames of `event` (vsn 2.0.0 arrays) sent for `topic`. */
export function sentFrames(sent: string[], topic: string, event: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  for (const frame of sent) {
    try {
      const msg = JSON.parse(frame) as unknown
      if (Array.isArray(msg) && msg[2] === topic && msg[3] === event) out.push(msg[4] as Record<string, unknown>)
    } catch {
      // binary or non-JSON frames
    }
  }
  return out
}

/**
 * A `ws` WebSocket whose new sockets hang in CONNECTING while `hang` is on (they go to a TCP
 * server that accepts and never answers the upgrade), like an attempt started on a network that
 * just went away.
 */
export async function hangingTransport(): Promise<{ transport: typeof WebSocket; hang: boolean; close(): Promise<void> }> {
  const held = new Set<Socket>()
  const sink = createServer((socket) => void held.add(socket.on('error', () => undefined)))
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve))
  const { port } = sink.address() as AddressInfo
  const control = {
    hang: false,
    transport: undefined as unknown as typeof WebSocket,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of held) socket.destroy()
        sink.close(() => resolve())
      }),
  }
  control.transport = class HangingWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(control.hang ? `ws://127.0.0.1:${port}/` : address, protocols)
    }
  } as unknown as typeof WebSocket
  return control
}
