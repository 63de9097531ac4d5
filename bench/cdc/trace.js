/**
 * Stage trace for the Postgres Changes bench (server-proc.js loads it when BENCH_TRACE=1).
 * Wraps public seams of the built engine (no engine change) and records, per change, the time
 * since the writer's `sent_at` at each stage, in histograms:
 *   receipt   the replication stream handed the transaction over (writer → commit → walsender → us)
 *   dispatch  the dispatcher started on the batch holding it (queueing in the service)
 *   authz     the RLS round trip of that batch finished
 *   enqueued  the dispatcher returned (frames queued on every socket)
 *   flushed   the first socket flush after that (the outbound scheduler's turn)
 * plus batch sizes and the RLS round-trip durations.
 */
import { LatencyHistogram } from '../lib/histogram.js'

const now = () => performance.timeOrigin + performance.now()
const stages = ['receipt', 'dispatch', 'authz', 'enqueued', 'flushed', 'authzMs', 'dispatchMs', 'batchChanges']
const h = Object.fromEntries(stages.map((s) => [s, new LatencyHistogram()]))
const receivedAt = new Map()
let pendingFlush = []

function sentAt(change) {
  const v = change.value?.('sent_at')
  return v == null ? null : Number(v)
}

export async function install(dist) {
  const { ReplicationStream } = await import(new URL('cdc/replication-stream.js', dist).href)
  const { ChangeDispatcher } = await import(new URL('cdc/change-dispatcher.js', dist).href)
  const { RlsAuthorizer } = await import(new URL('cdc/rls-authorizer.js', dist).href)
  const { FlushScheduler, OutboundQueue } = await import(new URL('socket/outbound-queue.js', dist).href)

  const start = ReplicationStream.prototype.start
  ReplicationStream.prototype.start = function () {
    const onTransaction = this.options.onTransaction
    this.options.onTransaction = (txn) => {
      receivedAt.set(txn.commitLsn, now())
      onTransaction(txn)
    }
    return start.call(this)
  }

  let authzDone = 0
  const authorize = RlsAuthorizer.prototype.authorize
  RlsAuthorizer.prototype.authorize = async function (requests) {
    const t = now()
    const r = await authorize.call(this, requests)
    authzDone = now()
    if (requests.length > 0) h.authzMs.record(Math.round((authzDone - t) * 1000))
    return r
  }

  const dispatch = ChangeDispatcher.prototype.dispatch
  ChangeDispatcher.prototype.dispatch = async function (changes, sequence) {
    const t0 = now()
    authzDone = 0
    const sents = changes.map(sentAt)
    const r = await dispatch.call(this, changes, sequence)
    const t1 = now()
    h.dispatchMs.record(Math.round((t1 - t0) * 1000))
    h.batchChanges.record(changes.length * 1000)
    changes.forEach((c, i) => {
      const s = sents[i]
      if (s === null) return
      const rx = receivedAt.get(c.position.lsn)
      if (rx !== undefined) h.receipt.record(Math.round((rx - s) * 1000))
      h.dispatch.record(Math.round((t0 - s) * 1000))
      if (authzDone) h.authz.record(Math.round((authzDone - s) * 1000))
      h.enqueued.record(Math.round((t1 - s) * 1000))
      pendingFlush.push(s)
    })
    for (const c of changes) receivedAt.delete(c.position.lsn)
    return r
  }

  // The first socket flush after a dispatch: record when its changes left the server.
  const flush = OutboundQueue.prototype.flush
  OutboundQueue.prototype.flush = function (shared) {
    if (pendingFlush.length > 0) {
      const t = now()
      for (const s of pendingFlush) h.flushed.record(Math.round((t - s) * 1000))
      pendingFlush = []
    }
    return flush.call(this, shared)
  }
  void FlushScheduler
}

export function collect(reset) {
  const out = {}
  for (const s of stages) out[s] = { n: h[s].total, p50: h[s].quantileMs(0.5), p99: h[s].quantileMs(0.99), max: h[s].quantileMs(1) }
  if (reset) for (const s of stages) h[s].reset()
  return out
}
