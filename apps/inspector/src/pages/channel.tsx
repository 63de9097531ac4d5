/**
 * One channel: its subscribers (connection, who, client, how far behind), its presence state,
 * its messages as they happen, the recent ones (each traceable), and the operator's actions:
 * disconnect a subscriber's socket, send a test broadcast.
 */
import { useState, type FormEvent } from 'react'
import { api } from '../api'
import { bytes, clock, rate } from '../format'
import type { Route } from '../route'
import type { StreamState } from '../stream'
import type { MessageSummary } from '../types'

export function ChannelPage({ tenant, channelKey, stream, navigate }: { tenant: string; channelKey: string; stream: StreamState; navigate: (route: Route) => void }) {
  const channel = stream.channel?.key === channelKey ? stream.channel : null
  const [notice, setNotice] = useState<string | null>(null)
  const disconnect = async (connection: number) => {
    try {
      await api.disconnect(tenant, connection)
      setNotice(`Connection ${connection} disconnected.`)
    } catch (error) {
      setNotice((error as Error).message)
    }
  }
  return (
    <div className="page">
      <header className="page-head">
        <h1>
          <a href="#/channels" className="muted">Channels</a> / <span className="mono" data-testid="channel-title">{channelKey.slice(channelKey.indexOf(':') + 1)}</span>
          {channel && <span className={`badge ${channel.private ? 'private' : 'public'}`}>{channel.private ? 'private' : 'public'}</span>}
        </h1>
        {channel && !channel.gone && <div className="muted">{channel.subscribers} subscribers · {channel.presences} presences · {rate(channel.messagesPerSecond)} broadcasts/s</div>}
      </header>
      {notice && <div className="notice" data-testid="notice">{notice}</div>}
      {!channel && <p className="muted">Loading…</p>}
      {channel?.gone && <p className="muted" data-testid="channel-gone">Nobody is subscribed to this channel on this node now.</p>}
      {channel && !channel.gone && (
        <>
          <div className="card flush">
            <h3 className="pad-h">Subscribers</h3>
            <table data-testid="members">
              <thead>
                <tr><th className="num">connection</th><th>user</th><th>role</th><th>client</th><th>state</th><th>postgres_changes</th><th className="num">queued</th><th></th></tr>
              </thead>
              <tbody>
                {channel.members.map((m) => (
                  <tr key={m.channel} data-testid="member-row" data-user={m.user ?? ''} data-connection={m.connection ?? ''}>
                    <td className="num mono">{m.connection}</td>
                    <td className="mono">{m.user ?? <span className="muted">—</span>}</td>
                    <td>{m.role}</td>
                    <td className="small">{m.client}</td>
                    <td><span className={`badge state-${m.state}`}>{m.state}</span>{m.positions && <span className="badge">resumable</span>}</td>
                    <td className="small mono">{m.bindings.join('; ') || <span className="muted">—</span>}</td>
                    <td className="num mono">{bytes(m.queuedBytes)}</td>
                    <td>{m.connection !== null && <button className="danger small" data-testid={`disconnect-${m.connection}`} onClick={() => void disconnect(m.connection!)}>Disconnect</button>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <section className="two">
            <div className="card">
              <h3>Presence</h3>
              {Object.keys(channel.presence).length === 0 ? <p className="muted">Nobody tracked.</p> : (
                <ul className="presence" data-testid="presence">
                  {Object.entries(channel.presence).map(([key, group]) => (
                    <li key={key} data-testid="presence-key" data-key={key}>
                      <b className="mono">{key}</b>
                      {group.metas.map((meta, i) => <pre key={i}>{JSON.stringify(meta)}</pre>)}
                    </li>
                  ))}
                </ul>
              )}
            </div>
            <SendBroadcast tenant={tenant} topic={channel.topic} isPrivate={channel.private} onSent={setNotice} />
          </section>
          <section className="two">
            <div className="card">
              <h3>Live messages {stream.skipped > 0 && <span className="muted small">({stream.skipped} not shown: too fast)</span>}</h3>
              <MessageList messages={stream.live} testId="live-message" navigate={navigate} empty="Messages appear here as they are delivered." />
            </div>
            <div className="card">
              <h3>Recent messages</h3>
              <MessageList messages={channel.recent} testId="recent-message" navigate={navigate} empty="None traced yet (the trace runs while the inspector is open)." />
            </div>
          </section>
        </>
      )}
    </div>
  )
}

function SendBroadcast({ tenant, topic, isPrivate, onSent }: { tenant: string; topic: string; isPrivate: boolean; onSent: (text: string) => void }) {
  const [event, setEvent] = useState('inspector-test')
  const [payload, setPayload] = useState('{"hello": "from the inspector"}')
  const [error, setError] = useState<string | null>(null)
  const send = async (e: FormEvent) => {
    e.preventDefault()
    setError(null)
    let parsed: unknown
    try {
      parsed = JSON.parse(payload)
    } catch {
      setError('The payload must be JSON.')
      return
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      setError('The payload must be a JSON object.')
      return
    }
    try {
      await api.broadcast(tenant, { topic, event, payload: parsed as Record<string, unknown>, private: isPrivate })
      onSent(`Sent "${event}" to ${topic}.`)
    } catch (err) {
      setError((err as Error).message)
    }
  }
  return (
    <form className="card form" onSubmit={send}>
      <h3>Send a test broadcast</h3>
      <label>Event <input data-testid="broadcast-event" value={event} onChange={(e) => setEvent(e.target.value)} /></label>
      <label>Payload (JSON object) <textarea data-testid="broadcast-payload" rows={3} value={payload} onChange={(e) => setPayload(e.target.value)} /></label>
      <button className="primary" data-testid="broadcast-send" disabled={event === ''}>Send to {isPrivate ? 'private ' : ''}{topic}</button>
      {error && <div className="alert">{error}</div>}
    </form>
  )
}

export function MessageList({ messages, testId, navigate, empty }: { messages: readonly MessageSummary[]; testId: string; navigate: (route: Route) => void; empty: string }) {
  if (messages.length === 0) return <p className="muted small">{empty}</p>
  return (
    <ul className="messages">
      {messages.map((m) => (
        <li key={`${m.id}`} data-testid={testId} data-id={m.id} data-event={m.event} className="clickable" onClick={() => navigate({ page: 'trace', id: m.id })}>
          <span className="mono small muted">{clock(m.at)}</span>
          <span className={`badge kind-${m.kind}`}>{m.kind === 'refused' ? `refused: ${m.refused}` : m.kind}</span>
          <b className="mono">{m.event}</b>
          <span className="mono small ellipsis">{m.preview}</span>
          <span className="small muted">{m.kind === 'refused' ? '' : `${m.recipients - m.exceptions}/${m.recipients}`}</span>
        </li>
      ))}
    </ul>
  )
}
