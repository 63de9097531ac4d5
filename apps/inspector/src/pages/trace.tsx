/**
 * The delivery trace: pick a recent message, or a Postgres change by table and primary key, and
 * see the verdict for every subscriber of its topic or table, with the reason (filter condition,
 * policy context) and the latency. The same JSON is `GET /api/inspect/trace`.
 */
import { useEffect, useState, type FormEvent } from 'react'
import { api } from '../api'
import { clock, ms } from '../format'
import type { Route } from '../route'
import type { StreamState } from '../stream'
import type { TraceReport, Verdict } from '../types'
import { MessageList } from './channel'

const LABELS: Record<string, string> = {
  delivered: 'delivered',
  queued: 'queued',
  filtered_out: 'filtered out',
  not_authorized: 'not authorized',
  quarantined: 'quarantined',
  error_payload: 'error payload',
  excluded_sender: 'sender (self off)',
  slow_consumer: 'slow consumer',
  connection_closed: 'connection closed',
  joined_after: 'joined after',
  not_subscribed: 'not subscribed then',
  replayed: 'replayed',
  gap: 'gap',
  rate_limited: 'rate-limited',
  payload_too_large: 'too large',
}

export function TracePage({ tenant, route, stream, navigate }: { tenant: string; route: Extract<Route, { page: 'trace' }>; stream: StreamState; navigate: (route: Route) => void }) {
  const [traces, setTraces] = useState<TraceReport[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [version, setVersion] = useState(0)
  const [table, setTable] = useState(route.table ?? '')
  const [pk, setPk] = useState(route.pk ?? '')
  const query = route.id !== undefined ? `id=${route.id}` : route.table ? `table=${encodeURIComponent(route.table)}${route.pk ? `&pk=${encodeURIComponent(route.pk)}` : ''}` : null

  useEffect(() => {
    if (query === null) return setTraces(null)
    let current = true
    setError(null)
    api.trace(tenant, query).then((r) => current && setTraces(r.traces), (e: Error) => current && setError(e.message))
    return () => {
      current = false
    }
  }, [tenant, query, version])

  const lookUp = (event: FormEvent) => {
    event.preventDefault()
    if (table.trim()) navigate({ page: 'trace', table: table.trim(), ...(pk.trim() ? { pk: pk.trim() } : {}) })
  }
  return (
    <div className="page">
      <header className="page-head"><h1>Delivery trace</h1></header>
      <section className="two narrow-left">
        <div className="card">
          <h3>A Postgres change</h3>
          <form className="form inline" onSubmit={lookUp}>
            <label>Table <input data-testid="trace-table" placeholder="public.calls" value={table} onChange={(e) => setTable(e.target.value)} /></label>
            <label>Primary key <input data-testid="trace-pk" placeholder="42" value={pk} onChange={(e) => setPk(e.target.value)} /></label>
            <button className="primary" data-testid="trace-submit">Trace</button>
          </form>
          <h3>Recent messages</h3>
          <MessageList messages={stream.recent ?? []} testId="trace-recent" navigate={navigate} empty="Nothing traced yet: messages appear here while the inspector is open." />
        </div>
        <div>
          {query === null && <p className="muted card">Pick a message, or trace a change by table and primary key.</p>}
          {error && <div className="alert">{error}</div>}
          {query !== null && traces?.length === 0 && <p className="card muted" data-testid="trace-none">Nothing in the trace matches (it keeps the last messages while someone watches).</p>}
          {traces?.map((trace) => <TraceCard key={trace.id} trace={trace} onRefresh={() => setVersion((v) => v + 1)} />)}
        </div>
      </section>
    </div>
  )
}

function TraceCard({ trace, onRefresh }: { trace: TraceReport; onRefresh: () => void }) {
  return (
    <div className="card trace" data-testid="trace" data-id={trace.id}>
      <div className="trace-head">
        <div>
          <span className={`badge kind-${trace.kind}`}>{trace.kind}</span> <b className="mono">{trace.event}</b> on <span className="mono">{trace.topic}</span>
          {trace.primaryKey && <span className="mono small"> · key {JSON.stringify(trace.primaryKey)}</span>}
          <div className="small muted">
            #{trace.id}{trace.position !== null ? ` · position ${trace.position}` : ''} · {clock(trace.at)}{trace.source ? ` · ${trace.source}` : ''}
            {trace.commitTimestamp ? ` · committed ${clock(trace.commitTimestamp)}` : ''}
          </div>
        </div>
        <button onClick={onRefresh}>Refresh</button>
      </div>
      <pre className="preview">{trace.preview}</pre>
      <div className="chips" data-testid="trace-summary">
        {Object.entries(trace.summary).map(([verdict, count]) => <span key={verdict} className={`chip v-${verdict}`}>{LABELS[verdict] ?? verdict}: {count}</span>)}
      </div>
      <table data-testid="verdicts">
        <thead><tr><th>verdict</th><th>subscriber</th><th>why</th><th className="num">latency</th></tr></thead>
        <tbody>{trace.verdicts.map((v, i) => <VerdictRow key={i} verdict={v} />)}</tbody>
      </table>
      {trace.omitted > 0 && <p className="small muted">{trace.omitted} more not shown.</p>}
    </div>
  )
}

function VerdictRow({ verdict }: { verdict: Verdict }) {
  const s = verdict.subscriber
  return (
    <tr data-testid="verdict-row" data-verdict={verdict.verdict} data-user={s.user ?? ''}>
      <td><span className={`chip v-${verdict.verdict}`}>{LABELS[verdict.verdict] ?? verdict.verdict}</span></td>
      <td className="small">
        <span className="mono">{s.user ?? '—'}</span> <span className="muted">({s.role ?? '?'})</span>
        <div className="muted">conn {s.connection ?? '—'} · {s.topic}</div>
      </td>
      <td className="small">
        {verdict.detail}
        {verdict.policy && (
          <div className="policy" data-testid="policy">
            <div>as role <b>{verdict.policy.role}</b>{verdict.policy.claims ? <> with claims <code>{JSON.stringify(verdict.policy.claims)}</code></> : verdict.policy.claimNames ? <> (policies may read any of: {verdict.policy.claimNames.join(', ')})</> : null}</div>
            {verdict.policy.policies?.map((p) => <div key={p.name}>policy <b>{p.name}</b>{p.using ? <>: <code>{p.using}</code></> : null}</div>)}
          </div>
        )}
      </td>
      <td className="num mono small">{ms(verdict.latencyMs)}{verdict.sinceCommitMs !== undefined && <div className="muted">{ms(verdict.sinceCommitMs)} since commit</div>}</td>
    </tr>
  )
}
