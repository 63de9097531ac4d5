/**
 * @switchboard/react: React bindings for Switchboard / Supabase Realtime, and TanStack Query sync.
 *
 * @example
 * ```tsx
 * <RealtimeProvider config={{ url, apiKey: ANON_KEY, accessToken: getToken }}>
 *   <QueryClientProvider client={queryClient}><App /></QueryClientProvider>
 * </RealtimeProvider>
 *
 * const calls = useRealtimeQuery({ queryKey: ['calls'], queryFn: fetchCalls, realtime: { table: 'calls' }, mode: 'patch' })
 * ```
 */
export { RealtimeProvider, useRealtimeManager } from './provider.js'
export type { RealtimeProviderProps } from './provider.js'
export { useConnectionStatus } from './use-connection-status.js'
export type { ConnectionStatusOptions, ConnectionStatusResult } from './use-connection-status.js'
export { useEntityChanges, usePostgresChanges } from './use-entity-changes.js'
export type { EntityChangeHandlers, SubscriptionResult } from './use-entity-changes.js'
export type { Change } from './use-entity-lease.js'
export { usePresence } from './use-presence.js'
export type { PresenceResult } from './use-presence.js'
export { useBroadcast, useBroadcastSender } from './use-broadcast.js'
export { useRealtimeSync, useRealtimeQuery } from './use-realtime-sync.js'
export type { RealtimeSyncOptions, RealtimeQueryOptions } from './use-realtime-sync.js'
export { useLiveQuery, applyLive } from './use-live-query.js'
export type { LoadedRows, LiveRows, LiveQueryOptions } from './use-live-query.js'
export { applyChanges, UNPATCHABLE } from './cache-patch.js'
export type { PatchOptions } from './cache-patch.js'
export type { EnabledOption, EntityRef, EntitySpec, PostgresBinding } from './types.js'
