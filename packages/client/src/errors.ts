/**
 * Errors of the client SDK: one registry of stable codes, one class, one normalizer.
 *
 * Codes are part of the public API (apps switch on them; the README lists every one of them, and a
 * test keeps the two in step). Messages may change; codes may not.
 *
 * Inside the SDK, call sites pass the code as a literal (`createError('RATE_LIMITED', …)`): the
 * {@link ErrorCode} parameter type checks it against this registry, and an app that never reads
 * `ErrorCodes` does not ship the map.
 */

/** Every error code the SDK raises. */
export const ErrorCodes = {
  /** A module-level helper was called before {@link configureRealtime}. */
  NotConfigured: 'NOT_CONFIGURED',
  /** An argument was missing or malformed (entity ids, event names, options). */
  InvalidArgument: 'INVALID_ARGUMENT',
  /** Two leases asked for the same channel with settings that cannot be merged (`private`, `broadcast.self`, presence key). */
  ConfigConflict: 'CHANNEL_CONFIG_CONFLICT',
  /** The broadcast payload is not plain JSON (function, symbol, bigint, cycle, class instance, non-finite number). */
  PayloadNotSerializable: 'PAYLOAD_NOT_SERIALIZABLE',
  /** The broadcast payload is larger than `maxPayloadBytes` once encoded as UTF-8 JSON. */
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  /** The payload contains a `__proto__`, `constructor` or `prototype` key. */
  PayloadForbiddenKey: 'PAYLOAD_FORBIDDEN_KEY',
  /** The per-channel client-side rate limit was exceeded. */
  RateLimited: 'RATE_LIMITED',
  /** The channel is not joined and did not join within the send timeout. */
  NotConnected: 'CHANNEL_NOT_CONNECTED',
  /** The server refused or timed out a join. */
  JoinFailed: 'CHANNEL_JOIN_FAILED',
  /** The server closed the channel (for example when the access token expired). */
  ChannelClosed: 'CHANNEL_CLOSED',
  /** Reconnection gave up after the configured number of attempts. */
  ReconnectExhausted: 'RECONNECT_EXHAUSTED',
  /** The server answered a send with an error or did not answer in time. */
  SendFailed: 'SEND_FAILED',
  /** The lease was released (or the manager cleaned up) while an operation waited. */
  Released: 'LEASE_RELEASED',
  /** The `accessToken` callback threw or returned nothing usable. */
  AuthFailed: 'AUTH_FAILED',
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

/**
 * The one error class of the SDK. `code` is stable; `cause` keeps the original error or server reason.
 *
 * @example
 * ```ts
 * try { await broadcast({ entityType: 'doc', entityId: '1', event: 'x', payload }) }
 * catch (e) { if (e instanceof SwitchboardError && e.code === 'RATE_LIMITED') retryLater(e.retryAfterMs) }
 * ```
 */
export class SwitchboardError extends Error {
  override readonly name = 'SwitchboardError'
  readonly code: ErrorCode
  /** For `RATE_LIMITED`: how long until a send would be accepted. */
  readonly retryAfterMs: number | undefined

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retryAfterMs?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.retryAfterMs = options.retryAfterMs
  }
}

/** Builds a {@link SwitchboardError} whose stack starts at the caller, not inside this factory. */
export function createError(
  code: ErrorCode,
  message: string,
  options?: { cause?: unknown; retryAfterMs?: number },
): SwitchboardError {
  const err = new SwitchboardError(code, message, options)
  Error.captureStackTrace?.(err, createError)
  return err
}

/**
 * Turns whatever a callback, promise or server reply produced into an `Error`
 * (server replies arrive as `{ reason }` objects, close events as `{ code, reason }`).
 */
export function normalizeError(value: unknown): Error {
  if (value instanceof Error) return value
  if (typeof value === 'string') return new Error(value)
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>
    const text = record.reason ?? record.message ?? record.error
    if (typeof text === 'string' && text) return new Error(text, { cause: value })
    if (typeof record.code === 'number') return new Error(`socket closed with code ${record.code}`, { cause: value })
  }
  return new Error('unknown error', { cause: value })
}
