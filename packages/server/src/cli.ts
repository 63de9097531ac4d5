#!/usr/bin/env node
/**
 * `switchboard start`: the server from the command line.
 *
 *   switchboard start [--port 4000] [--host 127.0.0.1] [--database-url URL]
 *                     [--jwt-secret S] [--data-dir .switchboard] [--log-level info]
 *                     [--admin-key K] [--trace-messages 500] [--multi-tenant]
 *                     [--control-database-url URL] [--secrets-key K] [--previous-secrets-key K]
 *                     [--tenant-idle-seconds 300]
 *                     [--redis-url URL] [--node-id ID] [--workers N] [--no-postgres-changes]
 *   switchboard tenants list|show|add|update|remove|rotate-secret …   (tenants-cli.ts)
 *
 * Environment variables PORT, HOST, DATABASE_URL, JWT_SECRET, DATA_DIR, LOG_LEVEL, ADMIN_KEY,
 * TRACE_MESSAGES, MULTI_TENANT, CONTROL_DATABASE_URL, SECRETS_KEY, PREVIOUS_SECRETS_KEY,
 * TENANT_IDLE_SECONDS, REDIS_URL, NODE_ID, WORKERS and POSTGRES_CHANGES work too; flags win.
 * Problems (a bad flag, an unreachable database) print one line on stderr and exit non-zero.
 * `--workers N` (N > 1) makes this process the primary of N workers, each of which runs this
 * file again as a single node (workers-cli.ts).
 */
import cluster from 'node:cluster'
import { parseArgs } from 'node:util'
import { createLogger } from './logger.js'
import type { RunningSwitchboard } from './server.js'
import {
  CLUSTER_OPTIONS,
  CLUSTER_OPTIONS_HELP,
  START_OPTIONS,
  START_OPTIONS_HELP,
  TENANT_OPTIONS,
  TENANT_OPTIONS_HELP,
  UsageError,
  redactPassword,
  resolveClusterFlags,
  resolveStartFlags,
  resolveTenantFlags,
  type ClusterFlags,
  type StartFlags,
  type TenantFlags,
} from './start-options.js'
import { runTenantsCommand } from './tenants-cli.js'
import { readWorkerIdentity, runPrimary, workerNodeId, type WorkerIdentity } from './workers-cli.js'

const HELP = `Switchboard: a Supabase-Realtime-compatible server (Broadcast, Presence, Postgres Changes).

Usage:
  switchboard start [options]
  switchboard tenants list|show|add|update|remove|rotate-secret …   (switchboard tenants --help)
  switchboard --help

Options:
${START_OPTIONS_HELP}

Many tenants (the options above are then tenant "default", which requests naming no tenant reach):
${TENANT_OPTIONS_HELP}

Cluster (nodes sharing a database and a Redis serve one set of channels):
${CLUSTER_OPTIONS_HELP}

On start it prints "listening on http://HOST:PORT", the database URL, and an anon and a
service_role key signed with the JWT secret. SIGINT/SIGTERM stop it gracefully (with
--workers, the primary forwards them to the workers and exits once they have exited).
`

type Flags = StartFlags & TenantFlags & ClusterFlags

function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): { command: 'help' } | { command: 'start'; flags: Flags } {
  let parsed
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { ...START_OPTIONS, ...TENANT_OPTIONS, ...CLUSTER_OPTIONS } })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help || positionals.length === 0) return { command: 'help' }
  if (positionals[0] !== 'start' || positionals.length > 1) throw new UsageError(`unknown command '${positionals.join(' ')}' (try: switchboard start)`)
  return { command: 'start', flags: { ...resolveStartFlags(values, env), ...resolveTenantFlags(values, env), ...resolveClusterFlags(values, env) } }
}

function printBanner(server: RunningSwitchboard, embedded: boolean, flags: { adminKey: string | undefined; redisUrl: string | undefined }, worker: WorkerIdentity | null): void {
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
  if (flags.redisUrl !== undefined || worker) {
    const place = worker ? `, worker ${worker.index} of ${worker.count} (pid ${process.pid})` : ''
    lines.push(`  Cluster        node ${server.nodeId}${place}; Redis ${flags.redisUrl === undefined ? 'none' : redactPassword(flags.redisUrl)}`)
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
  if (flags.workers > 1 && cluster.isPrimary) {
    const code = await runPrimary({
      workers: flags.workers,
      host: flags.host,
      databaseUrl: flags.databaseUrl,
      dataDir: flags.dataDir,
      redisUrl: flags.redisUrl!, // resolveClusterFlags refuses workers without Redis
      logger,
      out: (line) => console.log(line),
      err: (line) => console.error(line),
    })
    process.exit(code)
  }
  const worker = readWorkerIdentity(process.env)
  let server: RunningSwitchboard
  try {
    const { multiTenant, controlDatabaseUrl, secretsKey, previousSecretsKey, tenantIdleSeconds, workers: _workers, redisUrl, nodeId, postgresChanges, ...start } = flags
    const databaseUrl = worker?.databaseUrl ?? start.databaseUrl
    const node = workerNodeId(nodeId, worker)
    // Loaded here, not at the top: `switchboard tenants …` and `--help` start faster without it.
    const { startSwitchboard } = await import('./server.js')
    server = await startSwitchboard({
      ...start,
      ...(databaseUrl ? { databaseUrl } : {}),
      ...(redisUrl ? { redisUrl } : {}),
      ...(node ? { nodeId: node } : {}),
      ...(postgresChanges ? {} : { postgresChanges: false }),
      logger,
      ...(multiTenant ? { multiTenant } : {}),
      ...(controlDatabaseUrl ? { controlDatabaseUrl } : {}),
      ...(secretsKey ? { secretsKey } : {}),
      ...(previousSecretsKey ? { previousSecretsKey } : {}),
      ...(tenantIdleSeconds ? { tenants: { idleStopMs: tenantIdleSeconds * 1000 } } : {}),
    })
  } catch (error) {
    console.error(`switchboard: ${(error as Error).message}`)
    process.exitCode = 1
    // A worker's IPC channel to the primary would keep it running with nothing to do.
    if (worker) process.exit(1)
    return
  }
  // With workers, the first prints the banner for all (the others would repeat it word for word).
  if (!worker || worker.index === 1) printBanner(server, flags.databaseUrl === undefined, flags, worker)

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
