/**
 * The inspector page: sign in with a key, then one live stream for the tenant in view, whose
 * parameters follow the page shown (the channel list's search, one channel, the trace list).
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react'
import { api, ApiError, storedKey, storeKey } from './api'
import { ChannelPage } from './pages/channel'
import { ChannelsPage } from './pages/channels'
import { OverviewPage } from './pages/overview'
import { TracePage } from './pages/trace'
import { hrefOf, useRoute, type Route } from './route'
import { useInspectStream } from './stream'
import type { Session } from './types'

export function App() {
  const [session, setSession] = useState<Session | null>(null)
  const [checking, setChecking] = useState(() => storedKey() !== null)

  // A key kept from earlier in this tab: check it is still good.
  useEffect(() => {
    const key = storedKey()
    if (!key) return
    api.session(key).then(setSession, () => storeKey(null)).finally(() => setChecking(false))
  }, [])

  const signOut = useCallback(() => {
    storeKey(null)
    setSession(null)
  }, [])

  if (checking) return <div className="loading">Checking the key…</div>
  if (!session) return <SignIn onSignedIn={setSession} />
  return <Shell session={session} onSignOut={signOut} />
}

function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [key, setKey] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (event: FormEvent) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const session = await api.session(key.trim())
      storeKey(key.trim())
      onSignedIn(session)
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'This key opens nothing here: use the admin key or a service_role key of a tenant.' : (err as Error).message)
    } finally {
      setBusy(false)
    }
  }
  return (
    <div className="signin">
      <form className="card signin-card" onSubmit={submit}>
        <div className="brand brand-large"><span className="brand-mark">⌕</span> Switchboard Inspector</div>
        <p className="muted">Every tenant, channel and presence live, and why a message did or did not reach someone.</p>
        <label>
          Admin key or a tenant&apos;s service_role key
          <input data-testid="signin-key" type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} placeholder="ADMIN_KEY or eyJ…" />
        </label>
        <button data-testid="signin-submit" className="primary" disabled={busy || key.trim() === ''}>Sign in</button>
        {error && <div className="alert" data-testid="signin-error">{error}</div>}
        <p className="small muted">The key stays in this tab only (session storage) and goes to the server in a header.</p>
      </form>
    </div>
  )
}

const NAV: { page: Route['page']; label: string; icon: string }[] = [
  { page: 'overview', label: 'Overview', icon: '◴' },
  { page: 'channels', label: 'Channels', icon: '#' },
  { page: 'trace', label: 'Delivery trace', icon: '⇢' },
]

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const [route, navigate] = useRoute()
  const [tenant, setTenant] = useState(session.tenants[0] ?? 'default')
  const [search, setSearch] = useState('')
  // The search reopens the stream with its new `q`: once typing pauses, not per keystroke.
  const [q, setQ] = useState('')
  useEffect(() => {
    const timer = setTimeout(() => setQ(search), 250)
    return () => clearTimeout(timer)
  }, [search])
  const stream = useInspectStream(
    tenant,
    { ...(route.page === 'channels' ? { q } : {}), ...(route.page === 'channel' ? { channel: route.key } : {}), ...(route.page === 'trace' ? { recent: true } : {}) },
    onSignOut,
  )
  const tracing = stream.overview?.tracing
  const active = route.page === 'channel' ? 'channels' : route.page
  return (
    <div className="shell">
      <aside className="sidebar">
        <div className="brand"><span className="brand-mark">⌕</span> Inspector</div>
        <div className="tenant-chip" data-testid="tenant-chip">
          {session.tenants.length > 1 ? (
            <select data-testid="tenant-select" value={tenant} onChange={(e) => setTenant(e.target.value)}>
              {session.tenants.map((t) => <option key={t}>{t}</option>)}
            </select>
          ) : (
            <span data-testid="tenant-name">{tenant}</span>
          )}
          <span className="scope">{session.scope === 'admin' ? 'admin' : 'service_role'}</span>
        </div>
        <nav>
          {NAV.map((item) => (
            <a key={item.page} href={hrefOf({ page: item.page } as Route)} className={active === item.page ? 'active' : ''} data-testid={`nav-${item.page}`}>
              <span className="nav-icon">{item.icon}</span>
              {item.label}
            </a>
          ))}
        </nav>
        <div className="sidebar-foot">
          <div className={`live-dot ${stream.status}`} data-testid="stream-status" data-state={stream.status}>
            {stream.status === 'live' ? 'live' : stream.status === 'retrying' ? 'reconnecting…' : 'connecting…'}
          </div>
          {tracing && (
            <div className="small" data-testid="tracing" data-on={String(tracing.on)}>
              tracing {tracing.on ? 'on' : 'off'} · {tracing.messages}/{tracing.maxMessages} messages
            </div>
          )}
          <button className="link" data-testid="signout" onClick={onSignOut}>Sign out</button>
        </div>
      </aside>
      <main className="main">
        {route.page === 'overview' && <OverviewPage tenant={tenant} stream={stream} />}
        {route.page === 'channels' && <ChannelsPage stream={stream} search={search} onSearch={setSearch} navigate={navigate} />}
        {route.page === 'channel' && <ChannelPage tenant={tenant} channelKey={route.key} stream={stream} navigate={navigate} />}
        {route.page === 'trace' && <TracePage tenant={tenant} route={route} stream={stream} navigate={navigate} />}
      </main>
    </div>
  )
}
