/**
 * `switchboard tenants …`: the admin API (transport/admin-api.ts) from the command line.
 *
 *   switchboard tenants list
 *   switchboard tenants show <id>
 *   switchboard tenants add <id> --database-url URL (--jwt-secret S | --jwks-file F) [--name N]
 *                               [--limit name=value]… [--private-only true|false]
 *   switchboard tenants update <id> [--database-url URL] [--jwt-secret S] [--jwks-file F]
 *                               [--name N] [--limit name=value|name=default]…
 *                               [--private-only true|false] [--suspend | --resume]
 *   switchboard tenants rotate-secret <id> --jwt-secret NEW [--old-valid-for SECONDS | --old-valid-until ISO]
 *   switchboard tenants remove <id>
 *
 * Every command takes `--url` (env SWITCHBOARD_URL, default http://127.0.0.1:4000) and
 * `--admin-key` (env ADMIN_KEY). Output: a table for `list`, the tenant as JSON otherwise.
 * A refusal prints one line (`switchboard: <status> <error>: <field>: <problem>; …`) and exits 1;
 * bad usage exits 2.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { UsageError } from './start-options.js'

export const TENANTS_HELP = `Manage the tenants of a running Switchboard (its admin API).

Usage:
  switchboard tenants list
  switchboard tenants show <id>
  switchboard tenants add <id> --database-url URL (--jwt-secret S | --jwks-file F)
                        [--name N] [--limit name=value]... [--private-only true|false]
  switchboard tenants update <id> [--database-url URL] [--jwt-secret S] [--jwks-file F]
                        [--name N] [--limit name=value|name=default]...
                        [--private-only true|false] [--suspend | --resume]
  switchboard tenants rotate-secret <id> --jwt-secret NEW
                        [--old-valid-for SECONDS | --old-valid-until ISO-TIME]
  switchboard tenants remove <id>

Options of every command:
  --url <url>           the server (env SWITCHBOARD_URL; default http://127.0.0.1:4000)
  --admin-key <key>     the server's admin key (env ADMIN_KEY)

Limits (--limit): max_concurrent_users, max_channels_per_client, max_events_per_second,
max_joins_per_second, max_bytes_per_second, max_payload_size_in_kb,
max_client_events_per_second, max_client_joins_per_second, max_presence_calls_per_window,
presence_window_ms, max_db_events_per_second, max_rest_batch_messages.
A tenant id is what clients put first in the host: <id>.realtime.example.com.
`

const OPTIONS = {
  url: { type: 'string' },
  'admin-key': { type: 'string' },
  'database-url': { type: 'string' },
  'jwt-secret': { type: 'string' },
  'jwks-file': { type: 'string' },
  name: { type: 'string' },
  limit: { type: 'string', multiple: true },
  'private-only': { type: 'string' },
  suspend: { type: 'boolean' },
  resume: { type: 'boolean' },
  'old-valid-for': { type: 'string' },
  'old-valid-until': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

export interface CliOutput {
  out(line: string): void
  err(line: string): void
}

interface Request {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  path: string
  body?: Record<string, unknown>
}

/** Runs `switchboard tenants <argv>`; resolves with the exit code. */
export async function runTenantsCommand(argv: string[], env: NodeJS.ProcessEnv, io: CliOutput): Promise<number> {
  let request: Request | null
  let url: string
  let adminKey: string
  let command: string
  try {
    const parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: OPTIONS })
    const { values, positionals } = parsed
    if (values.help || positionals.length === 0) {
      io.out(TENANTS_HELP)
      return 0
    }
    command = positionals[0]!
    request = buildRequest(command, positionals.slice(1), values)
    url = (values.url ?? env.SWITCHBOARD_URL ?? 'http://127.0.0.1:4000').replace(/\/+$/, '')
    adminKey = values['admin-key'] ?? env.ADMIN_KEY ?? ''
    if (!adminKey) throw new UsageError('--admin-key (or ADMIN_KEY) is required')
  } catch (error) {
    io.err(`switchboard: ${(error as Error).message}`)
    return 2
  }
  let response: Response
  try {
    response = await fetch(`${url}${request.path}`, {
      method: request.method,
      headers: { authorization: `Bearer ${adminKey}`, ...(request.body ? { 'content-type': 'application/json' } : {}) },
      ...(request.body ? { body: JSON.stringify(request.body) } : {}),
    })
  } catch (error) {
    io.err(`switchboard: cannot reach ${url}: ${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}`)
    return 1
  }
  const text = await response.text()
  const body = text ? (JSON.parse(text) as unknown) : null
  if (!response.ok) {
    io.err(`switchboard: ${response.status} ${describeError(body)}`)
    return 1
  }
  if (command === 'list') io.out(table(body as Record<string, unknown>[]))
  else if (command === 'remove') io.out(`removed ${request.path.split('/').pop()}`)
  else io.out(JSON.stringify(body, null, 2))
  return 0
}

type Values = ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; strict: true; options: typeof OPTIONS }>>['values']

function buildRequest(command: string, args: string[], values: Values): Request {
  const id = () => {
    if (args.length !== 1) throw new UsageError(`tenants ${command} takes one tenant id`)
    return encodeURIComponent(args[0]!)
  }
  switch (command) {
    case 'list':
      if (args.length > 0) throw new UsageError('tenants list takes no arguments')
      return { method: 'GET', path: '/api/tenants' }
    case 'show':
      return { method: 'GET', path: `/api/tenants/${id()}` }
    case 'remove':
      return { method: 'DELETE', path: `/api/tenants/${id()}` }
    case 'add': {
      const externalId = id()
      const body: Record<string, unknown> = { external_id: decodeURIComponent(externalId), ...tenantFields(values, false) }
      if (values.suspend || values.resume) throw new UsageError('tenants add: --suspend and --resume are for tenants update')
      return { method: 'POST', path: '/api/tenants', body }
    }
    case 'update': {
      const path = `/api/tenants/${id()}`
      const body = tenantFields(values, true)
      if (values.suspend && values.resume) throw new UsageError('--suspend and --resume exclude each other')
      if (values.suspend) body.suspended = true
      if (values.resume) body.suspended = false
      if (Object.keys(body).length === 0) throw new UsageError('tenants update: nothing to change')
      return { method: 'PATCH', path, body }
    }
    case 'rotate-secret': {
      const path = `/api/tenants/${id()}/rotate-secret`
      if (!values['jwt-secret']) throw new UsageError('tenants rotate-secret needs --jwt-secret NEW')
      const body: Record<string, unknown> = { jwt_secret: values['jwt-secret'] }
      if (values['old-valid-for'] !== undefined) {
        const seconds = Number(values['old-valid-for'])
        if (!Number.isFinite(seconds)) throw new UsageError(`--old-valid-for must be a number of seconds, got '${values['old-valid-for']}'`)
        body.old_secret_valid_for_seconds = seconds
      }
      if (values['old-valid-until'] !== undefined) body.old_secret_valid_until = values['old-valid-until']
      return { method: 'POST', path, body }
    }
    default:
      throw new UsageError(`unknown command 'tenants ${command}' (try: switchboard tenants --help)`)
  }
}

/** The fields `add` and `update` share, from the flags. */
function tenantFields(values: Values, update: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {}
  if (values['database-url'] !== undefined) body.database_url = values['database-url']
  if (values['jwt-secret'] !== undefined) body.jwt_secret = values['jwt-secret']
  if (values['jwks-file'] !== undefined) {
    try {
      body.jwt_jwks = JSON.parse(readFileSync(values['jwks-file'], 'utf8'))
    } catch (error) {
      throw new UsageError(`--jwks-file: ${(error as Error).message}`)
    }
  }
  if (values.name !== undefined) body.name = values.name
  if (values.limit?.length) {
    const limits: Record<string, number | null> = {}
    for (const item of values.limit) {
      const match = /^([a-z_]+)=(\d+|default)$/.exec(item)
      if (!match) throw new UsageError(`--limit takes name=value (a positive integer${update ? ', or default' : ''}), got '${item}'`)
      if (match[2] === 'default' && !update) throw new UsageError('--limit name=default only with tenants update')
      limits[match[1]!] = match[2] === 'default' ? null : Number(match[2])
    }
    body.limits = limits
  }
  if (values['private-only'] !== undefined) {
    if (values['private-only'] !== 'true' && values['private-only'] !== 'false') throw new UsageError('--private-only takes true or false')
    body.private_only = values['private-only'] === 'true'
  }
  return body
}

function describeError(body: unknown): string {
  if (typeof body !== 'object' || body === null) return 'error'
  const { error, errors } = body as { error?: unknown; errors?: Record<string, string[]> }
  const details = errors ? Object.entries(errors).map(([field, problems]) => `${field}: ${problems.join(', ')}`).join('; ') : ''
  return [typeof error === 'string' ? error : 'error', details].filter(Boolean).join(': ')
}

function table(tenants: Record<string, unknown>[]): string {
  if (tenants.length === 0) return 'no tenants'
  const rows = [['ID', 'STATE', 'DATABASE', 'NAME'], ...tenants.map((t) => [String(t.external_id), t.suspended ? 'suspended' : 'active', String(t.database_url), String(t.name ?? '')])]
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n')
}
