/**
 * The injectable structured logger. The SDK never calls `console` itself: every line goes through a
 * {@link Logger}, whose default writes nowhere. Pass `createLogger({ sink })` to see the lines.
 *
 * Tokens never reach a sink: fields named like credentials, strings shaped like JWTs and
 * `apikey=…`/`access_token=…` URL parameters are replaced with `"<redacted>"` (the Supabase server
 * does the same in its logs).
 */

export const LogLevels = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const
export type LogLevel = keyof typeof LogLevels

/** Structured fields of one log line. */
export type LogFields = Record<string, unknown>

/** What the SDK logs to. Every method takes a constant message and a bag of fields. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
}

/** One line as handed to a sink: already level-filtered and redacted. */
export interface LogRecord {
  level: Exclude<LogLevel, 'silent'>
  msg: string
  time: number
  fields: LogFields
}

export type LogSink = (record: LogRecord) => void

export const REDACTED = '<redacted>'
const SECRET_KEY = /token|apikey|api_key|authorization|secret|password|jwt/i
const JWT_SHAPE = /\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g
const SECRET_PARAM = /\b(apikey|api_key|access_token|token)=([^&\s"']+)/gi

/** Redacts credentials in a string (JWT-shaped substrings and secret URL parameters). */
export function redactString(value: string): string {
  return value.replace(SECRET_PARAM, `$1=${REDACTED}`).replace(JWT_SHAPE, REDACTED)
}

/** Deep-copies `value` with credentials replaced; depth-limited and cycle-safe. */
export function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactString(value)
  if (value === null || typeof value !== 'object') return value
  if (depth > 6 || seen.has(value)) return '[…]'
  seen.add(value)
  if (value instanceof Error) return { name: value.name, message: redactString(value.message), code: (value as { code?: unknown }).code }
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => redact(v, depth + 1, seen))
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  for (const [key, v] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) && v != null && v !== '' ? REDACTED : redact(v, depth + 1, seen)
  }
  return out
}

/** The level when none is given: `info` in production builds, `debug` otherwise. */
export function defaultLogLevel(): LogLevel {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.NODE_ENV
  return env === 'production' ? 'info' : 'debug'
}

/**
 * Builds a {@link Logger} that filters by level, redacts, and hands records to `sink`.
 *
 * @example
 * ```ts
 * configureRealtime({ url, apiKey, logger: createLogger({ level: 'info', sink: (r) => pino[r.level](r.fields, r.msg) }) })
 * ```
 */
export function createLogger(options: { level?: LogLevel; sink?: LogSink; bindings?: LogFields } = {}): Logger {
  const threshold = LogLevels[options.level ?? defaultLogLevel()]
  const sink = options.sink
  const bindings = options.bindings ?? {}
  const emit = (level: Exclude<LogLevel, 'silent'>) => (msg: string, fields?: LogFields) => {
    if (!sink || LogLevels[level] < threshold) return
    try {
      sink({ level, msg: redactString(msg), time: Date.now(), fields: redact({ ...bindings, ...fields }) as LogFields })
    } catch {
      // A throwing sink must not break the connection code that logged.
    }
  }
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') }
}

const drop = (): void => undefined

/**
 * A logger that drops everything (the default). A plain object rather than
 * `createLogger({ level: 'silent' })`, so apps that never pass a logger do not ship the level
 * filter and the redaction code.
 */
export const silentLogger: Logger = { debug: drop, info: drop, warn: drop, error: drop }
