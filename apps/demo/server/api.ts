/**
 * The demo's HTTP API, registered on Switchboard's Fastify app through `extend`.
 *
 *   GET  /demo/config            anon key + seeded users (sign-in page)          dev only
 *   POST /demo/token {userId}    a JWT for a seeded user                          dev only
 *   GET  /api/...                initial data, queried AS THE USER (RLS applies)
 *   POST /api/...                actions, also as the user (INSERT/UPDATE policies apply)
 *
 * Every /api request carries `Authorization: Bearer <jwt>`; the route runs its SQL in a
 * transaction with `set local role authenticated` and `request.jwt.claims`, exactly what
 * PostgREST does, so what a user can read or change is decided by the policies in schema.ts.
 * Live updates never come from here: they reach the browser through Switchboard.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Sql, TransactionSql } from 'postgres'
import { signToken } from '@switchboard/server'
import { TENANTS, USERS, userById } from './ids.js'

export interface ApiOptions {
  sql: Sql
  jwtSecret: string
  anonKey: string
  verify: (token: string) => Promise<Record<string, unknown>>
  /** Serve the dev-only sign-in endpoints (`/demo/config`, `/demo/token`). */
  devAuth: boolean
  /** Token lifetime in seconds (default one hour). */
  tokenTtlSeconds?: number
  /** Called after the simulator switch changes (reloads settings at once). */
  onSimulatorChange?: () => Promise<void>
}

type Claims = Record<string, unknown> & { sub: string; tenant_id: string; app_role: string }

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function uuid(value: unknown, what: string): string {
  if (typeof value !== 'string' || !UUID.test(value)) throw new HttpError(400, `${what} must be a uuid`)
  return value
}

function text(value: unknown, what: string, max = 2000): string {
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > max) throw new HttpError(400, `${what} must be a non-empty string`)
  return value.trim()
}

function body(request: FastifyRequest): Record<string, unknown> {
  const b = request.body
  return typeof b === 'object' && b !== null && !Array.isArray(b) ? (b as Record<string, unknown>) : {}
}

function param(request: FastifyRequest, name: string): string {
  return uuid((request.params as Record<string, unknown>)[name], name)
}

function query(request: FastifyRequest, name: string): string | undefined {
  const value = (request.query as Record<string, unknown>)[name]
  return typeof value === 'string' && value.length > 0 ? value : undefined
}

/** Sign-in list shown on the login page. */
export function signInUsers() {
  const tenantName = (id: string) => Object.values(TENANTS).find((t) => t.id === id)?.name ?? id
  return USERS.map((u) => ({ id: u.id, name: u.name, email: u.email, role: u.role, title: u.title, color: u.color, tenantId: u.tenantId, tenantName: tenantName(u.tenantId) }))
}

export function registerApi(app: FastifyInstance, options: ApiOptions): void {
  const { sql } = options
  const ttl = options.tokenTtlSeconds ?? 3600

  async function claimsOf(request: FastifyRequest): Promise<Claims> {
    const header = request.headers.authorization ?? ''
    const token = header.startsWith('Bearer ') ? header.slice(7) : ''
    if (!token) throw new HttpError(401, 'missing bearer token')
    let claims: Record<string, unknown>
    try {
      claims = await options.verify(token)
    } catch {
      throw new HttpError(401, 'invalid or expired token')
    }
    if (claims.role !== 'authenticated' || typeof claims.sub !== 'string' || typeof claims.tenant_id !== 'string') throw new HttpError(403, 'not a demo user token')
    return claims as Claims
  }

  /** Runs `work` as the request's user: role `authenticated` with its claims, like PostgREST. */
  async function asUser<T>(claims: Claims, work: (tx: TransactionSql) => Promise<T>): Promise<T> {
    const result = await sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`
      return [await work(tx)]
    })
    return (result as unknown as [T])[0]
  }

  function route(method: 'GET' | 'POST', url: string, handler: (request: FastifyRequest, claims: Claims) => Promise<unknown>): void {
    app.route({
      method,
      url,
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        try {
          const claims = await claimsOf(request)
          const result = await handler(request, claims)
          return reply.header('cache-control', 'no-store').send(result ?? { ok: true })
        } catch (error) {
          if (error instanceof HttpError) return reply.code(error.status).send({ error: error.message })
          const code = (error as { code?: string }).code
          // RLS WITH CHECK / missing grant: the database said no.
          if (code === '42501') return reply.code(403).send({ error: 'not allowed by row-level security' })
          if (code === '23503' || code === '23514' || code === '22P02') return reply.code(400).send({ error: (error as Error).message })
          request.log.error(error)
          return reply.code(500).send({ error: 'internal error' })
        }
      },
    })
  }

  if (options.devAuth) {
    app.get('/demo/config', async () => ({ anonKey: options.anonKey, users: signInUsers(), devAuth: true }))
    app.post('/demo/token', async (request, reply) => {
      const user = userById(String(body(request).userId ?? ''))
      if (!user) return reply.code(404).send({ error: 'unknown demo user' })
      const token = await signToken(options.jwtSecret, {
        role: 'authenticated',
        aud: 'authenticated',
        sub: user.id,
        email: user.email,
        tenant_id: user.tenantId,
        app_role: user.role,
        user_name: user.name,
      }, ttl)
      return { token, expiresIn: ttl, user: signInUsers().find((u) => u.id === user.id) }
    })
  }

  // ---- reads (RLS decides what comes back) ----

  route('GET', '/api/me', async (_request, claims) =>
    asUser(claims, async (tx) => {
      const [me] = await tx`select u.id, u.name, u.email, u.role, u.title, u.color, u.tenant_id as "tenantId", t.name as "tenantName"
                            from app_users u join tenants t on t.id = u.tenant_id where u.id = ${claims.sub}`
      if (!me) throw new HttpError(404, 'user not found')
      return me
    }),
  )

  route('GET', '/api/users', async (_request, claims) =>
    asUser(claims, (tx) => tx`select id, name, email, role, title, color from app_users order by name`),
  )

  route('GET', '/api/phones', async (_request, claims) =>
    asUser(claims, (tx) => tx`select id, tenant_id, number, label from phone_numbers order by label`),
  )

  route('GET', '/api/calls', async (_request, claims) =>
    asUser(claims, (tx) => tx`
      (select * from calls where status in ('ringing', 'in_progress'))
      union all
      (select * from calls where status not in ('ringing', 'in_progress') order by started_at desc limit 60)
      order by started_at desc`),
  )

  route('GET', '/api/calls/per-minute', async (_request, claims) =>
    asUser(claims, (tx) => tx`
      select extract(epoch from date_trunc('minute', started_at))::float8 * 1000 as minute, count(*)::int as count
      from calls where started_at > now() - interval '30 minutes' group by 1 order by 1`),
  )

  route('GET', '/api/activity', async (request, claims) => {
    const limit = Math.min(10_000, Math.max(1, Number(query(request, 'limit') ?? 5000)))
    return asUser(claims, (tx) => tx`select id, tenant_id, phone_number_id, kind, message, created_at from activity order by created_at desc, id desc limit ${limit}`)
  })

  route('GET', '/api/conversations', async (_request, claims) =>
    asUser(claims, (tx) => tx`select * from conversations order by last_message_at desc`),
  )

  route('GET', '/api/conversations/:id/messages', async (request, claims) => {
    const id = param(request, 'id')
    const before = query(request, 'before')
    const limit = Math.min(100, Math.max(1, Number(query(request, 'limit') ?? 25)))
    return asUser(claims, (tx) => before
      ? tx`select * from messages where conversation_id = ${id} and created_at < ${before}::timestamptz order by created_at desc, id desc limit ${limit}`
      : tx`select * from messages where conversation_id = ${id} order by created_at desc, id desc limit ${limit}`)
  })

  route('GET', '/api/conversations/:id/assignments', async (request, claims) => {
    const id = param(request, 'id')
    return asUser(claims, (tx) => tx`select * from assignments where conversation_id = ${id} order by created_at desc limit 20`)
  })

  route('GET', '/api/campaigns', async (_request, claims) =>
    asUser(claims, (tx) => tx`select id, tenant_id, name, channel, reserve::float8 as reserve, ends_at from campaigns order by name`),
  )

  route('GET', '/api/bids', async (_request, claims) =>
    asUser(claims, (tx) => tx`select id, tenant_id, campaign_id, bidder, amount::float8 as amount, user_id, created_at from bids order by created_at desc limit 500`),
  )

  route('GET', '/api/maintenance/tree', async (_request, claims) =>
    asUser(claims, async (tx) => ({
      locations: await tx`select * from locations order by name`,
      clients: await tx`select * from clients order by name`,
      projects: await tx`select * from projects order by name`,
      assets: await tx`select * from assets order by name`,
    })),
  )

  route('GET', '/api/reports', async (_request, claims) =>
    asUser(claims, (tx) => tx`select * from maintenance_reports order by reported_at desc`),
  )

  route('GET', '/api/reports/:id/attachments', async (request, claims) => {
    const id = param(request, 'id')
    return asUser(claims, (tx) => tx`select * from attachments where report_id = ${id} order by created_at desc`)
  })

  route('GET', '/api/stats', async (_request, claims) =>
    asUser(claims, async (tx) => {
      const [calls] = await tx`
        select count(*) filter (where started_at >= date_trunc('day', now()))::int as "callsToday",
               count(*) filter (where started_at >= date_trunc('day', now()) and status = 'missed')::int as "missedToday",
               count(*) filter (where status in ('ringing', 'in_progress'))::int as "activeCalls",
               coalesce(avg(extract(epoch from answered_at - started_at)) filter (where answered_at is not null and started_at > now() - interval '24 hours'), 0)::float8 as "avgAnswerSeconds"
        from calls`
      const [reports] = await tx`
        select count(*) filter (where status = 'open')::int as "openReports",
               count(*) filter (where status = 'in_progress')::int as "inProgressReports",
               count(*) filter (where status = 'resolved')::int as "resolvedReports",
               coalesce(avg(extract(epoch from acknowledged_at - reported_at)) filter (where acknowledged_at is not null), 0)::float8 / 60 as "avgResponseMinutes"
        from maintenance_reports`
      return { ...calls, ...reports }
    }),
  )

  route('GET', '/api/simulator', async (_request, claims) =>
    asUser(claims, async (tx) => {
      const [row] = await tx`select enabled, rate_per_minute as "ratePerMinute" from sim_settings`
      return row ?? { enabled: false, ratePerMinute: 20 }
    }),
  )

  // ---- actions (INSERT/UPDATE policies decide) ----

  route('POST', '/api/calls', async (request, claims) => {
    const b = body(request)
    const phoneId = uuid(b.phoneNumberId, 'phoneNumberId')
    const caller = text(b.callerName ?? 'Unknown caller', 'callerName', 100)
    const from = text(b.fromNumber ?? '+1 555 000 0000', 'fromNumber', 40)
    return asUser(claims, async (tx) => {
      const [call] = await tx`insert into calls (tenant_id, phone_number_id, from_number, caller_name) values (${claims.tenant_id}, ${phoneId}, ${from}, ${caller}) returning *`
      await tx`insert into activity (tenant_id, phone_number_id, kind, message) values (${claims.tenant_id}, ${phoneId}, 'call', ${`Incoming call from ${caller}`})`
      return call
    })
  })

  route('POST', '/api/calls/:id/answer', async (request, claims) => {
    const id = param(request, 'id')
    return asUser(claims, async (tx) => {
      const rows = await tx`update calls set status = 'in_progress', answered_at = now(), answered_by = ${claims.sub} where id = ${id} and status = 'ringing' returning *`
      if (rows.length === 0) throw new HttpError(409, 'call is not ringing (or not visible to you)')
      return rows[0]
    })
  })

  route('POST', '/api/calls/:id/complete', async (request, claims) => {
    const id = param(request, 'id')
    return asUser(claims, async (tx) => {
      const rows = await tx`update calls set status = case when status = 'ringing' then 'missed' else 'completed' end, ended_at = now() where id = ${id} and status in ('ringing', 'in_progress') returning *`
      if (rows.length === 0) throw new HttpError(409, 'call is not active (or not visible to you)')
      await tx`insert into activity (tenant_id, phone_number_id, kind, message) values (${claims.tenant_id}, ${rows[0]!.phone_number_id}, 'call', ${`Call with ${rows[0]!.caller_name} ended by ${claims.user_name ?? 'agent'}`})`
      return rows[0]
    })
  })

  route('POST', '/api/conversations/:id/messages', async (request, claims) => {
    const id = param(request, 'id')
    const message = text(body(request).body, 'body')
    return asUser(claims, async (tx) => {
      const [row] = await tx`insert into messages (tenant_id, conversation_id, direction, author_name, user_id, body)
                             values (${claims.tenant_id}, ${id}, 'outbound', ${String(claims.user_name ?? 'Agent')}, ${claims.sub}, ${message}) returning *`
      await tx`update conversations set last_message = ${message}, last_message_at = now() where id = ${id}`
      return row
    })
  })

  route('POST', '/api/conversations/:id/assign', async (request, claims) => {
    const id = param(request, 'id')
    const raw = body(request).userId
    const userId = raw === null || raw === undefined ? null : uuid(raw, 'userId')
    return asUser(claims, async (tx) => {
      await tx`insert into assignments (tenant_id, conversation_id, user_id, assigned_by) values (${claims.tenant_id}, ${id}, ${userId}, ${claims.sub})`
      const rows = await tx`update conversations set assigned_to = ${userId} where id = ${id} returning *`
      if (rows.length === 0) throw new HttpError(404, 'conversation not found')
      await tx`insert into activity (tenant_id, phone_number_id, kind, message) values (${claims.tenant_id}, ${rows[0]!.phone_number_id}, 'assignment', ${`Conversation with ${rows[0]!.contact_name} ${userId ? 'assigned' : 'unassigned'}`})`
      return rows[0]
    })
  })

  route('POST', '/api/conversations/:id/status', async (request, claims) => {
    const id = param(request, 'id')
    const status = text(body(request).status, 'status', 20)
    return asUser(claims, async (tx) => {
      const rows = await tx`update conversations set status = ${status} where id = ${id} returning *`
      if (rows.length === 0) throw new HttpError(404, 'conversation not found')
      return rows[0]
    })
  })

  route('POST', '/api/campaigns/:id/bids', async (request, claims) => {
    const id = param(request, 'id')
    const amount = Number(body(request).amount)
    if (!Number.isFinite(amount) || amount <= 0 || amount > 10_000) throw new HttpError(400, 'amount must be a positive number')
    const bidder = text(body(request).bidder ?? `${claims.user_name ?? 'Agent'}`, 'bidder', 80)
    return asUser(claims, async (tx) => {
      const [row] = await tx`insert into bids (tenant_id, campaign_id, bidder, amount, user_id) values (${claims.tenant_id}, ${id}, ${bidder}, ${amount}, ${claims.sub})
                             returning id, tenant_id, campaign_id, bidder, amount::float8 as amount, user_id, created_at`
      await tx`insert into activity (tenant_id, kind, message) values (${claims.tenant_id}, 'bid', ${`${bidder} bid $${amount.toFixed(2)}`})`
      return row
    })
  })

  route('POST', '/api/reports/:id/status', async (request, claims) => {
    const id = param(request, 'id')
    const status = text(body(request).status, 'status', 20)
    return asUser(claims, async (tx) => {
      const rows = await tx`
        update maintenance_reports set status = ${status}, updated_at = now(),
          acknowledged_at = case when ${status} <> 'open' then coalesce(acknowledged_at, now()) else acknowledged_at end,
          resolved_at = case when ${status} = 'resolved' then now() else null end
        where id = ${id} returning *`
      if (rows.length === 0) throw new HttpError(404, 'report not found')
      await tx`insert into activity (tenant_id, kind, message) values (${claims.tenant_id}, 'report', ${`“${rows[0]!.title}” set to ${status.replace('_', ' ')} by ${claims.user_name ?? 'agent'}`})`
      return rows[0]
    })
  })

  route('POST', '/api/reports/:id/attachments', async (request, claims) => {
    const id = param(request, 'id')
    const fileName = text(body(request).fileName, 'fileName', 200)
    const size = Math.max(0, Math.round(Number(body(request).sizeBytes ?? 0)))
    return asUser(claims, async (tx) => {
      const [row] = await tx`insert into attachments (tenant_id, report_id, file_name, size_bytes, uploaded_by) values (${claims.tenant_id}, ${id}, ${fileName}, ${size}, ${claims.sub}) returning *`
      return row
    })
  })

  route('POST', '/api/simulator', async (request, claims) => {
    const b = body(request)
    const enabled = Boolean(b.enabled)
    const rate = Math.min(600, Math.max(1, Math.round(Number(b.ratePerMinute ?? 20))))
    const result = await asUser(claims, async (tx) => {
      const rows = await tx`update sim_settings set enabled = ${enabled}, rate_per_minute = ${rate} returning enabled, rate_per_minute as "ratePerMinute"`
      if (rows.length === 0) throw new HttpError(403, 'only admins can change the simulator')
      await tx`insert into activity (tenant_id, kind, message) values (${claims.tenant_id}, 'alert', ${`Simulator ${enabled ? `started (${rate}/min)` : 'stopped'} by ${claims.user_name ?? 'admin'}`})`
      return rows[0]
    })
    await options.onSimulatorChange?.()
    return result
  })
}
