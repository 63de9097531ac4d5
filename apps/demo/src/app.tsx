/**
 * The shell: session, realtime provider, router, sidebar, header (connection indicator,
 * simulator switch, tenant and user), notifications, and the page presence ("Who's viewing").
 */
import { createContext, useContext, useEffect, useRef, useState, useSyncExternalStore, type ReactNode } from 'react'
import { QueryClient, QueryClientProvider, useQuery, useQueryClient } from '@tanstack/react-query'
import { RealtimeProvider, useConnectionStatus, usePostgresChanges, usePresence, useRealtimeManager, useRealtimeQuery } from '@switchboard/react'
import type { RealtimeConfig } from '@switchboard/client'
import { browserLifecycle } from '@switchboard/client/lifecycle'
import { api } from './api'
import { currentToken, loadSession, saveSession, signIn, type Session, type SignInUser } from './session'
import type { Activity, Bid, Call, Message, SimulatorSettings } from './types'
import { Avatar, PresenceStack, ToastProvider, useToasts } from './ui'
import { ActivityPage } from './pages/activity'
import { BidsPage } from './pages/bids'
import { CallsPage } from './pages/calls'
import { ChartPage } from './pages/chart'
import { InboxPage } from './pages/inbox'
import { MaintenancePage } from './pages/maintenance'

// ---- session ----

interface SessionValue {
  user: SignInUser
  tenantId: string
  isAdmin: boolean
  signOut(): void
}

const SessionContext = createContext<SessionValue | null>(null)

export function useSession(): SessionValue {
  const value = useContext(SessionContext)
  if (!value) throw new Error('useSession outside the signed-in app')
  return value
}

/** The tenant filter every table binding carries (RLS enforces it anyway; this keeps the server's work small). */
export const tenantFilter = (tenantId: string) => `tenant_id=eq.${tenantId}`

// ---- router ----

const PAGES = [
  { path: '/calls', label: 'Live calls', icon: '☎', component: CallsPage },
  { path: '/activity', label: 'Activity feed', icon: '≡', component: ActivityPage },
  { path: '/inbox', label: 'Inbox', icon: '✉', component: InboxPage },
  { path: '/chart', label: 'Live chart', icon: '▁▃▆', component: ChartPage },
  { path: '/bids', label: 'Campaign bids', icon: '$', component: BidsPage },
  { path: '/maintenance', label: 'Maintenance', icon: '⚙', component: MaintenancePage },
] as const

function usePath(): [string, (path: string) => void] {
  const [path, setPath] = useState(() => window.location.pathname)
  useEffect(() => {
    const onPop = () => setPath(window.location.pathname)
    window.addEventListener('popstate', onPop)
    return () => window.removeEventListener('popstate', onPop)
  }, [])
  const navigate = (next: string) => {
    if (next !== window.location.pathname) window.history.pushState(null, '', next)
    setPath(next)
  }
  return [path, navigate]
}

// ---- sign-in ----

function SignInPage({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const config = useQuery({ queryKey: ['demo-config'], queryFn: async () => (await (await fetch('/demo/config')).json()) as { users: SignInUser[] } })
  const [busy, setBusy] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const tenants = new Map<string, SignInUser[]>()
  for (const u of config.data?.users ?? []) tenants.set(u.tenantName, [...(tenants.get(u.tenantName) ?? []), u])
  return (
    <div className="signin">
      <div className="signin-panel">
        <div className="brand brand-large"><span className="brand-mark">⚡</span> Switchboard Ops</div>
        <p className="muted">Live operations for multi-tenant teams. Pick a seeded demo user: each tenant only ever sees its own data, and viewers only the phone numbers assigned to them, enforced by Postgres row-level security.</p>
        {config.isError && <div className="alert">Could not load the demo users. Is the dev token endpoint enabled?</div>}
        {error && <div className="alert">{error}</div>}
        {[...tenants].map(([tenant, users]) => (
          <div key={tenant} className="signin-tenant">
            <h3>{tenant}</h3>
            {users.map((u) => (
              <button
                key={u.id}
                className="signin-user"
                data-testid={`signin-${u.email}`}
                disabled={busy !== null}
                onClick={() => {
                  setBusy(u.id)
                  setError(null)
                  signIn(u.id).then(onSignedIn, (e: Error) => {
                    setError(e.message)
                    setBusy(null)
                  })
                }}
              >
                <Avatar name={u.name} color={u.color} size={36} />
                <span className="signin-user-text">
                  <strong>{u.name}</strong>
                  <span className="muted">{u.title} · {u.email}</span>
                </span>
                <span className={`badge badge-${u.role === 'ADMIN' ? 'indigo' : 'slate'}`}>{u.role}</span>
              </button>
            ))}
          </div>
        ))}
        <p className="muted small">Dev-only sign-in: the server mints a JWT (role <code>authenticated</code>, <code>tenant_id</code>, <code>app_role</code>) for the chosen user.</p>
      </div>
    </div>
  )
}

// ---- connection indicator ----

function useOnline(): boolean {
  const [online, setOnline] = useState(() => navigator.onLine)
  useEffect(() => {
    const up = () => setOnline(true)
    const down = () => setOnline(false)
    window.addEventListener('online', up)
    window.addEventListener('offline', down)
    return () => {
      window.removeEventListener('online', up)
      window.removeEventListener('offline', down)
    }
  }, [])
  return online
}

type Indicator = 'live' | 'offline' | 'reconnecting' | 'connecting' | 'idle' | 'error'

function ConnectionIndicator() {
  const online = useOnline()
  const { status, connectionLost } = useConnectionStatus({ lostAfterMs: 3000 })
  const toasts = useToasts()
  const queryClient = useQueryClient()
  const manager = useRealtimeManager()
  const channels = useSyncExternalStore(manager.statsStore.subscribe, manager.statsStore.getSnapshot)
  const state: Indicator = !online ? 'offline' : status === 'connected' ? 'live' : status === 'reconnecting' ? 'reconnecting' : status === 'connecting' ? 'connecting' : status === 'error' ? 'error' : 'idle'
  const label = { live: 'Live', offline: 'Offline', reconnecting: 'Reconnecting…', connecting: 'Connecting…', idle: 'Idle', error: 'Disconnected' }[state]

  // Toasts for losing and regaining the connection.
  const wasDown = useRef(false)
  useEffect(() => {
    if (!online || connectionLost) {
      wasDown.current = true
      toasts.push({ kind: 'connection', key: 'connection', sticky: true, title: online ? 'Connection lost' : 'You are offline', body: online ? 'Reconnecting to Switchboard…' : 'Live updates resume when the network is back.' })
    }
  }, [online, connectionLost, toasts])
  // Back: refetch everything once (the hooks also invalidate on the gap), then say so.
  const previous = useRef(status)
  useEffect(() => {
    const before = previous.current
    previous.current = status
    if (status === 'connected' && before !== 'connected' && wasDown.current) {
      wasDown.current = false
      void queryClient.invalidateQueries()
      toasts.dismiss('connection')
      toasts.push({ kind: 'success', key: 'connection', title: 'Back online', body: 'Caught up with what changed meanwhile.' })
    }
  }, [status, queryClient, toasts])
  useEffect(() => {
    if (online) void queryClient.invalidateQueries()
  }, [online, queryClient])

  return (
    <div className={`conn conn-${state}`} data-testid="connection-indicator" data-state={state} data-status={status} data-channels={channels.total} data-channels-connected={channels.byStatus.connected} title={`socket: ${status} · channels: ${channels.byStatus.connected}/${channels.total} joined`}>
      <span className="conn-dot" />
      {label}
    </div>
  )
}

// ---- notifications ----

/** Toasts for new calls, inbound messages, bids and system alerts, straight from Postgres Changes. */
function Notifier() {
  const { tenantId, user } = useSession()
  const toasts = useToasts()
  const filter = tenantFilter(tenantId)
  const phones = useQuery({ queryKey: ['phones', tenantId], queryFn: api.phones })
  usePostgresChanges<Call>({ table: 'calls', filter, tenantId }, (change) => {
    if (change.eventType !== 'INSERT') return
    const phone = phones.data?.find((p) => p.id === change.new.phone_number_id)
    toasts.push({ kind: 'call', title: `Incoming call · ${phone?.label ?? 'line'}`, body: `${change.new.caller_name} (${change.new.from_number})` })
  })
  usePostgresChanges<Message>({ table: 'messages', event: 'INSERT', filter, tenantId }, (change) => {
    if (change.eventType !== 'INSERT' || change.new.user_id === user.id) return
    toasts.push({ kind: 'message', title: `Message from ${change.new.author_name}`, body: change.new.body })
  })
  usePostgresChanges<Bid>({ table: 'bids', event: 'INSERT', filter, tenantId }, (change) => {
    if (change.eventType !== 'INSERT') return
    toasts.push({ kind: 'bid', title: `New bid ${'$' + Number(change.new.amount).toFixed(2)}`, body: change.new.bidder })
  })
  usePostgresChanges<Activity>({ table: 'activity', event: 'INSERT', filter, tenantId }, (change) => {
    if (change.eventType === 'INSERT' && change.new.kind === 'alert') toasts.push({ kind: 'alert', title: 'System alert', body: change.new.message })
  })
  return null
}

// ---- simulator switch ----

function SimulatorSwitch() {
  const { tenantId, isAdmin } = useSession()
  const toasts = useToasts()
  const settings = useRealtimeQuery<SimulatorSettings>({
    queryKey: ['simulator', tenantId],
    queryFn: api.simulator,
    realtime: { table: 'sim_settings', filter: tenantFilter(tenantId), tenantId },
    mode: 'invalidate',
  })
  const [pending, setPending] = useState(false)
  const data = settings.data
  const change = (enabled: boolean, rate: number) => {
    setPending(true)
    api.setSimulator(enabled, rate).catch((e: Error) => toasts.push({ kind: 'error', title: 'Simulator', body: e.message })).finally(() => setPending(false))
  }
  return (
    <div className="sim" data-testid="simulator" title={isAdmin ? 'Writes realistic calls and messages into Postgres' : 'Only admins can switch the simulator'}>
      <label className="switch">
        <input type="checkbox" data-testid="simulator-toggle" disabled={!isAdmin || pending || !data} checked={data?.enabled ?? false} onChange={(e) => change(e.target.checked, data?.ratePerMinute ?? 20)} />
        <span className="switch-track"><span className="switch-thumb" /></span>
        <span>Simulator</span>
      </label>
      <select disabled={!isAdmin || pending || !data} value={data?.ratePerMinute ?? 20} onChange={(e) => change(data?.enabled ?? true, Number(e.target.value))} aria-label="Simulator rate">
        {[6, 20, 60, 120, 300].map((r) => <option key={r} value={r}>{r}/min</option>)}
      </select>
    </div>
  )
}

// ---- layout ----

function PagePresence({ page }: { page: string }) {
  const { user, tenantId } = useSession()
  const { users } = usePresence({ entityType: 'page', entityId: page, tenantId, private: true }, { id: user.id, name: user.name, email: user.email }, { color: user.color, role: user.role, page })
  return <PresenceStack users={users} me={user.id} />
}

function Shell({ path, navigate, children, pageKey }: { path: string; navigate: (p: string) => void; children: ReactNode; pageKey: string }) {
  const session = useSession()
  const { user } = session
  return (
    <div className="shell">
      <aside className="sidebar">
        <div className="brand"><span className="brand-mark">⚡</span> Switchboard Ops</div>
        <div className="tenant-chip" data-testid="tenant-name">
          <span className="tenant-dot" style={{ background: user.tenantName.startsWith('Acme') ? '#6366f1' : '#f59e0b' }} />
          {user.tenantName}
        </div>
        <nav>
          {PAGES.map((p) => (
            <a
              key={p.path}
              href={p.path}
              data-testid={`nav-${p.path.slice(1)}`}
              className={path === p.path ? 'active' : ''}
              onClick={(e) => {
                e.preventDefault()
                navigate(p.path)
              }}
            >
              <span className="nav-icon">{p.icon}</span>
              {p.label}
            </a>
          ))}
        </nav>
        <div className="sidebar-foot">
          <span className="muted small">Realtime by Switchboard · data under RLS</span>
        </div>
      </aside>
      <div className="main">
        <header className="topbar">
          <h1>{PAGES.find((p) => p.path === path)?.label ?? ''}</h1>
          <PagePresence page={pageKey} />
          <div className="topbar-right">
            <SimulatorSwitch />
            <ConnectionIndicator />
            <div className="me" data-testid="current-user" data-user-id={user.id}>
              <Avatar name={user.name} color={user.color} size={32} />
              <div className="me-text">
                <strong>{user.name}</strong>
                <span className="muted small">{user.role === 'ADMIN' ? 'Admin' : 'Viewer'} · {user.tenantName}</span>
              </div>
              <button className="btn btn-ghost btn-sm" data-testid="sign-out" onClick={session.signOut}>Sign out</button>
            </div>
          </div>
        </header>
        <main className="content">{children}</main>
      </div>
    </div>
  )
}

function SignedIn({ session, onSignOut }: { session: Session & { anonKey: string }; onSignOut: () => void }) {
  const [path, navigate] = usePath()
  const page = PAGES.find((p) => p.path === path)
  useEffect(() => {
    if (!page) navigate('/calls')
  }, [page, navigate])
  const [config] = useState<RealtimeConfig>(() => ({
    url: window.location.origin,
    apiKey: session.anonKey,
    accessToken: () => currentToken(),
    heartbeatIntervalMs: 5000,
    reconnect: { baseDelayMs: 500, maxDelayMs: 5000, maxAttempts: 1000 },
    connectionRetry: { maxAttempts: 1000 }, // the socket's own schedule; never give up in the demo
    plugins: [browserLifecycle()], // online/offline, visibility and probes (opt-in)
  }))
  const value: SessionValue = { user: session.user, tenantId: session.user.tenantId, isAdmin: session.user.role === 'ADMIN', signOut: onSignOut }
  const Page = (page ?? PAGES[0]).component
  return (
    <SessionContext.Provider value={value}>
      <RealtimeProvider config={config}>
        <Notifier />
        <Shell path={path} navigate={navigate} pageKey={(page ?? PAGES[0]).path.slice(1)}>
          <Page />
        </Shell>
      </RealtimeProvider>
    </SessionContext.Provider>
  )
}

const queryClient = new QueryClient({
  defaultOptions: { queries: { staleTime: 30_000, refetchOnWindowFocus: false, retry: 1 } },
})

export function App() {
  const [session, setSession] = useState<(Session & { anonKey: string }) | null>(null)
  const [anonKey, setAnonKey] = useState<string | null>(null)
  useEffect(() => {
    fetch('/demo/config').then((r) => r.json() as Promise<{ anonKey: string }>).then((c) => setAnonKey(c.anonKey), () => setAnonKey(''))
  }, [])
  useEffect(() => {
    if (anonKey === null) return
    const saved = loadSession()
    if (saved && saved.expiresAt > Date.now()) setSession({ ...saved, anonKey })
  }, [anonKey])
  const signOut = () => {
    saveSession(null)
    queryClient.clear()
    setSession(null)
    window.history.pushState(null, '', '/')
  }
  return (
    <QueryClientProvider client={queryClient}>
      <ToastProvider>
        {session ? (
          <SignedIn key={session.user.id} session={session} onSignOut={signOut} />
        ) : anonKey === null ? (
          <div className="loading">Loading…</div>
        ) : (
          <SignInPage onSignedIn={(s) => setSession({ ...s, anonKey })} />
        )}
      </ToastProvider>
    </QueryClientProvider>
  )
}
