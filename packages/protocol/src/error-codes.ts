/**
 * The one registry of error codes Switchboard puts on the wire or in its logs.
 *
 * Wire reasons stay byte-compatible with Supabase Realtime: a join error reason is
 * `"<Code>: <message>"`, a shutdown is a `system` message with the bare message, an HTTP
 * error is `{"error": message}` (WebSocket upgrade) or `{"message": …}` (REST). Every code
 * here is documented in docs/errors.md (a test keeps the two in step).
 */
export const ErrorCode = {
  // Connection (HTTP before the WebSocket upgrade)
  ApiKeyMissing: 'ApiKeyMissing',
  // Tenants
  TenantNotFound: 'TenantNotFound',
  RealtimeDisabledForTenant: 'RealtimeDisabledForTenant',
  UnableToConnectToProject: 'UnableToConnectToProject',
  // Tokens
  InvalidJWTToken: 'InvalidJWTToken',
  MalformedJWT: 'MalformedJWT',
  JwtSignatureError: 'JwtSignatureError',
  JwtSignerError: 'JwtSignerError',
  // Joins
  TopicNameRequired: 'TopicNameRequired',
  InvalidJoinPayload: 'InvalidJoinPayload',
  UnmatchedTopic: 'UnmatchedTopic',
  Unauthorized: 'Unauthorized',
  PrivateOnly: 'PrivateOnly',
  ChannelRateLimitReached: 'ChannelRateLimitReached',
  ConnectionRateLimitReached: 'ConnectionRateLimitReached',
  ClientJoinRateLimitReached: 'ClientJoinRateLimitReached',
  RealtimeRestarting: 'RealtimeRestarting',
  UnknownErrorOnChannel: 'UnknownErrorOnChannel',
  // Messages on a joined channel
  MalformedWebSocketMessage: 'MalformedWebSocketMessage',
  UnknownEvent: 'UnknownEvent',
  PayloadTooLarge: 'PayloadTooLarge',
  TooManyEvents: 'TooManyEvents',
  ClientPresenceRateLimitReached: 'ClientPresenceRateLimitReached',
  PresenceTrackPayloadInvalid: 'PresenceTrackPayloadInvalid',
  TrackMessageSizeExceeded: 'TrackMessageSizeExceeded',
  // Socket-level protection
  FrameTooLarge: 'FrameTooLarge',
  SlowConsumer: 'SlowConsumer',
  IdleTimeout: 'IdleTimeout',
  // Postgres Changes
  PostgresChangesInvalidParams: 'PostgresChangesInvalidParams',
  PostgresChangesSubscribeTimeout: 'PostgresChangesSubscribeTimeout',
  RealtimeDisabledForConfiguration: 'RealtimeDisabledForConfiguration',
  PostgresChangesCheckFailed: 'PostgresChangesCheckFailed',
  ReplicationConnectionTimeout: 'ReplicationConnectionTimeout',
  // Delivery
  ChangesBacklogOverflow: 'ChangesBacklogOverflow',
  BroadcastPersistFailed: 'BroadcastPersistFailed',
  // REST
  RestUnauthorized: 'RestUnauthorized',
  RestInvalidBody: 'RestInvalidBody',
  RestUnsupportedMediaType: 'RestUnsupportedMediaType',
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** Every registered code, for documentation checks and metrics label sets. */
export const ALL_ERROR_CODES: readonly ErrorCode[] = Object.freeze(Object.values(ErrorCode))

/**
 * An error that carries a stable code. `reason` is the exact Supabase wire string
 * (`"Unauthorized: You do not have permissions to read from this Channel topic: room1"`).
 */
export class RealtimeError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'RealtimeError'
    this.code = code
  }

  /** The `"<Code>: <message>"` form Supabase uses in join error replies. */
  get reason(): string {
    return `${this.code}: ${this.message}`
  }
}

/** Creates a RealtimeError whose stack starts at the caller, not inside this factory. */
export function realtimeError(code: ErrorCode, message: string, cause?: unknown): RealtimeError {
  const error = new RealtimeError(code, message, cause === undefined ? undefined : { cause })
  Error.captureStackTrace?.(error, realtimeError)
  return error
}
