/**
 * What the inspector API answers (packages/server/src/inspect/*, transport/inspect-api.ts): the
 * fields the page reads. The server's JSON is the contract; these types describe it.
 */

export interface Session {
  scope: 'admin' | 'tenant'
  tenants: string[]
}

export interface Sample {
  t: number
  connections: number
  channels: number
  presences: number
  messagesIn: number
  messagesOut: number
  changes: number
  rlsChecks: number
  errors: number
  slotLagBytes: number | null
  slotLagSeconds: number | null
}

export interface Overview {
  tenant: string
  node: string
  at: string
  now: Sample | null
  errors: { total: Record<string, number>; last15Minutes: Record<string, number> }
  cdc: { slot: string; streaming: boolean; leader: string; lag: { lagBytes: number | null; retainedBytes: number | null; active: boolean } | null } | null
  tracing: { on: boolean; mode: string; until: string | null; watchers: number; messages: number; maxMessages: number; verdicts: number; maxVerdicts: number }
  nodes: { id: string; connections: number; channels: number; presences: number; cdcLeader: boolean }[]
  history?: History
}

export interface History {
  seconds: Sample[]
  tenSeconds: Sample[]
}

export interface ChannelSummary {
  key: string
  topic: string
  private: boolean
  subscribers: number
  presences: number
  bindings: string[]
  messagesPerSecond: number | null
  changesPerSecond: number | null
}

export interface Subscriber {
  connection: number | null
  channel: number
  topic: string
  private: boolean
  user: string | null
  role: string | null
  client: string | null
  queuedBytes: number
  node: string
  state: string
}

export interface Member extends Subscriber {
  presenceKey: string | null
  bindings: string[]
  broadcast: { self: boolean; ack: boolean }
  positions: boolean
  read: { broadcast: boolean; presence: boolean }
}

export interface MessageSummary {
  id: number
  position: number | null
  kind: 'broadcast' | 'change' | 'refused'
  topic: string
  event: string
  at: string
  preview: string
  recipients: number
  exceptions: number
  refused?: string
}

export interface ChannelDetail extends ChannelSummary {
  members: Member[]
  presence: Record<string, { metas: Record<string, unknown>[] }>
  recent: MessageSummary[]
  gone?: boolean
}

export interface PolicyContext {
  check: string
  role: string
  claims: Record<string, unknown> | null
  claimNames?: string[]
  policies?: { name: string; using: string | null }[]
}

export interface Verdict {
  verdict: string
  subscriber: Subscriber
  detail: string
  latencyMs?: number
  sinceCommitMs?: number
  condition?: string
  policy?: PolicyContext
  bindingIds?: number[]
}

export interface TraceReport {
  id: number
  position: number | null
  kind: MessageSummary['kind']
  topic: string
  event: string
  at: string
  source?: string
  type?: string
  primaryKey?: Record<string, string | null>
  commitTimestamp?: string
  preview: string
  summary: Record<string, number>
  verdicts: Verdict[]
  omitted: number
}
