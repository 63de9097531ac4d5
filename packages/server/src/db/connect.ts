/**
 * Opening the app database: one pool, checked once at start so a wrong URL fails fast with a
 * message an operator can act on, instead of the first join timing out minutes later.
 */
import postgres from 'postgres'
import type { Logger } from '../logger.js'

/**
 * A query against the app database failed (connection lost, bad SQL, missing schema).
 * `code` is stable; the original postgres.js error is the `cause`.
 */
export class DatabaseError extends Error {
  readonly code = 'DatabaseError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DatabaseError'
  }
}

/** Options of {@link connectDatabase}. */
export interface ConnectOptions {
  logger: Logger
  /** Pool size (postgres.js `max`). Default 10. */
  max?: number
  /** Seconds to wait for the first connection. Default 5. */
  connectTimeoutSeconds?: number
}

/**
 * Connects to `url`, checks the database answers `select 1`, and returns the pool.
 * Notices (e.g. the migrations' warnings) go to `logger.debug`.
 *
 * @throws Error `cannot connect to database at <host:port/db>: <reason>` (no password).
 * @example
 * const sql = await connectDatabase('postgres://app:secret@db:5432/app', { logger })
 */
export async function connectDatabase(url: string, options: ConnectOptions): Promise<postgres.Sql> {
  const { logger } = options
  const sql = postgres(url, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeoutSeconds ?? 5,
    // Notices are Postgres talking (RAISE WARNING from realtime.send, "already exists" notes):
    // useful when debugging, noise otherwise. postgres.js would console.log them by default.
    onnotice: (notice) => logger.debug({ notice: { severity: notice.severity, message: notice.message } }, 'postgres notice'),
    // Our own log lines say what failed; postgres.js must not print the URL or parameters.
    debug: false,
  })
  try {
    await sql`select 1`
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {})
    throw new DatabaseError(`cannot connect to database at ${describeTarget(url)}: ${reasonOf(error)}`, { cause: error })
  }
  return sql
}

/** `host:port/db` of a connection URL, without user or password. @internal */
export function describeTarget(url: string): string {
  try {
    const parsed = new URL(url)
    const db = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || '(default)'
    return `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}/${db}`
  } catch {
    // Not a URL (a key=value string, say): never echo it, it may contain the password.
    return '(unparsable database URL)'
  }
}

function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const code = (error as { code?: string }).code
  // postgres.js reports a refused/timed-out TCP connect as "write CONNECT_TIMEOUT host:port"
  // or a Node errno error; turn the common ones into plain words.
  if (code === 'ECONNREFUSED') return 'connection refused (is Postgres running and listening there?)'
  if (code === 'CONNECT_TIMEOUT') return 'connection timed out'
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found'
  const message = error.message.split('\n')[0] ?? ''
  return code && !message.includes(code) ? `${message} (${code})` : message
}
