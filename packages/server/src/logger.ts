/**
 * Structured JSON logs (pino). Tokens never reach the log: every key that can carry one is
 * redacted to "<redacted>", as the Supabase server does.
 */
import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino'

export type Logger = PinoLogger

const REDACTED_PATHS = [
  'token', '*.token', 'apikey', '*.apikey', 'access_token', '*.access_token', '*.*.access_token',
  'authorization', '*.authorization', 'headers.authorization', 'headers["x-api-key"]', 'headers.apikey',
  'jwtSecret', '*.jwtSecret', 'url', '*.url',
]

export function createLogger(options: { level?: LevelWithSilent; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'switchboard' },
      redact: { paths: REDACTED_PATHS, censor: '<redacted>' },
    },
    options.destination as pino.DestinationStream | undefined,
  )
}

/** A logger that discards everything: the default for embedding the server in tests. */
export const silentLogger: Logger = pino({ level: 'silent' })

/** Removes the `apikey` (a JWT) from a URL before it is logged. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:apikey|access_token|token)=)[^&]*/gi, '$1<redacted>')
}
