/**
 * `@switchboard/client/logging`: the lifecycle log lines as an opt-in plug-in.
 *
 * The core logs only what nothing else reports: a handler that threw, a presence update that
 * failed, and realtime-js's own lines (at `debug`). The lifecycle lines (socket connected, lost,
 * given up, token refresh failed; a channel broke; a channel back after a break) are read by
 * {@link debugLogging} from the manager's stores and events, so apps that do not log them do not
 * ship their text.
 *
 *   connectionStore  → connected (info), connection lost (warn), gave up (error), token refresh failed (error)
 *   statsStore       → channel broke (warn), when a channel leaves `connected` or ends in `error`
 *   onGap/onRecover  → channel resumed / channel back after a gap (info)
 *
 * @example
 * ```ts
 * import { configureRealtime, createLogger } from '@switchboard/client'
 * import { debugLogging } from '@switchboard/client/logging'
 *
 * configureRealtime({ url, apiKey, logger: createLogger({ level: 'info', sink }), plugins: [debugLogging()] })
 * ```
 */
import type { ConnectionSnapshot } from './connection.js'
import type { Logger } from './logger.js'
import type { RealtimePlugin } from './manager.js'
import type { Status } from './status.js'
import type { GapEvent } from './types.js'

/**
 * The plug-in that logs the connection's and the channels' lifecycle to `logger` (default: the
 * manager's `logger`). Pass it in `plugins` of `configureRealtime` / `new ChannelManager()`.
 */
export function debugLogging(logger?: Logger): RealtimePlugin {
  return ({ manager, logger: configured, channels }) => {
    const log = logger ?? configured
    const { connectionStore, statsStore } = manager
    let connection: ConnectionSnapshot = connectionStore.getSnapshot()
    let reopened = connection.status === 'connected'
    const offConnection = connectionStore.subscribe(() => {
      const before = connection
      const now = (connection = connectionStore.getSnapshot())
      const error = now.lastError as (Error & { code?: string }) | undefined
      if (error !== before.lastError && error?.code === 'AUTH_FAILED') log.error(error.message, { error: error.cause })
      if (now.status === before.status) return
      if (now.status === 'connected') {
        log.info('connected', { reopened })
        reopened = true
      } else if (now.status === 'reconnecting') {
        log.warn('connection lost', { reason: error?.message })
      } else if (now.status === 'error') {
        log.error(error?.message ?? 'the connection gave up')
      }
    })

    // Statuses by channel name: a channel that leaves `connected` (or ends in `error`) broke.
    const statuses = new Map<string, Status>()
    const offStats = statsStore.subscribe(() => {
      const seen = new Set<string>()
      for (const channel of channels()) {
        const status = channel.status.getSnapshot()
        const before = statuses.get(channel.name)
        seen.add(channel.name)
        statuses.set(channel.name, status)
        if (status !== before && (status === 'error' || (before === 'connected' && status === 'reconnecting'))) {
          log.warn('channel broke', { channel: channel.name, status, message: channel.lastError?.message })
        }
      }
      for (const name of statuses.keys()) if (!seen.has(name)) statuses.delete(name)
    })

    const back = ({ channel, resumed, resume, lost }: GapEvent) => log.info(resumed ? 'channel resumed' : 'channel back after a gap', { channel, resume, lost })
    const offGap = manager.onGap(back)
    const offRecover = manager.onRecover(back)
    return () => {
      offConnection()
      offStats()
      offGap()
      offRecover()
    }
  }
}
