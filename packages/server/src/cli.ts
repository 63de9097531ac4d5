#!/usr/bin/env node
/**
 * `switchboard start`: the server from the command line.
 *
 *   switchboard start [--port 4000] [--host 127.0.0.1] [--database-url URL]
 *                     [--jwt-secret S] [--data-dir .switchboard] [--log-level info]
 *
 * Environment variables PORT, HOST, DATABASE_URL, JWT_SECRET, DATA_DIR and LOG_LEVEL work
 * too; flags win. Problems (a bad flag, an unreachable database) print one line on stderr
 * and exit non-zero.
 */
import { parseArgs } from 'node:util'
import { createLogger } from './logger.js'
import { startSwitchboard, type RunningSwitchboard } from './server.js'

const HELP = `Switchboard: a Supabase-Realtime-compatible server (Broadcast, Presence, Postgres Changes).

Usage:
  switchboard start [options]
  switchboard --help

Options:
  --port <n>            TCP port to listen on (env PORT; default 4000; 0 picks a free port)
  --host <addr>         interface to listen on (env HOST; default 127.0.0.1)
  --database-url <url>  Postgres to use, with wal_level=logical (env DATABASE_URL).
                        Without it an embedded Postgres starts under --data-dir.
  --jwt-secret <s>      secret of the HS256/384/512 JWTs clients present (env JWT_SECRET;
                        default: the Supabase CLI's public development secret)
  --data-dir <path>     folder for the embedded Postgres data (env DATA_DIR; default .switchboard)
  --log-level <level>   fatal, error, warn, info, debug, trace or silent (env LOG_LEVEL; default info)
  -h, --help            show this help

On start it prints "listening on http://HOST:PORT", the database URL, and an anon and a
service_role key signed with the JWT secret. SIGINT/SIGTERM stop it gracefully.
`

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])

class UsageError extends Error {}

interface StartFlags {
  port: number
  host: string
  databaseUrl: string | undefined
  jwtSecret: string | undefined
  dataDir: string
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
}

function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): { command: 'help' } | { command: 'start'; flags: StartFlags } {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'database-url': { type: 'string' },
        'jwt-secret': { type: 'string' },
        'data-dir': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help || positionals.length === 0) return { command: 'help' }
  if (positionals[0] !== 'start' || positionals.length > 1) throw new UsageError(`unknown command '${positionals.join(' ')}' (try: switchboard start)`)

  const portText = values.port ?? env.PORT ?? '4000'
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port > 65_535) throw new UsageError(`--port must be a number from 0 to 65535, got '${portText}'`)
  const logLevel = values['log-level'] ?? env.LOG_LEVEL ?? 'info'
  if (!LOG_LEVELS.has(logLevel)) throw new UsageError(`--log-level must be one of ${[...LOG_LEVELS].join(', ')}, got '${logLevel}'`)
  const databaseUrl = values['database-url'] ?? env.DATABASE_URL
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new UsageError('--database-url must start with postgres:// or postgresql://')
  const jwtSecret = values['jwt-secret'] ?? env.JWT_SECRET
  if (jwtSecret !== undefined && jwtSecret.length < 16) throw new UsageError('--jwt-secret must be at least 16 characters')
  return {
    command: 'start',
    flags: {
      port,
      host: values.host ?? env.HOST ?? '127.0.0.1',
      databaseUrl,
      jwtSecret,
      dataDir: values['data-dir'] ?? env.DATA_DIR ?? '.switchboard',
      logLevel: logLevel as StartFlags['logLevel'],
    },
  }
}

function printBanner(server: RunningSwitchboard, embedded: boolean): void {
  const lines = [
    `Switchboard listening on ${server.url}`,
    `  WebSocket      ${server.url.replace(/^http/, 'ws')}/realtime/v1/websocket`,
    `  Database       ${embedded ? `${server.databaseUrl} (embedded)` : redactPassword(server.databaseUrl)}`,
    `  anon key       ${server.anonKey}`,
    `  service_role   ${server.serviceRoleKey}`,
  ]
  if (server.usingDevSecret) lines.push('  (keys are signed with the public development JWT secret: pass --jwt-secret in production)')
  lines.push(`  createClient('${server.url}', '<anon key>') from @supabase/supabase-js connects to it.`)
  console.log(lines.join('\n'))
}

function redactPassword(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@')
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
  printBanner(server, flags.databaseUrl === undefined)

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
