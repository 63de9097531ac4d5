/**
 * A tenant at a glance: connections, channels, presences, messages in and out, RLS checks and the
 * replication slot's lag now, their last fifteen minutes (or two, per second), errors by code,
 * the nodes, and the trace's state with its switch.
 */
import { useState } from 'react'
import { api } from '../api'
import { Chart } from '../chart'
import { bytes, rate, seconds } from '../format'
import type { StreamState } from '../stream'

export function OverviewPage({ tenant, stream }: { tenant: string; stream: StreamState }) {
  const [range, setRange] = useState<'15m' | '2m'>('15m')
  const [busy, setBusy] = useState(false)
  const overview = stream.overview
  if (!overview) return <div className="muted pad">Connecting to the live stream…</div>
  const now = overview.now
  const samples = range === '15m' ? stream.history.tenSeconds : stream.history.seconds
  const lag = overview.cdc?.lag
  const errorCodes = Object.keys({ ...overview.errors.total, ...overview.errors.last15Minutes }).sort()
  const setTracing = async (minutes: number) => {
    setBusy(true)
    try {
      await api.tracing(tenant, minutes)
    } finally {
      setBusy(false)
    }
  }
  return (
    <div className="page">
      <header className="page-head">
        <h1>Overview <span className="muted">· {overview.tenant}</span></h1>
        <div className="segmented">
          <button className={range === '15m' ? 'on' : ''} onClick={() => setRange('15m')}>15 min</button>
          <button className={range === '2m' ? 'on' : ''} onClick={() => setRange('2m')}>2 min, per second</button>
        </div>
      </header>
      <section className="stats">
        <Stat id="connections" label="Connections" value={rate(now?.connections)} />
        <Stat id="channels" label="Joined channels" value={rate(now?.channels)} />
        <Stat id="presences" label="Presences" value={rate(now?.presences)} />
        <Stat id="messages-in" label="Messages in /s" value={rate(now?.messagesIn)} />
        <Stat id="messages-out" label="Messages out /s" value={rate(now?.messagesOut)} />
        <Stat id="rls-checks" label="RLS checks /s" value={rate(now?.rlsChecks)} />
        <Stat id="slot-lag" label="Slot lag (not sent · oldest undelivered)" value={overview.cdc ? `${bytes(lag?.lagBytes)} · ${seconds(now?.slotLagSeconds)}` : 'no stream'} />
        <Stat id="cdc" label="CDC leader" value={overview.cdc ? (overview.cdc.streaming ? (overview.cdc.leader ?? 'electing') : 'not streaming') : 'off'} small />
      </section>
      <section className="charts">
        <Chart testId="chart-messages" title="Messages per second" samples={samples} format={rate}
          series={[{ label: 'in', value: (s) => s.messagesIn, color: '#0f766e' }, { label: 'out', value: (s) => s.messagesOut, color: '#6366f1' }]} />
        <Chart testId="chart-connections" title="Connections and channels" samples={samples} format={rate}
          series={[{ label: 'connections', value: (s) => s.connections, color: '#0f766e' }, { label: 'channels', value: (s) => s.channels, color: '#d97706' }]} />
        <Chart testId="chart-rls" title="Postgres changes and RLS checks per second" samples={samples} format={rate}
          series={[{ label: 'changes', value: (s) => s.changes, color: '#0f766e' }, { label: 'RLS checks', value: (s) => s.rlsChecks, color: '#dc2626' }]} />
        <Chart testId="chart-lag" title="Replication: oldest change not delivered yet" samples={samples} format={seconds}
          series={[{ label: 'seconds', value: (s) => s.slotLagSeconds, color: '#7c3aed' }]} />
      </section>
      <section className="two">
        <div className="card">
          <h3>Errors by code</h3>
          {errorCodes.length === 0 ? <p className="muted">None since the server started.</p> : (
            <table data-testid="errors">
              <thead><tr><th>code</th><th className="num">last 15 min</th><th className="num">since start</th></tr></thead>
              <tbody>
                {errorCodes.map((code) => (
                  <tr key={code} data-testid="error-row" data-code={code}>
                    <td className="mono">{code}</td>
                    <td className="num mono">{overview.errors.last15Minutes[code] ?? 0}</td>
                    <td className="num mono">{overview.errors.total[code] ?? 0}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
        <div className="card">
          <h3>Nodes</h3>
          <table>
            <thead><tr><th>node</th><th className="num">connections</th><th className="num">channels</th><th className="num">presences</th><th className="num">in/s</th><th className="num">out/s</th><th className="num">RLS checks/s</th><th>CDC</th></tr></thead>
            <tbody>
              {overview.nodes.map((node) => (
                <tr key={node.id}>
                  <td className="mono">{node.id}</td>
                  <td className="num">{node.connections}</td>
                  <td className="num">{node.channels}</td>
                  <td className="num">{node.presences}</td>
                  <td className="num">{node.messagesIn}</td>
                  <td className="num">{node.messagesOut}</td>
                  <td className="num">{node.rlsChecks}</td>
                  <td>{node.cdcLeader ? 'leader' : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {overview.cdc && (
            <p className="small" data-testid="slot">
              Replication slot <code>{overview.cdc.slot}</code> ({overview.cdc.streaming ? 'streaming' : 'not streaming'}) retains {bytes(lag?.retainedBytes)} of WAL:
              the replay window kept so a restart loses nothing, plus what is not delivered yet.
            </p>
          )}
          <h3>Delivery trace</h3>
          <p className="small">
            {overview.tracing.on ? 'On' : 'Off'} ({overview.tracing.mode === 'watched' ? 'runs while the inspector is open' : overview.tracing.mode}
            {overview.tracing.until ? `, until ${new Date(overview.tracing.until).toLocaleTimeString()}` : ''}): {overview.tracing.messages} of {overview.tracing.maxMessages} messages kept,{' '}
            {overview.tracing.verdicts} of {overview.tracing.maxVerdicts} subscriber references. When nobody watches it costs nothing.
          </p>
          <div className="row">
            <button disabled={busy} onClick={() => void setTracing(30)}>Keep tracing 30 min</button>
            <button disabled={busy} onClick={() => void setTracing(0)}>Stop after this page closes</button>
          </div>
        </div>
      </section>
    </div>
  )
}

function Stat({ id, label, value, small }: { id: string; label: string; value: string; small?: boolean }) {
  return (
    <div className="card stat" data-testid={`stat-${id}`}>
      <div className="stat-label">{label}</div>
      <div className={`stat-value mono ${small ? 'small' : ''}`}>{value}</div>
    </div>
  )
}
