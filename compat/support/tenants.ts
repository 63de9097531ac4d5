/**
 * A multi-tenant Switchboard for the conformance suite: a control database and one database
 * per tenant on the run's embedded Postgres, tenants created through the admin API, and the
 * official supabase-js pointed at one tenant by Host (`<id>.localhost`), `x-tenant-id` or the
 * `tenant` query parameter. (On Node 20 the client takes `ws` as its transport; a subclass adds
 * the headers a browser would derive from the URL.)
 */
import { randomBytes } from 'node:crypto'
import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import postgres from 'postgres'
import WebSocket from 'ws'
import { signToken, startSwitchboard, type RunningSwitchboard, type SwitchboardOptions } from '@switchboard/server'
import { createTestDatabase, type TestDatabase } from '../../test-support/database.js'

export const ADMIN_KEY = 'compat-admin-key-0123456789abcdef'
export const DEFAULT_SECRET = 'default-tenant-secret-at-least-32-chars!'

/** How a client names its tenant. */
export type Via = 'host' | 'header' | 'query'

export interface TestTenant {
  id: string
  secret: string
  database: TestDatabase
  /** SQL on the tenant's database. */
  sql: postgres.Sql
  token(claims?: Record<string, unknown>, ttlSeconds?: number): Promise<string>
  anonKey: string
  serviceRoleKey: string
}

export interface TenantsHarness {
  server: RunningSwitchboard
  control: TestDatabase
  secretsKey: string
  /** The admin API: resolves with the status and the parsed body. */
  admin(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; body: unknown }>
  /** Creates a tenant on a fresh database through the admin API. */
  addTenant(id: string, options?: { limits?: Record<string, number>; privateOnly?: boolean; secret?: string }): Promise<TestTenant>
  /** An official client of tenant `id`. */
  client(id: string, options: { key: string; via?: Via; vsn?: '1.0.0' | '2.0.0' }): SupabaseClient
  /** Headers that name tenant `id` for a raw socket or fetch. */
  headers(id: string, via?: Exclude<Via, 'query'>): Record<string, string>
  /** Stops the server, keeping the databases (for a restart). */
  stopServer(): Promise<void>
  /** Starts a server again on the same control database. */
  restartServer(): Promise<RunningSwitchboard>
  close(): Promise<void>
}

/** A ws transport that sends `headers` with the upgrade request. */
export function transportWith(headers: Record<string, string>): typeof WebSocket {
  return class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { headers })
    }
  } as typeof WebSocket
}

export async function startTenantsHarness(options: SwitchboardOptions = {}): Promise<TenantsHarness> {
  const control = await createTestDatabase('control')
  const defaultDatabase = await createTestDatabase('default')
  const secretsKey = randomBytes(32).toString('base64')
  const tenants: TestTenant[] = []
  const clients: SupabaseClient[] = []
  const serverOptions: SwitchboardOptions = {
    port: 0,
    databaseUrl: defaultDatabase.url,
    jwtSecret: DEFAULT_SECRET,
    adminKey: ADMIN_KEY,
    controlDatabaseUrl: control.url,
    secretsKey,
    ...options,
  }
  let server = await startSwitchboard(serverOptions)
  let running = true

  const harness: TenantsHarness = {
    get server() {
      return server
    },
    control,
    secretsKey,
    async admin(method, path, body, key = ADMIN_KEY) {
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
      const text = await response.text()
      return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null }
    },
    async addTenant(id, tenantOptions = {}) {
      const database = await createTestDatabase(`t_${id.replace(/-/g, '_')}`)
      const secret = tenantOptions.secret ?? `secret-of-${id}-${randomBytes(12).toString('hex')}`
      const created = await harness.admin('POST', '/api/tenants', {
        external_id: id,
        name: `Tenant ${id}`,
        database_url: database.url,
        jwt_secret: secret,
        ...(tenantOptions.limits ? { limits: tenantOptions.limits } : {}),
        ...(tenantOptions.privateOnly ? { private_only: true } : {}),
      })
      if (created.status !== 201) throw new Error(`creating tenant ${id}: ${created.status} ${JSON.stringify(created.body)}`)
      const tenant: TestTenant = {
        id,
        secret,
        database,
        sql: postgres(database.url, { max: 2, onnotice: () => {} }),
        token: (claims = { role: 'authenticated', sub: 'user-1' }, ttlSeconds = 3600) => signToken(secret, claims, ttlSeconds),
        anonKey: await signToken(secret, { role: 'anon' }),
        serviceRoleKey: await signToken(secret, { role: 'service_role' }),
      }
      tenants.push(tenant)
      return tenant
    },
    client(id, { key, via = 'host', vsn }) {
      const headers = via === 'query' ? {} : harness.headers(id, via)
      const client = createClient(server.url, key, {
        realtime: {
          transport: transportWith(headers) as never,
          ...(via === 'query' ? { params: { tenant: id } } : {}),
          ...(vsn ? { vsn } : {}),
          heartbeatIntervalMs: 25_000,
        },
        auth: { persistSession: false, autoRefreshToken: false },
      })
      clients.push(client)
      return client
    },
    headers(id, via = 'host'): Record<string, string> {
      return via === 'host' ? { host: `${id}.localhost:${server.port}` } : { 'x-tenant-id': id }
    },
    async stopServer() {
      for (const client of clients.splice(0)) await client.realtime.disconnect().catch(() => {})
      if (running) await server.close()
      running = false
    },
    async restartServer() {
      await harness.stopServer()
      server = await startSwitchboard(serverOptions)
      running = true
      return server
    },
    async close() {
      await harness.stopServer()
      for (const tenant of tenants) {
        await tenant.sql.end().catch(() => {})
        await tenant.database.drop()
      }
      await defaultDatabase.drop()
      await control.drop()
    },
  }
  return harness
}

/** The HTTP answer to a WebSocket upgrade that is refused (status and JSON body), or 101. */
export async function upgradeAnswer(serverUrl: string, apikey: string, headers: Record<string, string>, query = ''): Promise<{ status: number; body: unknown }> {
  const url = `${serverUrl.replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=${encodeURIComponent(apikey)}&vsn=2.0.0${query}`
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.once('open', () => {
      ws.terminate()
      resolve({ status: 101, body: null })
    })
    ws.once('unexpected-response', (_request, response) => {
      let text = ''
      response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text ? (JSON.parse(text) as unknown) : null }))
    })
    ws.once('error', (error) => reject(error))
  })
}
