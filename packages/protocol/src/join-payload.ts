/**
 * Validation of the `phx_join` payload at the edge: raw JSON in, a typed value or a
 * Supabase reason out. Handlers never see the raw payload.
 *
 * Like Supabase (`channels/payloads/join.ex`), unknown keys are ignored and booleans may be
 * the strings "true"/"false" in any case. Unlike Supabase, a structurally wrong payload (a
 * config that is not an object, bindings that are not objects) is refused with
 * `InvalidJoinPayload` instead of silently falling back to defaults, because a channel that
 * joins with a config other than the one asked for fails in ways that are hard to see.
 *
 * Shape sent by realtime-js 2.119 (supabase-protocol.md §2.2):
 *   { config: { broadcast: {ack, self, replay?}, presence: {key, enabled},
 *               postgres_changes: [{event, schema?, table?, filter?, select?}], private },
 *     access_token?, user_token?, version? }
 */
import { ErrorCode, RealtimeError } from './error-codes.js'
import { RESUME_KEY, parseResumeRequest, type ResumeRequest } from './resume.js'

export interface JoinConfig {
  broadcast: {
    self: boolean
    ack: boolean
    /** `replay: { since, limit? }` (private channels): persisted broadcasts since `since` (unix ms), oldest first, at most `limit` (1..25, default 25). */
    replay: { since: number; limit: number } | null
    /** `replication_ready: true`: push "Replication connection established" once the replication stream is up (§3.7). */
    replicationReady: boolean
  }
  presence: { key: string; enabled: boolean }
  /** The bindings exactly as sent (the join reply echoes them); validated by the Postgres Changes engine. */
  postgresChanges: ReadonlyArray<Readonly<Record<string, unknown>>>
  private: boolean
  /**
   * `postgres_changes_options: { wait, timeout? }` (§5.9): with `wait`, the join reply waits
   * until the bindings are live, at most `timeoutMs` (default 15 s, clamped to 20 s).
   */
  postgresChangesOptions: { wait: boolean; timeoutMs: number }
}

/** Default and largest wait of `postgres_changes_options` (Supabase's feature branch). */
export const POSTGRES_CHANGES_WAIT_DEFAULT_MS = 15_000
export const POSTGRES_CHANGES_WAIT_MAX_MS = 20_000
const REPLAY_LIMIT_MAX = 25

export interface JoinPayload {
  config: JoinConfig
  /** `access_token` (or legacy `user_token`); null when absent. */
  accessToken: string | null
  /**
   * Switchboard's resume extension, from the namespaced top-level key `switchboard` (the
   * official client carries it with `channel.updateJoinPayload`; the Supabase server ignores
   * it). Null when absent: the channel then behaves exactly like Supabase's.
   */
  switchboard: ResumeRequest | null
}

export type JoinPayloadResult = { ok: true; value: JoinPayload } | { ok: false; error: RealtimeError }

const MAX_BINDINGS = 100
const MAX_PRESENCE_KEY_LENGTH = 1_000

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function readBoolean(value: unknown, fallback: boolean): boolean | undefined {
  if (value === undefined || value === null) return fallback
  if (typeof value === 'boolean') return value
  if (typeof value === 'string') {
    const lower = value.toLowerCase()
    if (lower === 'true') return true
    if (lower === 'false') return false
  }
  return undefined
}

function invalid(detail: string): JoinPayloadResult {
  return { ok: false, error: new RealtimeError(ErrorCode.InvalidJoinPayload, detail) }
}

function readObject(parent: Record<string, unknown>, key: string): Record<string, unknown> | null | undefined {
  const value = parent[key]
  if (value === undefined || value === null) return null
  return isObject(value) ? value : undefined
}

export function parseJoinPayload(raw: unknown): JoinPayloadResult {
  const payload = raw ?? {}
  if (!isObject(payload)) return invalid('join payload must be an object')

  const config = readObject(payload, 'config')
  if (config === undefined) return invalid('`config` must be an object')
  const broadcast = config ? readObject(config, 'broadcast') : null
  if (broadcast === undefined) return invalid('`config.broadcast` must be an object')
  const presence = config ? readObject(config, 'presence') : null
  if (presence === undefined) return invalid('`config.presence` must be an object')

  const self = readBoolean(broadcast?.self, false)
  const ack = readBoolean(broadcast?.ack, false)
  const presenceEnabled = readBoolean(presence?.enabled, false)
  const isPrivate = readBoolean(config?.private, false)
  if (self === undefined || ack === undefined || presenceEnabled === undefined || isPrivate === undefined) {
    return invalid('`self`, `ack`, `enabled` and `private` must be booleans')
  }

  const key = presence?.key ?? ''
  if (typeof key !== 'string' && typeof key !== 'number') return invalid('`config.presence.key` must be a string')
  const presenceKey = String(key)
  if (presenceKey.length > MAX_PRESENCE_KEY_LENGTH) return invalid(`\`config.presence.key\` is longer than ${MAX_PRESENCE_KEY_LENGTH} characters`)

  const rawBindings = config?.postgres_changes ?? []
  if (!Array.isArray(rawBindings)) return invalid('`config.postgres_changes` must be an array')
  if (rawBindings.length > MAX_BINDINGS) return invalid(`at most ${MAX_BINDINGS} postgres_changes bindings per channel`)
  if (!rawBindings.every(isObject)) return invalid('every `config.postgres_changes` entry must be an object')

  const replayRaw = broadcast ? readObject(broadcast, 'replay') : null
  if (replayRaw === undefined) return invalid('`config.broadcast.replay` must be an object')
  let replay: JoinConfig['broadcast']['replay'] = null
  if (replayRaw) {
    const since = replayRaw.since ?? 0
    const limit = replayRaw.limit ?? REPLAY_LIMIT_MAX
    if (typeof since !== 'number' || !Number.isFinite(since) || since < 0) return invalid('`config.broadcast.replay.since` must be a unix time in milliseconds')
    if (typeof limit !== 'number' || !Number.isInteger(limit)) return invalid('`config.broadcast.replay.limit` must be an integer')
    replay = { since, limit: Math.min(Math.max(limit, 1), REPLAY_LIMIT_MAX) }
  }
  const replicationReady = readBoolean(broadcast?.replication_ready, false)
  if (replicationReady === undefined) return invalid('`config.broadcast.replication_ready` must be a boolean')

  const optionsRaw = config ? readObject(config, 'postgres_changes_options') : null
  if (optionsRaw === undefined) return invalid('`config.postgres_changes_options` must be an object')
  const wait = readBoolean(optionsRaw?.wait, false)
  const timeout = optionsRaw?.timeout ?? POSTGRES_CHANGES_WAIT_DEFAULT_MS
  if (wait === undefined) return invalid('`config.postgres_changes_options.wait` must be a boolean')
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) return invalid('`config.postgres_changes_options.timeout` must be a positive number of milliseconds')

  const token = payload.access_token ?? payload.user_token ?? null
  if (token !== null && typeof token !== 'string') return invalid('`access_token` must be a string')

  const switchboard = parseResumeRequest(payload[RESUME_KEY])
  if (switchboard === undefined) return invalid('`switchboard` must be {session?: string, resume?: {epoch: string, position: integer >= 0, lsn?: stream point}}')

  return {
    ok: true,
    value: {
      switchboard,
      config: {
        broadcast: { self, ack, replay, replicationReady },
        presence: { key: presenceKey, enabled: presenceEnabled },
        postgresChanges: rawBindings,
        private: isPrivate,
        postgresChangesOptions: { wait, timeoutMs: Math.min(timeout, POSTGRES_CHANGES_WAIT_MAX_MS) },
      },
      accessToken: token,
    },
  }
}
