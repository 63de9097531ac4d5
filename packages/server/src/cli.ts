#!/usr/bin/env node
/**
 * `switchboard start`: the server from the command line.
 *
 *   switchboard start [--port 4000] [--host 127.0.0.1] [--database-url URL]
 *                     [--jwt-secret S] [--data-dir .switchboard] [--log-level info]
 *                     [--admin-key K] [--trace-messages 500] [--multi-tenant]
 *                     [--control-database-url URL] [--secrets-key K] [--tenant-idle-seconds 300]
 *   switchboard tenants list|show|add|update|remove|rotate-secret …   (tenants-cli.ts)
 *
 * Environment variables PORT, HOST, DATABASE_URL, JWT_SECRET, DATA_DIR, LOG_LEVEL, ADMIN_KEY,
 * TRACE_MESSAGES, MULTI_TENANT, CONTROL_DATABASE_URL, SECRETS_KEY and TENANT_IDLE_SECONDS work
 * too; flags win. Problems (a
 * bad flag, an unreachable database) print one line on stderr and exit non-zero.
 */
import { parseArgs } from 'node:util'
import { createLogger } from './logger.js'
import type { RunningSwitchboard } from './server.js'
import {
  START_OPTIONS,
  START_OPTIONS_HELP,
  TENANT_OPTIONS,
  TENANT_OPTIONS_HELP,
  UsageError,
  redactPassword,
  resolveStartFlags,
  resolveTenantFlags,
  type StartFlags,
  type TenantFlags,
} from './start-options.js'
import { runTenantsCommand } from './tenants-cli.js'

const HELP = `Switchboard: a Supabase-Realtime-compatible server (Broadcast, Presence, Postgres Changes).

Usage:
  switchboard start [options]
  switchboard tenants list|show|add|update|remove|rotate-secret …   (switchboard tenants --help)
  switchboard --help

Options:
${START_OPTIONS_HELP}

Many tenants (the options above are then tenant "default", which requests naming no tenant reach):
${TENANT_OPTIONS_HELP}

On start it prints "listening on http://HOST:PORT", the database URL, and an anon and a
service_role key signed with the JWT secret. SIGINT/SIGTERM stop it gracefully.
`

function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): { command: 'help' } | { command: 'start'; flags: StartFlags & TenantFlags } {
  let parsed
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { ...START_OPTIONS, ...TENANT_OPTIONS } })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help || positionals.length === 0) return { command: 'help' }
  if (positionals[0] !== 'start' || positionals.length > 1) throw new UsageError(`unknown command '${positionals.join(' ')}' (try: switchboard start)`)
  return { command: 'start', flags: { ...resolveStartFlags(values, env), ...resolveTenantFlags(values, env) } }
}

function printBanner(server: RunningSwitchboard, embedded: boolean, flags: { adminKey: string | undefined }): void {
  const lines = [
    `Switchboard listening on ${server.url}`,
    `  WebSocket      ${server.url.replace(/^http/, 'ws')}/realtime/v1/websocket`,
    `  Database       ${embedded ? `${server.databaseUrl} (embedded)` : redactPassword(server.databaseUrl)}`,
    `  anon key       ${server.anonKey}`,
    `  service_role   ${server.serviceRoleKey}`,
    `  Inspector      ${server.url}/inspector/ (sign in with ${flags.adminKey ? 'the admin key or ' : ''}the service_role key)`,
  ]
  if (server.controlDatabaseUrl) {
    lines.push(`  Tenants        ${redactPassword(server.controlDatabaseUrl)} (control database)${flags.adminKey ? '; admin API at /api/tenants' : ''}`)
    lines.push('  (the keys above are tenant "default"\'s; a tenant is chosen by the host <id>.…, x-tenant-id or ?tenant=)')
  }
  if (server.usingDevSecret) lines.push('  (keys are signed with the public development JWT secret: pass --jwt-secret in production)')
  lines.push(`  createClient('${server.url}', '<anon key>') from @supabase/supabase-js connects to it.`)
  console.log(lines.join('\n'))
}

async function main(): Promise<void> {
  if (process.argv[2] === 'tenants') {
    process.exitCode = await runTenantsCommand(process.argv.slice(3), process.env, { out: (line) => console.log(line), err: (line) => console.error(line) })
    return
  }
  let command
  try {
    command = parseCommandLine(process.argv.slice(2), process.env)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    console.error(`switchboard: ${error.message}`)
    process.exitCode = 2
    return
  }
  if (command.command === 'help') {
    console.log(HELP)
    return
  }
  const { flags } = command
  const logger = createLogger({ level: flags.logLevel })
  let server: RunningSwitchboard
  try {
    const { multiTenant, controlDatabaseUrl, secretsKey, tenantIdleSeconds, ...start } = flags
    // Loaded here, not at the top: `switchboard tenants …` and `--help` start faster without it.
    const { startSwitchboard } = await import('./server.js')
    server = await startSwitchboard({
      ...start,
      logger,
      ...(multiTenant ? { multiTenant } : {}),
      ...(controlDatabaseUrl ? { controlDatabaseUrl } : {}),
      ...(secretsKey ? { secretsKey } : {}),
      ...(tenantIdleSeconds ? { tenants: { idleStopMs: tenantIdleSeconds * 1000 } } : {}),
    })
  } catch (error) {
    console.error(`switchboard: ${(error as Error).message}`)
    process.exitCode = 1
    return
  }
  printBanner(server, flags.databaseUrl === undefined, flags)

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down')
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`switchboard: shutdown failed: ${(error as Error).message}`)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

await main()
