/**
 * @switchboard/server: a Supabase-Realtime-compatible server (Broadcast, Presence, Postgres
 * Changes) that the official `@supabase/supabase-js` client talks to unchanged.
 *
 * @example
 * ```ts
 * import { startSwitchboard } from '@switchboard/server'
 * const server = await startSwitchboard({ port: 4000 })   // embedded Postgres under .switchboard/
 * // createClient(server.url, server.anonKey).channel('room1').subscribe()
 * ```
 */
export { startSwitchboard, type SwitchboardOptions, type RunningSwitchboard } from './server.js'
export { DEFAULT_LIMITS, resolveLimits, type Limits } from './limits.js'
export { DEFAULT_LOG_LIMITS, DEFAULT_LOG_LIMITS as DEFAULT_REPLAY_LIMITS, type LogLimits, type LogLimits as ReplayLimits } from './hub/delivery-log.js'
export { createLogger, silentLogger, type Logger } from './logger.js'
export { signToken, createDevKeys, DEV_JWT_SECRET } from './auth/dev-keys.js'
export type { Clock } from './clock.js'
export type { ClusterAdapter, ClusterMessage } from './cluster/cluster-adapter.js'
export type * from './inspect/api-types.js'
export { START_OPTIONS, START_OPTIONS_HELP, LOG_LEVELS, UsageError, resolveStartFlags, redactPassword, type StartFlags, type LogLevel } from './start-options.js'
