/**
 * Postgres Changes in a cluster, wired to Redis: the slot reader is elected with a lease
 * (leader-lease.ts) whose term guards every append of a run (redis-tenant-log.ts
 * `appendChanges`), so a reader that lost its lease can never append after its successor.
 */
import type { SharedChanges } from '../cdc/postgres-changes-service.js'
import type { Logger } from '../logger.js'
import type { Clock } from '../clock.js'
import { LeaderLease } from './leader-lease.js'
import type { RedisNode } from './redis-node.js'
import type { RedisTenantLog } from './redis-tenant-log.js'

export interface SharedChangesOptions {
  node: RedisNode
  log: RedisTenantLog
  /** Starts receiving runs; resolves with the position after which every run arrives (the hub's `hostChanges`). */
  hostChanges: () => Promise<number>
  logger: Logger
  clock: Clock
  /** The reader lease's time to live (fail-over within about 1.4 × this after a crash). Default 5 s. */
  leaseTtlMs?: number
}

export function redisSharedChanges(options: SharedChangesOptions): SharedChanges {
  const { node, log } = options
  const lease = new LeaderLease({
    redis: node.command,
    key: log.readerLeaseKey,
    nodeId: node.id,
    logger: options.logger,
    clock: options.clock,
    ...(options.leaseTtlMs ? { ttlMs: options.leaseTtlMs } : {}),
  })
  return {
    async elect(onTerm) {
      lease.onChange((role, token) => onTerm(role === 'leader' ? token : null))
      await lease.start()
    },
    appendChanges: (run, term, firstPoint, lastPoint) => log.appendChanges(run, term, firstPoint, lastPoint),
    newestChangePoint: () => log.newestChangePoint(),
    hostChanges: options.hostChanges,
    stop: () => lease.stop(),
  }
}
