/**
 * The delivery trace of one message, as an operator reads it: for every subscriber of its topic
 * (broadcasts) or table (changes), what happened and why. Computed when asked, from what the
 * recorder kept (traced-message.ts) and the state of the connections now:
 *
 *   delivered          written to the socket; latency from fan-out/routing to the flush
 *                      (and, for changes, from the commit)
 *   queued             handed to the socket, not written yet
 *   filtered_out       bindings on the table, none matching: the event or the failing filter
 *   not_authorized     RLS hid the row (role + the claims the policies read, never the token),
 *                      no SELECT privilege, or a private channel without read permission
 *   error_payload      Supabase's 400/401 payload instead of the record
 *   quarantined        its RLS check raised (now or earlier): no changes until it rejoins or
 *                      refreshes its token (cdc/rls-quarantine.ts)
 *   excluded_sender    the sender itself, with `broadcast.self` false
 *   slow_consumer      the socket overflowed its outbound bound before the frame was written
 *   connection_closed  the socket closed before the frame was written
 *   joined_after       subscribed at a later position: not owed this message
 *   not_subscribed     subscribed to the table now, but not when the change was routed
 *   replayed           delivered from the log when the channel resumed (or caught up at join)
 *   gap                the channel resumed into a gap covering the message: it must refetch
 *   rate_limited / payload_too_large / not_authorized (write): the sender's message was refused
 */
import { ResumeCode } from '@switchboard/protocol'
import type { MessageSummary, PolicyContext, TraceReport, Verdict, VerdictKind } from './api-types.js'
import type { Channel } from '../channel/channel.js'
import type { SubscriberEntry } from '../cdc/change-dispatcher.js'
import type { ClaimPaths } from '../cdc/policy-claims.js'
import type { ExplainableBinding } from './filter-explain.js'
import { explainMismatch } from './filter-explain.js'
import { previewJson, redactValue } from './payload-preview.js'
import type { SubscriberView } from './api-types.js'
import { authOf, channelOf, connectionOf, subscriberView, unknownSubscriber } from './subscriber-view.js'
import { broadcastCounts, wallTime, type TracedChange, type TracedMessage } from './traced-message.js'

/** What the verdicts need from the live server: the channels subscribed to changes now, with their registration. */
export interface VerdictContext {
  changeSubscribers(): Iterable<{ channel: Channel; cursor: number; bindings: readonly ExplainableBinding[]; quarantined: boolean }>
}

/** Verdicts that are not delivery, first: what an operator looks for. */
const ORDER: VerdictKind[] = [
  'not_authorized', 'quarantined', 'filtered_out', 'slow_consumer', 'gap', 'rate_limited', 'payload_too_large', 'connection_closed', 'error_payload',
  'queued', 'joined_after', 'not_subscribed', 'excluded_sender', 'replayed', 'delivered',
]

const PER_TOKEN_CLAIMS = new Set(['exp', 'iat', 'nbf', 'jti'])
const round = (ms: number) => Math.round(ms * 100) / 100

export function traceReport(message: TracedMessage, context: VerdictContext, limit = 1_000): TraceReport {
  const verdicts: Verdict[] = []
  const base = { id: message.id, position: message.position, kind: message.kind, at: new Date(wallTime(message)).toISOString() }
  let report: Omit<TraceReport, 'summary' | 'verdicts' | 'omitted'>
  if (message.kind === 'broadcast') {
    report = { ...base, topic: message.topicKey, event: message.event, source: message.source, preview: message.preview }
    for (const subscriber of message.audience.subscribers) {
      const channel = channelOf(subscriber)
      const view = channel ? subscriberView(channel) : unknownSubscriber()
      // The fan-out's order of tests (topic-registry.ts #deliver): the sender first, then read permission.
      if (subscriber === message.sender) verdicts.push({ verdict: 'excluded_sender', subscriber: view, detail: 'the sender itself: its channel has broadcast.self off' })
      else if (message.audience.unauthorized?.has(subscriber)) verdicts.push(privateReadDenied(view, channel))
      else verdicts.push(delivery(message, channel, view))
    }
  } else if (message.kind === 'change') {
    const change = message.change
    report = {
      ...base, topic: message.table, event: change.type, type: change.type, primaryKey: primaryKeyOf(change),
      commitTimestamp: change.commitTimestamp, preview: previewJson(change.record ?? change.oldRecord),
    }
    changeVerdicts(message, context, verdicts)
  } else {
    report = { ...base, topic: message.topicKey, event: message.event, preview: message.preview }
    const channel = channelOf(message.channel)
    const view = channel ? subscriberView(channel) : unknownSubscriber()
    const reason = message.reason
    if (reason.kind === 'rate_limited') verdicts.push({ verdict: 'rate_limited', subscriber: view, detail: `refused from the sender: over ${reason.limit} client events per second on its socket (the channel was shut down)` })
    else if (reason.kind === 'payload_too_large') verdicts.push({ verdict: 'payload_too_large', subscriber: view, detail: `refused from the sender: ${reason.bytes} bytes, the limit is ${reason.limit}` })
    else verdicts.push({ verdict: 'not_authorized', subscriber: view, detail: 'refused from the sender: no write permission on this private channel (RLS INSERT on realtime.messages)', policy: writeContext(channel) })
  }
  for (const later of message.later ?? []) {
    const channel = channelOf(later.channel)
    const view = channel ? subscriberView(channel) : unknownSubscriber()
    if (later.kind === 'replayed') {
      const how = later.code === ResumeCode.fresh ? 'caught up from the log at join' : 'replayed from the log after a resume'
      verdicts.push({ verdict: 'replayed', subscriber: view, detail: how })
    } else {
      verdicts.push({ verdict: 'gap', subscriber: view, detail: `resumed into a gap (${later.reason ?? 'unknown'}) covering this message: the client was told to refetch` })
    }
  }
  const summary: Partial<Record<VerdictKind, number>> = {}
  for (const v of verdicts) summary[v.verdict] = (summary[v.verdict] ?? 0) + 1
  verdicts.sort((a, b) => ORDER.indexOf(a.verdict) - ORDER.indexOf(b.verdict))
  return { ...report, summary, verdicts: verdicts.slice(0, limit), omitted: Math.max(0, verdicts.length - limit) }
}

function changeVerdicts(message: TracedChange, context: VerdictContext, verdicts: Verdict[]): void {
  const matchedSinks = new Set<unknown>()
  const entries = message.matches?.entries ?? []
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    matchedSinks.add(entry.sink)
    const channel = channelOf(entry.sink)
    const view = channel ? subscriberView(channel) : unknownSubscriber()
    const ids = message.matches!.bindingIds[i]!
    const bindingIds = typeof ids === 'number' ? [ids] : [...ids]
    const exception = message.exceptions?.get(entry)
    if (!exception) {
      verdicts.push({ ...delivery(message, channel, view), bindingIds })
      continue
    }
    switch (exception.kind) {
      case 'joined_after':
        verdicts.push({ verdict: 'joined_after', subscriber: view, detail: `subscribed at position ${exception.cursor}, after this change (${message.position}): not owed it`, bindingIds })
        break
      case 'no_select_privilege':
        verdicts.push({ verdict: 'not_authorized', subscriber: view, detail: `role ${exception.role} has no SELECT privilege on ${message.table}`, bindingIds, policy: { check: `SELECT privilege on ${message.table}`, role: exception.role, claims: null } })
        break
      case 'rls_error':
        verdicts.push({
          verdict: 'quarantined', subscriber: view, bindingIds,
          detail: exception.message === null
            ? 'quarantined: an earlier RLS check of this subscriber raised an error; it gets no changes until it rejoins or refreshes its token'
            : `its RLS check raised an error (${exception.message}); quarantined until it rejoins or refreshes its token`,
        })
        break
      case 'error_payload':
        verdicts.push({ ...delivery(message, channel, view), verdict: 'error_payload', detail: `delivered Supabase's error payload instead of the record: ${exception.error}`, bindingIds })
        break
      case 'rls_denied': {
        const row = exception.row === 'old' ? 'the old row (DELETE)' : 'the row'
        verdicts.push({
          verdict: 'not_authorized', subscriber: view, bindingIds,
          detail: `RLS: ${message.table}'s policies do not let role ${exception.role} see ${row}`,
          policy: policyContext(`table ${message.table} (${exception.row === 'old' ? 'old row' : 'new row'})`, exception.role, entry, exception.claimPaths, { schema: message.change.schema, table: message.change.table }),
        })
        break
      }
    }
  }
  // Who listens to the table now but was not matched: why (event, filter), or that they came later.
  for (const { channel, cursor, bindings, quarantined } of context.changeSubscribers()) {
    if (matchedSinks.has(channel)) continue
    const explanation = explainMismatch(message.change, bindings)
    if (explanation === null) continue
    const view = subscriberView(channel)
    if (explanation.matches && quarantined) verdicts.push({ verdict: 'quarantined', subscriber: view, detail: 'quarantined: an earlier RLS check of this subscriber raised an error; it gets no changes until it rejoins or refreshes its token', bindingIds: explanation.bindingIds })
    else if (!explanation.matches) verdicts.push({ verdict: 'filtered_out', subscriber: view, detail: explanation.condition, condition: explanation.condition })
    else if (cursor >= message.position) verdicts.push({ verdict: 'joined_after', subscriber: view, detail: `subscribed at position ${cursor}, after this change (${message.position}): not owed it`, bindingIds: explanation.bindingIds })
    else verdicts.push({ verdict: 'not_subscribed', subscriber: view, detail: 'its bindings match, but it was not subscribed when the change was routed (still joining, or it changed its bindings)', bindingIds: explanation.bindingIds })
  }
}

/** Delivered, queued, or lost with its socket: from the connection's state against the message's flush. */
function delivery(message: TracedMessage, channel: Channel | null, view: SubscriberView): Verdict {
  const connection = channel ? connectionOf(channel) : null
  const written = message.flushedAt ?? Infinity
  if (connection?.slowConsumerAt != null && connection.slowConsumerAt <= written) {
    return { verdict: 'slow_consumer', subscriber: view, detail: 'dropped: the socket was disconnected as a slow consumer (outbound buffer over maxBufferedBytesPerSocket) before the frame was written' }
  }
  if (connection?.closedAt != null && connection.closedAt <= written) {
    return { verdict: 'connection_closed', subscriber: view, detail: 'dropped: the socket closed before the frame was written' }
  }
  if (message.flushedAt === null) return { verdict: 'queued', subscriber: view, detail: 'handed to the socket, not written yet' }
  const latencyMs = round(message.flushedAt - message.t0)
  const verdict: Verdict = { verdict: 'delivered', subscriber: view, detail: `written to the socket ${latencyMs} ms after ${message.kind === 'change' ? 'routing' : 'fan-out'}`, latencyMs }
  if (message.kind === 'change') {
    const committed = Date.parse(message.change.commitTimestamp)
    if (Number.isFinite(committed)) verdict.sinceCommitMs = round(performance.timeOrigin + message.flushedAt - committed)
  }
  return verdict
}

function privateReadDenied(view: SubscriberView, channel: Channel | null): Verdict {
  const auth = channel ? authOf(channel) : null
  return {
    verdict: 'not_authorized', subscriber: view,
    detail: 'private channel without broadcast read permission (RLS SELECT on realtime.messages, checked at join)',
    policy: { check: 'realtime.messages (broadcast read)', role: auth?.role ?? 'unknown', claims: null, claimNames: claimNames(auth?.claims), table: { schema: 'realtime', table: 'messages' } },
  }
}

function writeContext(channel: Channel | null): PolicyContext {
  const auth = channel ? authOf(channel) : null
  return { check: 'realtime.messages (broadcast write)', role: auth?.role ?? 'unknown', claims: null, claimNames: claimNames(auth?.claims), table: { schema: 'realtime', table: 'messages' } }
}

function policyContext(check: string, role: string, entry: SubscriberEntry, paths: ClaimPaths | null | undefined, table: { schema: string; table: string }): PolicyContext {
  if (!paths) return { check, role, claims: null, claimNames: claimNames(entry.auth.claims), table }
  const claims: Record<string, unknown> = {}
  for (const path of paths) {
    let value: unknown = entry.auth.claims
    for (const key of path) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined
    claims[path.join('.')] = redactValue(value ?? null)
  }
  return { check, role, claims, table }
}

function claimNames(claims: Readonly<Record<string, unknown>> | undefined): string[] {
  return claims ? Object.keys(claims).filter((name) => !PER_TOKEN_CLAIMS.has(name)).sort() : []
}

/** The change's key columns and their values (new row; old or identity for a DELETE). */
export function primaryKeyOf(change: TracedChange['change']): Record<string, string | null> {
  const key: Record<string, string | null> = {}
  for (const column of change.relation.columns) if (column.isKey) key[column.name] = change.value(column.name) ?? null
  return key
}

export function messageSummary(message: TracedMessage): MessageSummary {
  const at = new Date(wallTime(message)).toISOString()
  if (message.kind === 'broadcast') {
    const { recipients, skipped } = broadcastCounts(message)
    return { id: message.id, position: message.position, kind: message.kind, topic: message.topicKey, event: message.event, at, preview: message.preview, recipients, exceptions: skipped }
  }
  if (message.kind === 'change') {
    const change = message.change
    return {
      id: message.id, position: message.position, kind: message.kind, topic: message.table, event: change.type, at,
      preview: previewJson(change.record ?? change.oldRecord), recipients: message.matches?.entries.length ?? 0, exceptions: message.exceptions?.size ?? 0,
    }
  }
  return { id: message.id, position: null, kind: message.kind, topic: message.topicKey, event: message.event, at, preview: message.preview, recipients: 0, exceptions: 0, refused: message.reason.kind }
}
