/**
 * @switchboard/client: the realtime channel manager for Supabase Realtime and Switchboard.
 *
 * Module-level helpers act on one manager set up by {@link configureRealtime}; create more with
 * `new ChannelManager()` (tests, several projects).
 *
 * @example
 * ```ts
 * import { configureRealtime, subscribeToEntity, joinPresence, broadcast, cleanupAllChannels } from '@switchboard/client'
 *
 * configureRealtime({ url: 'http://127.0.0.1:4000', apiKey: ANON_KEY, accessToken: async () => session.token })
 * const channel = await subscribeToEntity({ entityType: 'contact', entityId: '123', onChange: refetch })
 * await joinPresence({ entityType: 'project', entityId: 'p-456', user: { id, name }, onSync: setUsers })
 * await broadcast({ entityType: 'document', entityId: 'doc-789', event: 'cursor-move', payload: { x, y } })
 * cleanupAllChannels() // on logout
 * ```
 */
import { createError } from './errors.js'
import type { EntityChannel, PresenceLease } from './leases.js'
import { ChannelManager, type BroadcastOptions, type JoinPresenceOptions, type RealtimeConfig, type SubscribeToEntityOptions } from './manager.js'
import type { EntityRef } from './naming.js'
import type { PresenceMetadata } from './presence.js'

export { ChannelManager, realtimeEndpoint } from './manager.js'
export type { RealtimeConfig, RealtimePlugin, PluginHost, SubscribeToEntityOptions, JoinPresenceOptions, BroadcastOptions, ChannelStats, ManagerStats } from './manager.js'
export type { ReconnectOptions, LifecycleHandlers, GapEvent, ChangeHandlers, PositionedChange, BroadcastMessage, PresenceHandlers, ChannelInfo } from './types.js'
export { EntityChannel, PresenceLease } from './leases.js'
export type { ConnectionSnapshot, ConnectionPort, AccessTokenFn } from './connection.js'
export { Status, transition, isGap } from './status.js'
export type { StatusEvent } from './status.js'
export { ErrorCodes, SwitchboardError, normalizeError } from './errors.js'
export type { ErrorCode } from './errors.js'
export { createLogger, silentLogger, redact, redactString, REDACTED } from './logger.js'
export type { Logger, LogLevel, LogRecord, LogSink, LogFields } from './logger.js'
export { systemClock } from './clock.js'
export type { Clock, TimerHandle } from './clock.js'
export { fullJitterDelay, backoffCeiling, DEFAULT_BACKOFF, DEFAULT_CONNECTION_RETRY } from './backoff.js'
export type { BackoffPolicy } from './backoff.js'
export { channelName, postgresSpecFor, ChannelKinds } from './naming.js'
export type { ChannelKind, EntityRef, PostgresSpec, PostgresEvent } from './naming.js'
export { checkBroadcastPayload, DEFAULT_MAX_PAYLOAD_BYTES } from './payload.js'
export { DEFAULT_BROADCAST_RATE } from './rate-limiter.js'
export type { RateLimit } from './rate-limiter.js'
export type { PresenceUser, PresenceUserInput, PresenceMetadata } from './presence.js'
export type { ReadableStore, Listener } from './store.js'
export type { LostKind, GapReason, ResumeCode, MessageMark, StreamPoint } from '@switchboard/protocol'
export { parsePgLsn, parseStreamPoint } from '@switchboard/protocol'

let current: ChannelManager | undefined

/**
 * Sets up the shared manager (replacing, and cleaning up, a previous one) and returns it.
 *
 * @example
 * ```ts
 * configureRealtime({ url: 'http://127.0.0.1:4000', apiKey: ANON_KEY, accessToken: async () => session.token })
 * configureRealtime({ client: supabase.realtime }) // adopt an existing client
 * ```
 */
export function configureRealtime(config: RealtimeConfig): ChannelManager {
  return setChannelManager(new ChannelManager(config))
}

/**
 * Makes `manager` the shared one that the module-level helpers use (replacing, and cleaning up,
 * a previous one) and returns it: for managers created with `new ChannelManager()` or by
 * `@switchboard/client/tabs`.
 */
export function setChannelManager(manager: ChannelManager): ChannelManager {
  const previous = current
  current = manager
  if (previous && previous !== manager) void previous.destroy()
  return current
}

/**
 * The shared manager; throws `NOT_CONFIGURED` before {@link configureRealtime}.
 *
 * @example
 * ```ts
 * getChannelManager().getChannelStats() // { total, byType: { subscription, presence }, byStatus: { … } }
 * ```
 */
export function getChannelManager(): ChannelManager {
  if (!current) throw createError('NOT_CONFIGURED', 'call configureRealtime() before using the realtime helpers')
  return current
}

/**
 * Subscribes to one entity's row changes. See {@link ChannelManager.subscribeToEntity}.
 *
 * @example
 * ```ts
 * const channel = await subscribeToEntity({ entityType: 'contact', entityId: '123',
 *   onInsert, onUpdate, onDelete, onChange, onStatusChange, onError })
 * channel.on('broadcast', { event: 'cursor-move' }, ({ payload }) => draw(payload))
 * channel.release()
 * ```
 */
export function subscribeToEntity<Row extends Record<string, unknown> = Record<string, unknown>>(options: SubscribeToEntityOptions<Row>): Promise<EntityChannel> {
  return getChannelManager().subscribeToEntity(options)
}

/**
 * Joins an entity's presence channel. See {@link ChannelManager.joinPresence}.
 *
 * @example
 * ```ts
 * await joinPresence({ entityType: 'project', entityId: 'p-456', user: { id, name, email, avatar },
 *   metadata: { role: 'editor' }, onSync: (users) => setUsers(users) })
 * ```
 */
export function joinPresence<M extends PresenceMetadata = PresenceMetadata>(options: JoinPresenceOptions<M>): Promise<PresenceLease<M>> {
  return getChannelManager().joinPresence(options)
}

/**
 * Leaves an entity's presence channel (every presence lease of the shared manager on it);
 * resolves once the channel has left. See {@link ChannelManager.leavePresence}.
 *
 * @example
 * ```ts
 * await leavePresence('contact', '123')
 * await leavePresence('contact', '123', 'tenant-abc')
 * await leavePresence({ entityType: 'project', entityId: 'p-456' })
 * ```
 */
export function leavePresence(entityType: string, entityId: string, tenantId?: string): Promise<void>
export function leavePresence(ref: EntityRef): Promise<void>
export function leavePresence(typeOrRef: string | EntityRef, entityId?: string, tenantId?: string): Promise<void> {
  const manager = getChannelManager()
  return typeof typeOrRef === 'string' ? manager.leavePresence(typeOrRef, entityId as string, tenantId) : manager.leavePresence(typeOrRef)
}

/**
 * Broadcasts an event on an entity's channel. See {@link ChannelManager.broadcast}.
 *
 * @example
 * ```ts
 * await broadcast({ entityType: 'document', entityId: 'doc-789', event: 'cursor-move', payload: { x, y } })
 * ```
 */
export function broadcast<P = unknown>(options: BroadcastOptions<P>): Promise<void> {
  return getChannelManager().broadcast(options)
}

/**
 * Releases every lease and closes the socket of the shared manager (logout). No-op before
 * {@link configureRealtime}.
 *
 * @example
 * ```ts
 * await cleanupAllChannels()
 * ```
 */
export function cleanupAllChannels(): Promise<void> {
  return current ? current.cleanupAll() : Promise.resolve()
}
