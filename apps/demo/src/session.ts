/** The signed-in demo user and their JWT (per tab: sessionStorage), refreshed before expiry. */
export interface SignInUser {
  id: string
  name: string
  email: string
  role: 'ADMIN' | 'VIEWER'
  title: string
  color: string
  tenantId: string
  tenantName: string
}

export interface Session {
  user: SignInUser
  token: string
  /** ms since epoch */
  expiresAt: number
}

const KEY = 'switchboard-ops-session'

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY)
    return raw ? (JSON.parse(raw) as Session) : null
  } catch {
    return null
  }
}

export function saveSession(session: Session | null): void {
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session))
  else sessionStorage.removeItem(KEY)
}

export async function signIn(userId: string): Promise<Session> {
  const response = await fetch('/demo/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId }) })
  if (!response.ok) throw new Error(`sign-in failed (${response.status})`)
  const body = (await response.json()) as { token: string; expiresIn: number; user: SignInUser }
  const session = { user: body.user, token: body.token, expiresAt: Date.now() + body.expiresIn * 1000 }
  saveSession(session)
  return session
}

let refreshing: Promise<Session> | null = null

/** A token valid for at least another minute (refreshing through the dev endpoint if needed). */
export async function currentToken(): Promise<string | null> {
  const session = loadSession()
  if (!session) return null
  if (session.expiresAt - Date.now() > 60_000) return session.token
  refreshing ??= signIn(session.user.id).finally(() => {
    refreshing = null
  })
  return (await refreshing).token
}
