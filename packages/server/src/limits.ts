/**
 * Every bound the server enforces, with its default, in one place.
 *
 * Defaults suit a self-hosted server (hundreds of clients on one topic, bursts of hundreds of
 * messages), not Supabase's free hosted plan; tighter per-tenant quotas are configuration.
 * Each limit's wire behaviour mirrors Supabase's (see docs/limits.md).
 */
export interface Limits {
  /** Open WebSocket connections per server; above it the upgrade gets HTTP 429 `Too many connected users`. */
  maxConnections: number
  /** Channels one socket may have joined at once (`ChannelRateLimitReached: Too many channels`). */
  maxChannelsPerSocket: number
  /** Joins per second per socket; above it the join fails and the socket is closed (1001). */
  maxJoinsPerSecond: number
  /** Client events (broadcast, presence, access_token) per second per socket; above it the channel is shut down. */
  maxEventsPerSecond: number
  /** Presence track/untrack calls per channel within `presenceWindowMs`. */
  maxPresenceCallsPerWindow: number
  presenceWindowMs: number
  /** Largest broadcast / track / REST payload, in bytes (Supabase: 3,000 KB + 500 bytes). */
  maxPayloadBytes: number
  /** Largest WebSocket frame accepted, in bytes (Supabase: 5,000,000). */
  maxFrameBytes: number
  /** Bytes queued for one socket before it counts as a slow reader and is disconnected. */
  maxBufferedBytesPerSocket: number
  /** A socket that sends no frame for this long is closed (the official client heartbeats every 25 s). */
  idleTimeoutMs: number
  /** Messages in one REST batch broadcast. */
  maxRestBatchMessages: number
  /** Largest Postgres change record before values are cut (Supabase's 64-byte rule and `Error 413`). */
  maxRecordBytes: number
  /** Database change events per second per tenant; excess is counted in metrics, not dropped. */
  maxDbEventsPerSecond: number
  /**
   * Client events (broadcast, presence, access_token) plus REST broadcast messages per second,
   * summed over all sockets of a tenant (Supabase's `max_events_per_second`). Above it the
   * channel that sent the event is shut down (`Too many messages per second`); REST gets 429.
   */
  maxTenantEventsPerSecond: number
  /** Joins per second summed over all sockets of a tenant (Supabase's `max_joins_per_second`). */
  maxTenantJoinsPerSecond: number
  /** Bytes of client events plus REST broadcast bodies per second per tenant (`max_bytes_per_second`). */
  maxTenantBytesPerSecond: number
  /**
   * Row changes of one transaction held in memory until its commit. Beyond it the remaining
   * changes are counted per table and type, and each binding gets one `Error 413` payload per
   * table and type instead of the rows (docs/limits.md).
   */
  maxTransactionChanges: number
  /** Payload bytes of one transaction held in memory until its commit; beyond it, as maxTransactionChanges. */
  maxTransactionBytes: number
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxConnections: 20_000,
  maxChannelsPerSocket: 100,
  maxJoinsPerSecond: 500,
  maxEventsPerSecond: 1_000,
  maxPresenceCallsPerWindow: 50,
  presenceWindowMs: 30_000,
  maxPayloadBytes: 3_000 * 1_000 + 500,
  maxFrameBytes: 5_000_000,
  maxBufferedBytesPerSocket: 16 * 1024 * 1024,
  idleTimeoutMs: 60_000,
  maxRestBatchMessages: 1_000,
  maxRecordBytes: 1024 * 1024,
  maxDbEventsPerSecond: 10_000,
  // Tenant-wide quotas: high enough never to bind a single-tenant server by default; a tenant
  // of a multi-tenant server gets its own (Supabase's free plan: 100 events/s, 100 joins/s).
  maxTenantEventsPerSecond: 1_000_000,
  maxTenantJoinsPerSecond: 10_000,
  maxTenantBytesPerSecond: 1024 * 1024 * 1024,
  // 100,000 changes: ten times the events/s bound, a bulk import or backfill of that size is
  // still delivered row by row; past it a client is better served by one "re-fetch" signal
  // than by a burst it cannot render. 64 MiB of pgoutput text is about 150–250 MiB of heap
  // once decoded (UTF-16 strings, arrays), which one server can hold next to its sockets.
  maxTransactionChanges: 100_000,
  maxTransactionBytes: 64 * 1024 * 1024,
})

export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  const limits = { ...DEFAULT_LIMITS, ...overrides }
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`limit ${name} must be a positive number, got ${value}`)
  }
  return limits
}
