/**
 * One batch of changes: route through the index, decide per distinct auth context what each
 * context may see, run the RLS checks (rls-authorizer.ts: per table, one statement for all
 * contexts whose policies compile, policy-inline.ts; else one check each), encode each distinct
 * payload once, and deliver in commit order.
 *
 * Per (change, context), with T = table facts and R = the role's facts on T:
 *   service_role or (RLS off or R bypasses it)    → deliver (column privileges still apply)
 *   INSERT/UPDATE without PK / PK not selectable  → Supabase's 400 / 401 error payload
 *   INSERT/UPDATE under RLS                       → deliver iff the row is visible now (by PK)
 *     UPDATE with a FULL old row                  → old_record whole iff the old row passes the
 *                                                   policies, else primary key only
 *   DELETE under RLS, REPLICA IDENTITY FULL       → deliver iff the OLD row passes the policies
 *   DELETE under RLS, DEFAULT identity            → deliver, old_record = primary key (as Supabase:
 *                                                   the old row cannot be checked)
 */
import { isServiceRole, type AuthContext } from '../auth/auth-context.js'
import type { ChangeException, DeliveryTracer, TraceSlot } from '../inspect/delivery-tracer.js'
import type { Logger } from '../logger.js'
import type { Catalog, RoleTableFacts, TableFacts } from './catalog.js'
import type { Change } from './change.js'
import { buildChangeData, buildErrorData, ChangeData, ERROR_400_NO_PK, ERROR_401, ERROR_413, variantKey, type PayloadVariant } from './change-payload.js'
import type { RlsAuthorizer, VisibilityRequest, VisibilityResult } from './rls-authorizer.js'
import type { IndexedBinding, Matches, SubscriptionIndex } from './subscription-index.js'
import { claimValuesKey, type ClaimPaths } from './policy-claims.js'
import { RlsQuarantine } from './rls-quarantine.js'

/** The channel's side of the seam (see postgres-changes-service.ts). */
export interface ChangeSink {
  deliverChange(ids: readonly number[], data: ChangeData): void
  systemMessage?(status: 'ok' | 'error', message: string): void
}

export interface SubscriberEntry {
  sink: ChangeSink
  auth: AuthContext
  /** Log position the subscriber was registered at: it receives the changes positioned after it. */
  cursor: number
}

type Decision =
  | { kind: 'skip' }
  | { kind: 'error'; error: string }
  | { kind: 'deliver'; role: RoleTableFacts | null; checkCurrent: boolean; checkOld: boolean; keyOnly: boolean }

interface Routed {
  change: Change
  table: TableFacts
  matches: Matches<SubscriberEntry>
  /** Decisions per role (a decision depends on the context only through its role). */
  decisions: Map<string, Decision>
  /**
   * The auth context each subscriber was routed under, in the order of `matches` (undefined:
   * registered after the change). A token refresh mid-batch applies from the next batch.
   */
  contexts: (AuthContext | undefined)[]
}

export interface DispatchStats { deliveries: number; authQueries: number }

/**
 * How far a run got (kept by the caller across retries of the run): how many of its changes
 * are delivered, and whether its changes were reported to the trace already (once per change).
 */
export interface DispatchProgress { delivered: number; traced?: boolean }

/** Changes matched to their subscribers, not yet checked; `end`: index in the run past its last change. */
interface RoutedChunk { changes: Change[]; matches: Matches<SubscriberEntry>[]; end: number }

/** A chunk's routes and what its RLS checks saw, ready to deliver. */
interface PreparedChunk {
  routed: Routed[]
  /** Per table oid: context key → what its check saw. */
  seenByTable: Map<number, Map<string, VisibilityResult | undefined>>
  authQueries: number
  end: number
}

// ─── Bounded turns ──────────────────────────────────────────────────────────────────────
// A batch that queued up while the server was behind can hold hundreds of changes, each for
// 1,000 subscribers: delivered in one synchronous run, that is hundreds of MB of frames, all
// live at once, queued before the first socket write, each socket's hundreds of frames
// concatenated in one Buffer, and the replication stream unread meanwhile (seen in the CDC
// bench on 2026-12-02 past its capacity: batches of 500 changes, 12 s per batch). So the
// batch's changes are delivered in turns of about DELIVERIES_PER_TURN, and the event loop
// flushes each turn's frames (socket/outbound-queue.ts) before the next: each socket still gets
// a turn's frames in one write, and they are garbage once written. Changes are still delivered whole and in order; a subscriber
// that registers between turns was registered after the batch was positioned and is owed none
// of it (it is not among the routed `matches`); one that leaves gets nothing more (its channel
// drops deliveries once closed).
//
// The size is a trade: every turn ends in one write per subscriber socket that got frames (at
// 1,000 subscribers, 1,000 writes of ~7 µs), so smaller turns cost writes; larger ones hold the
// event loop and the turn's frames longer (32,768 deliveries: ~22 MB of frames at the bench's
// row size, a turn of a few tens of ms). 16,384 until 2026-12-02; 32,768 kept the per-user bench
// at 230 inserts/s × 1,000 users under its 250 ms p99 where 16,384 fell behind (bench/README.md,
// "Postgres Changes", turn size).
const DELIVERIES_PER_TURN = 32_768

// ─── Chunks ─────────────────────────────────────────────────────────────────────────────
// A batch's RLS checks are one round trip, and the server waited for it before delivering
// anything: at 232 inserts/s to 1,000 distinct users (bench/cdc) batches grew to ~80 changes,
// whose check took ~110 ms and whose delivery ~220 ms, one after the other, so the queue kept
// growing. In chunks, chunk i+1 is routed and its check sent as soon as chunk i's frames are
// queued, and Postgres checks it while those frames are written (the socket writes, a large part
// of a delivery's cost). A chunk is as many deliveries as a turn, so a batch smaller than
// that (the usual case below saturation) is one chunk, one check, as before. (Sending the check
// before chunk i is even framed, one more turn per chunk, was measured and not taken: no
// difference the box could show.)
const DELIVERIES_PER_CHUNK = DELIVERIES_PER_TURN
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

export class ChangeDispatcher {
  constructor(
    private readonly index: SubscriptionIndex<SubscriberEntry>,
    private readonly catalog: Catalog,
    private readonly authorizer: RlsAuthorizer,
    private readonly logger: Logger,
    private readonly maxRecordBytes: number,
    /** The inspector's tracer, when somebody traces deliveries (inspect/delivery-tracer.ts). */
    private readonly tracing: TraceSlot | null = null,
    /** See "Chunks" above. */
    private readonly deliveriesPerChunk = DELIVERIES_PER_CHUNK,
  ) {
    this.#quarantine = new RlsQuarantine(index, logger)
  }

  readonly #quarantine: RlsQuarantine

  /**
   * Routes, authorizes and delivers `changes` (positioned already) in order, each to the
   * subscribers registered before its position. A subscriber that registers while the batch is
   * being authorized was registered after the batch was positioned, so it is owed none of it.
   *
   * A big batch goes in chunks of about DELIVERIES_PER_CHUNK, and the next chunk's RLS checks
   * run in Postgres while this one's frames are written (see "Chunks" above). `progress` (the
   * run being dispatched) keeps how many of `changes` are delivered: when a later chunk's check
   * fails, the caller retries with the same object and nothing is delivered twice. `stats` is
   * counted as chunks go out, so what a failed attempt delivered is counted too.
   */
  async dispatch(changes: readonly Change[], progress: DispatchProgress = { delivered: 0 },
    stats: DispatchStats = { deliveries: 0, authQueries: 0 }): Promise<DispatchStats> {
    this.#quarantine.release() // rls-quarantine.ts: refreshed tokens are routed again
    const tracer = this.tracing?.current ?? null
    const chunks = this.#chunks(changes, progress.delivered, progress.traced ? null : tracer)
    progress.traced = true
    let next: Promise<PreparedChunk> | null = chunks.length > 0 ? this.#prepare(chunks[0]!) : null
    for (let i = 0; next !== null; i++) {
      const prepared = await next
      next = null
      if (i + 1 < chunks.length) {
        // Started now, it routes and sends its check once this chunk's frames are queued (this
        // chunk's delivery does not await), and Postgres checks it while they are written. Its
        // failure is taken when it is awaited, after this chunk went out (never unhandled).
        next = this.#prepare(chunks[i + 1]!)
        next.catch(() => {})
      }
      stats.deliveries += await this.#deliver(prepared, tracer)
      stats.authQueries += prepared.authQueries
      progress.delivered = prepared.end
      if (next !== null) await nextTurn() // this chunk's frames are written while the next is checked
    }
    progress.delivered = changes.length
    tracer?.changesDispatched()
    return stats
  }

  /**
   * `changes` from `from` on, matched and cut into chunks of about DELIVERIES_PER_CHUNK (never
   * inside a change). Changes no subscriber matches are dropped here.
   */
  #chunks(changes: readonly Change[], from: number, tracer: DeliveryTracer | null): RoutedChunk[] {
    const chunks: RoutedChunk[] = []
    let current: RoutedChunk | null = null
    let size = 0
    for (let i = from; i < changes.length; i++) {
      const change = changes[i]!
      if (!this.index.hasTable(change.schema, change.table)) {
        tracer?.changeRouted(change, null)
        continue
      }
      const matches = this.index.match(change)
      tracer?.changeRouted(change, matches)
      if (matches.size === 0) continue
      if (current === null || size >= this.deliveriesPerChunk) {
        chunks.push((current = { changes: [], matches: [], end: 0 }))
        size = 0
      }
      current.changes.push(change)
      current.matches.push(matches)
      current.end = i + 1
      size += matches.size
    }
    return chunks
  }

  /** One chunk's decisions and RLS checks (one authorize call): what #deliver needs. */
  async #prepare(chunk: RoutedChunk): Promise<PreparedChunk> {
    // Hot loops run per (change, subscriber): 1,000 distinct users × a batch's changes. Lookups
    // there use the context's own key string and per-table maps, never a key built by
    // concatenation (a new string is hashed again on every lookup: measured ~15 % of the
    // server's time with 1,000 users), and await only when a cache misses.
    const routed: Routed[] = []
    /** Per table oid: the key of a visibility check → the check. */
    const requestsByTable = new Map<number, Map<string, VisibilityRequest>>()
    /** Per table oid: context key → the key of the visibility check it shares. */
    const visibilityKeys = new Map<number, Map<string, string>>()
    /** Per table oid: role → the claim paths its policies read (policy-claims.ts), asked once per chunk. */
    const claimPaths = new Map<number, Map<string, ClaimPaths | null>>()
    for (let c = 0; c < chunk.changes.length; c++) {
      const change = chunk.changes[c]!
      const matches = chunk.matches[c]!
      const table = await this.catalog.table(change.schema, change.table)
      if (!table) continue
      const decisions = new Map<string, Decision>()
      const contexts: (AuthContext | undefined)[] = new Array(matches.size)
      let keys = visibilityKeys.get(table.oid)
      if (!keys) visibilityKeys.set(table.oid, (keys = new Map()))
      let requests = requestsByTable.get(table.oid)
      if (!requests) requestsByTable.set(table.oid, (requests = new Map()))
      let pathsByRole = claimPaths.get(table.oid)
      if (!pathsByRole) claimPaths.set(table.oid, (pathsByRole = new Map()))
      let last: VisibilityRequest | undefined
      let at = -1
      for (const entry of matches.keys()) {
        at++
        if (entry.cursor >= change.position.seq) continue
        const ctx = entry.auth
        contexts[at] = ctx
        let decision = decisions.get(ctx.role)
        if (!decision) decisions.set(ctx.role, (decision = this.#decideCached(change, table, ctx) ?? (await this.#decide(change, table, ctx))))
        if (decision.kind !== 'deliver' || (!decision.checkCurrent && !decision.checkOld)) continue
        let key = keys.get(ctx.key)
        if (key === undefined) {
          let paths = pathsByRole.get(ctx.role)
          if (paths === undefined) {
            const cached = this.catalog.cachedPolicyClaimPaths(ctx.role, table.oid)
            pathsByRole.set(ctx.role, (paths = cached !== undefined ? cached : await this.catalog.policyClaimPaths(ctx.role, table)))
          }
          keys.set(ctx.key, (key = this.#visibilityKey(ctx, paths)))
        }
        // Subscribers of one context usually follow each other: skip the lookup then.
        let req = last !== undefined && last.context.key === ctx.key ? last : requests.get(key)
        if (!req) {
          // policy-inline.ts: the role's policies as one set-based check, when they compile.
          const cached = this.catalog.cachedInlinePolicy(ctx.role, table.oid)
          const inline = cached !== undefined ? cached : await this.catalog.inlinePolicy(ctx.role, table)
          requests.set(key, (req = { context: ctx, table, current: [], old: [], inline }))
        }
        last = req
        // Contexts sharing a check meet the same change one after another: add it once.
        if (decision.checkCurrent && req.current[req.current.length - 1] !== change) req.current.push(change)
        if (decision.checkOld && req.old[req.old.length - 1] !== change) req.old.push(change)
      }
      routed.push({ change, table, matches, decisions, contexts })
    }
    const checks: VisibilityRequest[] = []
    for (const requests of requestsByTable.values()) for (const req of requests.values()) checks.push(req)
    shareEqualLists(checks)
    const before = this.authorizer.queries
    const visibility = await this.authorizer.authorize(checks)
    /** Per table oid: context key → what its check saw. */
    const seenByTable = new Map<number, Map<string, VisibilityResult | undefined>>()
    for (const [oid, keys] of visibilityKeys) {
      const requests = requestsByTable.get(oid)!
      const seen = new Map<string, VisibilityResult | undefined>()
      for (const [contextKey, key] of keys) {
        const req = requests.get(key)
        seen.set(contextKey, req && visibility.get(req))
      }
      seenByTable.set(oid, seen)
    }
    return { routed, seenByTable, authQueries: this.authorizer.queries - before, end: chunk.end }
  }

  /** Delivers a prepared chunk in order; returns the deliveries made. */
  async #deliver(prepared: PreparedChunk, tracer: DeliveryTracer | null): Promise<number> {
    const { seenByTable } = prepared
    let deliveries = 0
    let turnStart = 0
    for (const route of prepared.routed) {
      if (deliveries - turnStart >= DELIVERIES_PER_TURN) {
        await nextTurn()
        turnStart = deliveries
      }
      const { change, table, matches, decisions, contexts } = route
      const seenBy = seenByTable.get(table.oid)
      const payloads = new ChangePayloads(change, table, this.maxRecordBytes)
      // The payload of the last subscriber with one binding and no `select`: most of the
      // others (same role, same old-row visibility) get the same one, without the lookups.
      let lastDecision: Decision | null = null
      let lastKeyOnly = false
      let lastData: ChangeData | null = null
      let at = -1
      // Keys, then `get`: iterating the entries made a [key, value] array per delivery.
      for (const entry of matches.keys()) {
        const bindings = matches.get(entry)!
        const ctx = contexts[++at]
        if (ctx === undefined) {
          tracer?.changeException(change, entry, { kind: 'joined_after', cursor: entry.cursor })
          continue // registered after this change was positioned
        }
        const seen = seenBy?.get(ctx.key)
        if (this.#quarantine.holds(entry, seen?.failure)) {
          tracer?.changeException(change, entry, { kind: 'rls_error', message: seen?.failure?.message ?? null })
          continue // its check raised: rls-quarantine.ts
        }
        const decision = decisions.get(ctx.role)!
        if (decision.kind === 'skip') {
          tracer?.changeException(change, entry, { kind: 'no_select_privilege', role: entry.auth.role })
          continue
        }
        if (decision.kind === 'error') {
          tracer?.changeException(change, entry, { kind: 'error_payload', error: decision.error })
          deliveries += this.#send(entry, bindings.map((b) => b.id), payloads.error(decision.error))
          continue
        }
        if (decision.checkCurrent && !seen?.current.has(change)) {
          tracer?.changeException(change, entry, this.#rlsDenied(entry, table, 'new'))
          continue
        }
        const oldVisible = decision.checkOld ? (seen?.old.has(change) ?? false) : true
        if (change.type === 'DELETE' && !oldVisible) {
          tracer?.changeException(change, entry, this.#rlsDenied(entry, table, 'old'))
          continue
        }
        const keyOnly = decision.keyOnly || !oldVisible
        if (bindings.length === 1) {
          const binding = bindings[0]!
          if (binding.select !== null) {
            deliveries += this.#send(entry, binding.ids, payloads.get(decision.role, keyOnly, binding.select))
            continue
          }
          if (decision !== lastDecision || keyOnly !== lastKeyOnly || lastData === null) {
            lastData = payloads.get(decision.role, keyOnly, null)
            lastDecision = decision
            lastKeyOnly = keyOnly
          }
          deliveries += this.#send(entry, binding.ids, lastData)
          continue
        }
        // Bindings of one channel with different `select` lists get one message per list.
        const bySelect = new Map<string, IndexedBinding<SubscriberEntry>[]>()
        for (const b of bindings) {
          const k = b.select === null ? '' : [...b.select].sort().join(',')
          const list = bySelect.get(k)
          if (list) list.push(b)
          else bySelect.set(k, [b])
        }
        for (const group of bySelect.values()) deliveries += this.#send(entry, group.map((b) => b.id), payloads.get(decision.role, keyOnly, group[0]!.select))
      }
    }
    return deliveries
  }

  /**
   * Which visibility check a context shares for a table whose policies read `paths`: contexts
   * that agree on the claims those read (policy-claims.ts) share one; otherwise each distinct
   * context has its own (`paths` null). The key is kept beside the context (weakly) for the next
   * batches: it was a new string per context and batch, built from the claims, with 1,000
   * distinct users 1,000 per batch (CDC bench, heap sampling).
   */
  #visibilityKey(ctx: AuthContext, paths: ClaimPaths | null): string {
    const known = this.#sharedKeys.get(ctx)
    if (known !== undefined && known.paths === paths) return known.key
    // `\u0002` keeps the two kinds apart (a context key separates role and claims with `\u0000`).
    const key = paths === null ? ctx.key : `${ctx.role}\u0002${claimValuesKey(ctx.claims, paths)}`
    this.#sharedKeys.set(ctx, { paths, key })
    return key
  }

  readonly #sharedKeys = new WeakMap<AuthContext, { paths: ClaimPaths | null; key: string }>()

  /** What the tracer keeps of an RLS denial: the role and the claims the table's policies read (no token). */
  #rlsDenied(entry: SubscriberEntry, table: TableFacts, row: 'new' | 'old'): ChangeException {
    return { kind: 'rls_denied', row, role: entry.auth.role, claimPaths: this.catalog.cachedPolicyClaimPaths(entry.auth.role, table.oid) }
  }

  #send(entry: SubscriberEntry, ids: readonly number[], data: ChangeData): number {
    try {
      entry.sink.deliverChange(ids, data)
      return 1
    } catch (error) {
      this.logger.error({ err: error }, 'cdc: subscriber threw in deliverChange')
      return 0
    }
  }

  /** `#decide` without a round trip: null when the role's facts are not cached. */
  #decideCached(change: Change, table: TableFacts, ctx: AuthContext): Decision | null {
    if (isServiceRole(ctx)) return this.#decideWith(change, table, ctx, null)
    const role = this.catalog.cachedRoleFacts(ctx.role, table.oid)
    return role === undefined ? null : this.#decideWith(change, table, ctx, role)
  }

  async #decide(change: Change, table: TableFacts, ctx: AuthContext): Promise<Decision> {
    if (isServiceRole(ctx)) return this.#decideWith(change, table, ctx, null)
    // A cold role and table: the routing asks for the policy's claims and compiled check right
    // after the rights, so all three load side by side (one after the other they were three
    // round trips, paid by every subscriber in the batch). Binding validation warms them too,
    // but a table's Relation message (its first change in a stream session, or a DDL) drops them.
    await this.catalog.warmDelivery(ctx.role, table)
    return this.#decideWith(change, table, ctx, await this.catalog.roleFacts(ctx.role, table))
  }

  /** `role`: the context role's facts on the table (null for service_role, which needs none). */
  #decideWith(change: Change, table: TableFacts, ctx: AuthContext, role: RoleTableFacts | null): Decision {
    if (change.rowOmitted && isServiceRole(ctx)) return { kind: 'error', error: ERROR_413 } // transaction-overflow.ts
    if (isServiceRole(ctx) || role === null) return { kind: 'deliver', role: null, checkCurrent: false, checkOld: false, keyOnly: false }
    if (change.rowOmitted) return role.selectable.size > 0 ? { kind: 'error', error: ERROR_413 } : { kind: 'skip' } // no row to check
    const isDelete = change.type === 'DELETE'
    if (role.selectable.size === 0) return isDelete ? { kind: 'skip' } : { kind: 'error', error: ERROR_401 }
    if (!isDelete && table.primaryKey.length === 0) return { kind: 'error', error: ERROR_400_NO_PK }
    if (!isDelete && !table.primaryKey.every((c) => role.selectable.has(c))) return { kind: 'error', error: ERROR_401 }
    if (!table.rlsEnabled || role.bypassRls) return { kind: 'deliver', role, checkCurrent: false, checkOld: false, keyOnly: false }
    if (change.type === 'INSERT') return { kind: 'deliver', role, checkCurrent: true, checkOld: false, keyOnly: false }
    if (change.type === 'UPDATE') return { kind: 'deliver', role, checkCurrent: true, checkOld: change.hasFullOldRow, keyOnly: !change.hasFullOldRow }
    return change.hasFullOldRow
      ? { kind: 'deliver', role, checkCurrent: false, checkOld: true, keyOnly: false }
      : { kind: 'deliver', role, checkCurrent: false, checkOld: false, keyOnly: true }
  }
}

/**
 * Requests with the same changes to check share one list (compared with the previous distinct
 * list of their table, in order): with 1,000 distinct users that usually all see a chunk's
 * changes, the authorizer then groups, slices and reads back per list, not per request
 * (rls-authorizer.ts). Lists are complete here; nobody appends to them afterwards.
 */
function shareEqualLists(requests: readonly VisibilityRequest[]): void {
  const lastByTable = new Map<number, { current: Change[]; old: Change[] }>()
  for (const r of requests) {
    const last = lastByTable.get(r.table.oid)
    if (last === undefined) {
      lastByTable.set(r.table.oid, { current: r.current, old: r.old })
      continue
    }
    if (sameChanges(r.current, last.current)) r.current = last.current
    else last.current = r.current
    if (sameChanges(r.old, last.old)) r.old = last.old
    else last.old = r.old
  }
}

function sameChanges(a: readonly Change[], b: readonly Change[]): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * One change's payloads, each encoded once: per (role's visible columns, `select` list, old-row
 * shape), and per error. Roles with the same visible columns share one encoding.
 */
class ChangePayloads {
  /** By variantKey (and by error text). */
  readonly #encoded = new Map<string, ChangeData>()
  /** By role facts (null: all columns), then old-row shape and sorted `select` list. */
  readonly #byRole = new Map<RoleTableFacts | null, Map<string, ChangeData>>()

  constructor(
    private readonly change: Change,
    private readonly table: TableFacts,
    private readonly maxRecordBytes: number,
  ) {}

  get(role: RoleTableFacts | null, keyOnly: boolean, select: readonly string[] | null): ChangeData {
    let byRole = this.#byRole.get(role)
    if (!byRole) this.#byRole.set(role, (byRole = new Map()))
    const memo = select === null ? (keyOnly ? 'k' : 'f') : `${keyOnly ? 'k' : 'f'}:${[...select].sort().join(',')}`
    let data = byRole.get(memo)
    if (data === undefined) {
      const variant = this.#variant(role, select, keyOnly)
      const key = variantKey(variant)
      data = this.#encoded.get(key)
      if (data === undefined) this.#encoded.set(key, (data = new ChangeData(buildChangeData(this.change, variant, this.maxRecordBytes), this.change.position)))
      byRole.set(memo, data)
    }
    return data
  }

  /** Supabase's error payload (change-payload.ts). */
  error(error: string): ChangeData {
    let data = this.#encoded.get(error)
    if (data === undefined) this.#encoded.set(error, (data = new ChangeData(buildErrorData(this.change, error), this.change.position)))
    return data
  }

  #variant(role: RoleTableFacts | null, select: readonly string[] | null, keyOnly: boolean): PayloadVariant {
    let columns: Set<string> | null = role === null ? null : new Set(role.selectable)
    if (select !== null) {
      const wanted = new Set([...select, ...this.table.primaryKey])
      columns = new Set([...(columns ?? this.table.columns.map((c) => c.name))].filter((c) => wanted.has(c)))
    }
    if (columns !== null && this.table.columns.every((c) => columns!.has(c.name))) columns = null
    return { columns, oldRecordKeyOnly: keyOnly, primaryKey: this.table.primaryKey }
  }
}
