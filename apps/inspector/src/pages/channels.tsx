/** The tenant's channels, searchable, most subscribers first; click one to open it. */
import { rate } from '../format'
import type { Route } from '../route'
import type { StreamState } from '../stream'

export function ChannelsPage({ stream, search, onSearch, navigate }: { stream: StreamState; search: string; onSearch: (q: string) => void; navigate: (route: Route) => void }) {
  const list = stream.channels
  return (
    <div className="page">
      <header className="page-head">
        <h1>Channels {list && <span className="muted">· {list.total}</span>}</h1>
        <input data-testid="channel-search" className="search" placeholder="Search topics…" value={search} onChange={(e) => onSearch(e.target.value)} />
      </header>
      <div className="card flush">
        <table data-testid="channels">
          <thead>
            <tr><th>topic</th><th></th><th className="num">subscribers</th><th className="num">presences</th><th>postgres_changes</th><th className="num">broadcasts /s</th><th className="num">changes /s</th></tr>
          </thead>
          <tbody>
            {(list?.channels ?? []).map((c) => (
              <tr key={c.key} className="clickable" data-testid="channel-row" data-key={c.key} onClick={() => navigate({ page: 'channel', key: c.key })}>
                <td className="mono">{c.topic}</td>
                <td><span className={`badge ${c.private ? 'private' : 'public'}`}>{c.private ? 'private' : 'public'}</span></td>
                <td className="num" data-testid="channel-subscribers">{c.subscribers}</td>
                <td className="num">{c.presences}</td>
                <td className="small mono">{c.bindings.join('; ') || <span className="muted">—</span>}</td>
                <td className="num mono">{rate(c.messagesPerSecond)}</td>
                <td className="num mono">{rate(c.changesPerSecond)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {list && list.channels.length === 0 && <p className="muted pad">{search ? 'No channel matches.' : 'No channel is joined on this node.'}</p>}
        {!list && <p className="muted pad">Loading…</p>}
      </div>
    </div>
  )
}
