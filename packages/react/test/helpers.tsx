/**
 * Fixtures: a real Switchboard on a per-file database behind a TCP proxy, managers whose
 * transport records every frame (sent and received), and a StrictMode wrapper.
 */
import { StrictMode, type ReactNode } from 'react'
import WebSocket from 'ws'
import postgres from 'postgres'
import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { startSwitchboard } from '@switchboard/server'
import { ChannelManager, type RealtimeConfig } from '@switchboard/client'
import { RealtimeProvider } from '@switchboard/react'
import { createTestDatabase, type TestDatabase } from '../../../test-support/database.js'
import { startTcpProxy, type TcpProxy } from '../../../test-support/tcp-proxy.js'

export type Frame = [string | null, string | null, string, string, Record<string, unknown>]

export interface Harness {
  db: TestDatabase
  sql: postgres.Sql
  proxy: TcpProxy
  /** Frames sent by every manager of this harness (vsn 2.0.0 arrays). */
  sent: Frame[]
  /** Frames received by every manager of this harness. */
  received: Frame[]
  manager(config?: Partial<RealtimeConfig>): ChannelManager
  /** `phx_join` frames sent for a channel name. */
  joins(name: string): Frame[]
  /** Replaces the server by a new one on the same database (a new replay epoch: resume is impossible). */
  /** Restarts the server; `forgetHistory` drops its replication slot meanwhile, so nothing before the restart can be replayed. */
  restartServer(options?: { forgetHistory?: boolean }): Promise<void>
  /**
   * Resolves once the server confirmed a channel's postgres_changes bindings in a frame received
   * at index `since` or later (take `since = h.received.length` before rendering).
   */
  cdcReady(name: string, since?: number): Promise<void>
  dispose(): Promise<void>
}

function parse(data: unknown): Frame | undefined {
  if (typeof data !== 'string') return undefined
  try {
    const msg = JSON.parse(data) as unknown
    return Array.isArray(msg) ? (msg as Frame) : undefined
  } catch {
    return undefined
  }
}

function recordingTransport(sent: Frame[], received: Frame[]): typeof WebSocket {
  return class RecordingWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args)
      this.addEventListener('message', (event) => {
        const frame = parse(event.data)
        if (frame) received.push(frame)
      })
    }

    override send(data: unknown, ...rest: unknown[]): void {
      const frame = parse(data)
      if (frame) sent.push(frame)
      ;(super.send as (...args: unknown[]) => void)(data, ...rest)
    }
  } as unknown as typeof WebSocket
}

export async function createHarness(): Promise<Harness> {
  const db = await createTestDatabase('react')
  const jwtSecret = 'switchboard-react-test-secret-at-least-32-chars'
  let server = await startSwitchboard({ port: 0, host: '127.0.0.1', databaseUrl: db.url, jwtSecret })
  const anonKey = server.anonKey
  const proxy = await startTcpProxy({ targetPort: server.port })
  const sql = postgres(db.url, { max: 2, onnotice: () => {} })
  const managers: ChannelManager[] = []
  const sent: Frame[] = []
  const received: Frame[] = []
  const h: Harness = {
    db,
    sql,
    proxy,
    sent,
    received,
    manager(config = {}) {
      const m = new ChannelManager({
        url: proxy.url,
        apiKey: anonKey,
        transport: recordingTransport(sent, received),
       
        reconnect: { baseDelayMs: 100, maxDelayMs: 500, maxAttempts: 50 },
        connectTimeoutMs: 2000,
        idleDisconnectMs: 200,
        ...config,
      })
      managers.push(m)
      return m
    },
    async restartServer({ forgetHistory = false } = {}) {
      await server.close()
      if (forgetHistory) await sql`select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = current_database()`
      server = await startSwitchboard({ port: 0, host: '127.0.0.1', databaseUrl: db.url, jwtSecret })
      proxy.setTarget(server.port)
    },
    joins: (name) => sent.filter((f) => f[2] === `realtime:${name}` && f[3] === 'phx_join'),
    async cdcReady(name, since = 0) {
      await until(
        () => received.slice(since).some((f) => f[2] === `realtime:${name}` && f[3] === 'system' && f[4].message === 'Subscribed to PostgreSQL'),
        10_000,
        `postgres_changes on ${name}`,
      )
    },
    async dispose() {
      await Promise.all(managers.map((m) => m.destroy()))
      await sql.end()
      await proxy.close()
      await server.close()
      await db.drop()
    },
  }
  return h
}

/** Polls `predicate` (outside React) until true. */
export async function until(predicate: () => boolean, timeoutMs = 10_000, label = 'condition'): Promise<void> {
  const start = Date.now()
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${label}`)
    await sleep(20)
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** `<StrictMode><RealtimeProvider manager><QueryClientProvider>` */
export function wrapper(manager: ChannelManager, queryClient?: QueryClient) {
  return function Wrapper({ children }: { children?: ReactNode }) {
    const inner = queryClient ? <QueryClientProvider client={queryClient}>{children}</QueryClientProvider> : children
    return (
      <StrictMode>
        <RealtimeProvider manager={manager}>{inner}</RealtimeProvider>
      </StrictMode>
    )
  }
}

/** A QueryClient for tests: no retries, nothing garbage-collected mid-test. */
export function testQueryClient(): QueryClient {
  return new QueryClient({ defaultOptions: { queries: { retry: false, gcTime: Infinity, staleTime: Infinity } } })
}
