/**
 * `config.broadcast.replication_ready` (§3.7): once the tenant's replication connection is up,
 * the channel gets `system "Replication connection established"`; if it is not up within 60 s
 * the channel is shut down with Supabase's message.
 */
import { ErrorCode } from '@switchboard/protocol'
import type { ChannelPort } from './channel-port.js'

export const REPLICATION_READY_TIMEOUT_MS = 60_000

export function announceReplicationReady(port: ChannelPort, timeoutMs = REPLICATION_READY_TIMEOUT_MS): void {
  if (!port.config.broadcast.replicationReady) return
  const engine = port.tenant.postgresChanges
  const { clock } = port.tenant
  let settled = false
  const timer = clock.setTimeout(() => {
    if (settled) return
    settled = true
    port.tenant.metrics.countError(ErrorCode.ReplicationConnectionTimeout)
    port.shutdown('Replication connection was not established in time')
  }, engine ? timeoutMs : 0)
  if (!engine) return
  void engine.whenStreaming().then(() => {
    if (settled) return
    settled = true
    clock.clearTimeout(timer)
    if (port.isJoined) port.push('system', { extension: 'system', status: 'ok', message: 'Replication connection established', channel: port.subTopic })
  })
}
