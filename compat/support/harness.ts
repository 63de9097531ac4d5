/**
 * Conformance harness: a real Switchboard on port 0 against a fresh database on the run's
 * embedded Postgres, and official `@supabase/supabase-js` clients pointed at it (on Node 20
 * the client needs `ws` as its WebSocket transport).
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import type { RealtimeChannel } from '@supabase/supabase-js'
import postgres from 'postgres'
import WebSocket from 'ws'
import { startSwitchboard, signToken, type RunningSwitchboard, type SwitchboardOptions } from '@switchboard/server'
import { createTestDatabase, type TestDatabase } from '../../test-support/database.js'

export interface Harness {
  server: RunningSwitchboard
  database: TestDatabase
  /** SQL on the test database (tables, publications, writes); opened on first use, ended by `close()`. */
  sql: postgres.Sql
  /** An official client; `vsn` picks the wire format (realtime-js defaults to 2.0.0). */
  client(options?: { key?: string; vsn?: '1.0.0' | '2.0.0'; accessToken?: () => Promise<string | null> }): SupabaseClient
  /** A JWT for `claims` signed with the server's secret (default: authenticated, 1 h). */
  token(claims?: Record<string, unknown>, ttlSeconds?: number): Promise<string>
  close(): Promise<void>
}

export async function startHarness(options: SwitchboardOptions = {}): Promise<Harness> {
  const database = await createTestDatabase('compat')
  const server = await startSwitchboard({ port: 0, databaseUrl: database.url, jwtSecret: 'compat-secret-at-least-32-characters-long!', ...options })
  const clients: SupabaseClient[] = []
  const sql = postgres(database.url, { max: 2, onnotice: () => {} })
  return {
    server,
    database,
    sql,
    client({ key = server.anonKey, vsn, accessToken } = {}) {
      const client = createClient(server.url, key, {
        realtime: { transport: WebSocket as never, ...(vsn ? { vsn } : {}), heartbeatIntervalMs: 25_000 },
        auth: { persistSession: false, autoRefreshToken: false },
        ...(accessToken ? { accessToken } : {}),
      })
      clients.push(client)
      return client
    },
    token(claims = { role: 'authenticated', sub: 'user-1' }, ttlSeconds = 3600) {
      return signToken(server.jwtSecret, claims, ttlSeconds)
    },
    async close() {
      for (const client of clients) await client.realtime.disconnect().catch(() => {})
      await sql.end()
      await server.close()
      await database.drop()
    },
  }
}

/** Subscribes and resolves with the final status (`SUBSCRIBED`, `CHANNEL_ERROR`, …) and error. */
export function subscribe(channel: RealtimeChannel, timeoutMs = 10_000): Promise<{ status: string; error?: Error }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`subscribe of ${channel.topic} timed out`)), timeoutMs)
    channel.subscribe((status, error) => {
      if (status === 'SUBSCRIBED' || status === 'CHANNEL_ERROR' || status === 'TIMED_OUT' || status === 'CLOSED') {
        clearTimeout(timer)
        resolve(error ? { status, error } : { status })
      }
    })
  })
}

/** Resolves when `predicate` holds, polling every 10 ms. */
export async function waitFor(predicate: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
