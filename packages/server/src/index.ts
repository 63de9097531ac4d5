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
export type { ClusterAdapter, ClusterSink } from './cluster/cluster-adapter.js'
export type * from './inspect/api-types.js'
export { START_OPTIONS, START_OPTIONS_HELP, LOG_LEVELS, UsageError, resolveStartFlags, redactPassword, type StartFlags, type LogLevel } from './start-options.js'
export { TENANT_OPTIONS, TENANT_OPTIONS_HELP, resolveTenantFlags, type TenantFlags } from './start-options.js'
export { TenantRegistry, tenantSlotName, TENANT_GONE_CLOSE } from './tenant/tenant-registry.js'
export { TenantSlot, TenantState, TenantRefusedError, type TenantRefusal } from './tenant/tenant-slot.js'
export { TENANT_LIMIT_FIELDS, DEFAULT_TENANT_ID, type TenantConfig, type TenantLimitName } from './tenant/tenant-config.js'
export type { TenantStore } from './tenant/tenant-store.js'
export { parseSecretsKey } from './tenant/secret-box.js'
export { DEFAULT_CONTROL_DATABASE, type TenantsOptions } from './server.js'
