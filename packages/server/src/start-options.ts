/**
 * The options every Switchboard launcher takes (`switchboard start`, the demo's `npm start`):
 * their `parseArgs` definitions, help lines, and validation into typed flags. Environment
 * variables (PORT, HOST, DATABASE_URL, JWT_SECRET, DATA_DIR, LOG_LEVEL, ADMIN_KEY, TRACE_MESSAGES) fill in what the
 * command line leaves out; flags win.
 *
 * @example
 * ```ts
 * const { values } = parseArgs({ args, options: { ...START_OPTIONS, verbose: { type: 'boolean' } } })
 * const flags = resolveStartFlags(values, process.env)   // throws UsageError on bad input
 * await startSwitchboard({ ...flags, logger: createLogger({ level: flags.logLevel }) })
 * ```
 */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export const START_OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'database-url': { type: 'string' },
  'jwt-secret': { type: 'string' },
  'data-dir': { type: 'string' },
  'log-level': { type: 'string' },
  'admin-key': { type: 'string' },
  'trace-messages': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

export const START_OPTIONS_HELP = `  --port <n>            TCP port to listen on (env PORT; default 4000; 0 picks a free port)
  --host <addr>         interface to listen on (env HOST; default 127.0.0.1)
  --database-url <url>  Postgres to use, with wal_level=logical (env DATABASE_URL).
                        Without it an embedded Postgres starts under --data-dir.
  --jwt-secret <s>      secret of the HS256/384/512 JWTs clients present (env JWT_SECRET;
                        default: the Supabase CLI's public development secret)
  --data-dir <path>     folder for the embedded Postgres data (env DATA_DIR; default .switchboard)
  --log-level <level>   ${LOG_LEVELS.join(', ')} (env LOG_LEVEL)
  --admin-key <key>     opens the inspector (/inspector) on every tenant (env ADMIN_KEY; at least
                        16 characters). A tenant's service_role key opens it on that tenant alone.
  --trace-messages <n>  messages the inspector's delivery trace keeps per tenant while someone
                        watches (env TRACE_MESSAGES; default 500; 0 turns tracing off)
  -h, --help            show this help`

export interface StartFlags {
  port: number
  host: string
  databaseUrl: string | undefined
  jwtSecret: string | undefined
  dataDir: string
  logLevel: LogLevel
  adminKey: string | undefined
  /** Only when --trace-messages is given. */
  inspector?: { maxMessages: number }
}

/** A bad flag or environment value: launchers print its message on one line and exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

type StartValues = { [K in keyof typeof START_OPTIONS]?: (typeof START_OPTIONS)[K]['type'] extends 'string' ? string : boolean }

/** Validates the parsed values (plus environment) into flags; throws UsageError. */
export function resolveStartFlags(values: StartValues, env: NodeJS.ProcessEnv, defaults: { logLevel?: LogLevel } = {}): StartFlags {
  const portText = values.port ?? env.PORT ?? '4000'
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port > 65_535) throw new UsageError(`--port must be a number from 0 to 65535, got '${portText}'`)
  const logLevel = values['log-level'] ?? env.LOG_LEVEL ?? defaults.logLevel ?? 'info'
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`)
  const databaseUrl = values['database-url'] ?? env.DATABASE_URL
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new UsageError('--database-url must start with postgres:// or postgresql://')
  const jwtSecret = values['jwt-secret'] ?? env.JWT_SECRET
  if (jwtSecret !== undefined && jwtSecret.length < 16) throw new UsageError('--jwt-secret must be at least 16 characters')
  const adminKey = values['admin-key'] ?? env.ADMIN_KEY
  if (adminKey !== undefined && adminKey.length < 16) throw new UsageError('--admin-key must be at least 16 characters')
  const traceText = values['trace-messages'] ?? env.TRACE_MESSAGES
  if (traceText !== undefined && (!/^\d+$/.test(traceText) || Number(traceText) > 100_000)) throw new UsageError(`--trace-messages must be a number from 0 to 100000, got '${traceText}'`)
  return {
    ...(traceText !== undefined ? { inspector: { maxMessages: Number(traceText) } } : {}),
    adminKey,
    port,
    host: values.host ?? env.HOST ?? '127.0.0.1',
    databaseUrl,
    jwtSecret,
    dataDir: values['data-dir'] ?? env.DATA_DIR ?? '.switchboard',
    logLevel: logLevel as LogLevel,
  }
}

/** A connection URL with its password masked, for printing. */
export function redactPassword(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@')
}
