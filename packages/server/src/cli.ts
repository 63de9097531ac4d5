#!/usr/bin/env node
/**
 * `switchboard start`: the server from the command line.
 *
 *   switchboard start [--port 4000] [--host 127.0.0.1] [--database-url URL]
 *                     [--jwt-secret S] [--data-dir .switchboard] [--log-level info]
 *                     [--admin-key K] [--trace-messages 500]
 *
 * Environment variables PORT, HOST, DATABASE_URL, JWT_SECRET, DATA_DIR and LOG_LEVEL work
 * too; flags win. Problems (a bad flag, an unreachable database) print one line on stderr
 * and exit non-zero.
 */
import { parseArgs } from 'node:util'
import { createLogger } from './logger.js'
import { startSwitchboard, type RunningSwitchboard } from './server.js'
import { START_OPTIONS, START_OPTIONS_HELP, UsageError, redactPassword, resolveStartFlags, type StartFlags } from './start-options.js'

const HELP = `Switchboard: a Supabase-Realtime-compatible server (Broadcast, Presence, Postgres Changes).

Usage:
  switchboard start [options]
  switchboard --help

Options:
${START_OPTIONS_HELP}

On start it prints "listening on http://HOST:PORT", the database URL, and an anon and a
service_role key signed with the JWT secret. SIGINT/SIGTERM stop it gracefully.
`

function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): { command: 'help' } | { command: 'start'; flags: StartFlags } {
  let parsed
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: START_OPTIONS })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help || positionals.length === 0) return { command: 'help' }
  if (positionals[0] !== 'start' || positionals.length > 1) throw new UsageError(`unknown command '${positionals.join(' ')}' (try: switchboard start)`)
  return { command: 'start', flags: resolveStartFlags(values, env) }
}

function printBanner(server: RunningSwitchboard, embedded: boolean, adminKey: boolean): void {
  const lines = [
    `Switchboard listening on ${server.url}`,
    `  WebSocket      ${server.url.replace(/^http/, 'ws')}/realtime/v1/websocket`,
    `  Database       ${embedded ? `${server.databaseUrl} (embedded)` : redactPassword(server.databaseUrl)}`,
    `  anon key       ${server.anonKey}`,
    `  service_role   ${server.serviceRoleKey}`,
    `  Inspector      ${server.url}/inspector/ (sign in with ${adminKey ? 'the admin key or ' : ''}the service_role key)`,
  ]
  if (server.usingDevSecret) lines.push('  (keys are signed with the public development JWT secret: pass --jwt-secret in production)')
  lines.push(`  createClient('${server.url}', '<anon key>') from @supabase/supabase-js connects to it.`)
  console.log(lines.join('\n'))
}

async function main(): Promise<void> {
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
    server = await startSwitchboard({ ...flags, logger })
  } catch (error) {
    console.error(`switchboard: ${(error as Error).message}`)
    process.exitCode = 1
    return
  }
  printBanner(server, flags.databaseUrl === undefined, flags.adminKey !== undefined)

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
