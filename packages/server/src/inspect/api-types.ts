/**
 * The inspector API's JSON, as types: what `/api/inspect/*` answers (transport/inspect-api.ts),
 * what the page reads (apps/inspector imports this file for its types only) and what scripts can
 * rely on. No imports: this file is the contract, shared by the server and the page.
 */

/** One sample of a tenant's history (one second, or the mean of ten for rates). */
export interface Sample {
  /** Start of the second (or of the ten seconds), ms since the epoch. */
  t: number
  connections: number
  channels: number
  presences: number
  /** Client broadcasts, presence calls, REST and inspector messages, per second. */
  messagesIn: number
  /** WebSocket frames written to clients, per second. */
  messagesOut: number
  /** Rows read from the replication slot, per second. */
  changes: number
  /** RLS authorization queries of Postgres Changes, per second. */
  rlsChecks: number
  /** Errors (every code), per second. */
  errors: number
  /** WAL bytes Postgres has not sent to the server yet (null: no replication stream). */
  slotLagBytes: number | null
  /** Age of the oldest change received and not delivered yet, in seconds (null: no stream). */
  slotLagSeconds: number | null
}

export interface History {
  /** Per second, oldest first (two minutes). */
  seconds: readonly Sample[]
  /** Per ten seconds, oldest first (fifteen minutes), the ten seconds in progress last. */
  tenSeconds: readonly Sample[]
}

export interface SlotLag {
  slot: string
  /** WAL bytes Postgres has not sent to the server yet (the walsender's decoding backlog). */
  lagBytes: number | null
  /** WAL bytes the slot retains (the replay window kept for restarts, plus the lag). */
  retainedBytes: number | null
  active: boolean
}

/** When the delivery trace runs: while watched (the default), always, or never. */
export type TraceMode = 'watched' | 'always' | 'off'

export interface TraceState {
  on: boolean
  mode: TraceMode
  /** Until when it stays on without a watcher (enabled through the API, or the minute after the last stream). */
  until: string | null
  watchers: number
  messages: number
  maxMessages: number
  verdicts: number
  maxVerdicts: number
}

/** One node's share of a tenant: gauges now, rates per second over the last sampled second. */
export interface NodeFigures {
  id: string
  connections: number
  channels: number
  presences: number
  messagesIn: number
  messagesOut: number
  rlsChecks: number
  /** Whether this node reads the tenant's replication slot (the elected CDC reader). */
  cdcLeader: boolean
}

export interface TenantOverview {
  tenant: string
  node: string
  at: string
  now: Sample | null
  errors: { total: Record<string, number>; last15Minutes: Record<string, number> }
  /** `leader`: the node that reads the slot (null while a cluster elects one). */
  cdc: { slot: string; streaming: boolean; leader: string | null; lag: SlotLag | null } | null
  tracing: TraceState
  /** This node first, then (clustered) every other live node that serves the tenant, by id. */
  nodes: NodeFigures[]
  /** With the overview endpoint and the stream's `hello`. */
  history?: History
}

/** `GET /api/inspect/session`. */
export interface InspectSession {
  scope: 'admin' | 'tenant'
  tenants: string[]
}

export interface ChannelSummary {
  /** Topic key: `public:room1`, `private:room1` (a private and a public channel of one name are different rooms). */
  key: string
  /** The channel name clients use (`room1`). */
  topic: string
  private: boolean
  subscribers: number
  presences: number
  /** postgres_changes bindings of its subscribers, as `INSERT public.calls phone_id=eq.p1`. */
  bindings: string[]
  /** Broadcasts per second on the topic; null when not measured (tracing off). */
  messagesPerSecond: number | null
  /** Changes per second on the tables it binds; null when not measured or none bound. */
  changesPerSecond: number | null
}

/** A subscriber: one channel on one socket. Who it is comes from its token; the token itself never. */
export interface SubscriberView {
  connection: number | null
  channel: number
  /** The channel name (without `realtime:`). */
  topic: string
  private: boolean
  /** `sub` of the channel's token, if any. */
  user: string | null
  role: string | null
  /** `vsn` and the client's `x-client-info` or user agent. */
  client: string | null
  queuedBytes: number
  node: string
  /** The channel's state now (`joining`, `joined`, `live`, `closed`). */
  state: string
}

export interface SubscriberDetail extends SubscriberView {
  presenceKey: string | null
  bindings: string[]
  broadcast: { self: boolean; ack: boolean }
  /** Asked for positions (resumable). */
  positions: boolean
  read: { broadcast: boolean; presence: boolean }
}

export interface ChannelDetail extends ChannelSummary {
  members: SubscriberDetail[]
  /** `presence_state` as a joining client would get it (secret-looking fields redacted). */
  presence: Record<string, { metas: Record<string, unknown>[] }>
  recent: MessageSummary[]
}

export interface ConnectionView {
  id: number
  connectedAt: string
  client: string
  remoteAddress: string | null
  channels: string[]
  queuedBytes: number
  closing: boolean
}

export type VerdictKind =
  | 'delivered' | 'queued' | 'filtered_out' | 'not_authorized' | 'quarantined' | 'error_payload' | 'excluded_sender' | 'slow_consumer'
  | 'connection_closed' | 'joined_after' | 'not_subscribed' | 'replayed' | 'gap' | 'rate_limited' | 'payload_too_large'

/** Who the policy check ran as: the role and the claims the policies read (names only when unknown). Never a token. */
export interface PolicyContext {
  /** What was checked: `table public.calls (new row)`, `realtime.messages (broadcast read)`, … */
  check: string
  role: string
  /** Values of the claims the table's policies read, when known. */
  claims: Record<string, unknown> | null
  /** When the claims read are unknown (a policy calls a function, reads the claim set whole): the names of the token's claims. */
  claimNames?: string[]
  /** The SELECT policies that applied (from pg_policies). */
  policies?: { name: string; using: string | null }[]
  /** The table whose policies decided. */
  table?: { schema: string; table: string }
}

export interface Verdict {
  verdict: VerdictKind
  subscriber: SubscriberView
  /** One sentence, for people. */
  detail: string
  latencyMs?: number
  sinceCommitMs?: number
  condition?: string
  policy?: PolicyContext
  bindingIds?: number[]
}

/** What every traced message shows, in a list or in its trace. */
export interface MessageHead {
  id: number
  position: number | null
  kind: 'broadcast' | 'change' | 'refused'
  /** Topic key (`public:room1`) for broadcasts and refusals; `schema.table` for changes. */
  topic: string
  event: string
  at: string
  /** The payload's first bytes (or the change's record), secrets redacted. */
  preview: string
}

/** A traced message in a list: how many it was handed to, without working out every verdict. */
export interface MessageSummary extends MessageHead {
  /** Subscribers it was handed to (broadcast: the topic's; change: the matched ones). */
  recipients: number
  /** Of those, how many were skipped or got no data (sender, not authorized, RLS, …). */
  exceptions: number
  /** Refusals: why. */
  refused?: string
}

/** `GET /api/inspect/trace`: one message and the verdict of each subscriber. */
export interface TraceReport extends MessageHead {
  source?: string
  type?: string
  primaryKey?: Record<string, string | null>
  commitTimestamp?: string
  summary: Partial<Record<VerdictKind, number>>
  verdicts: Verdict[]
  /** Verdicts left out past `limit`. */
  omitted: number
}
