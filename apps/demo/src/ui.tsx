/** Small building blocks: formatting, the ticking clock, toasts, badges, avatars, cards. */
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import type { PresenceUser } from '@switchboard/client'

export const ts = (value: string | null | undefined): number => (value ? new Date(value).getTime() : 0)

export function duration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000))
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}` : `${m}:${String(s).padStart(2, '0')}`
}

export function timeAgo(value: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ts(value)) / 1000))
  if (s < 45) return 'just now'
  if (s < 3600) return `${Math.round(s / 60)} min ago`
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`
  return `${Math.round(s / 86_400)} d ago`
}

export const clock = (value: string) => new Date(value).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
export const money = (n: number) => `$${Number(n).toFixed(2)}`
export const initials = (name: string) => name.split(/\s+/).map((part) => part[0] ?? '').join('').slice(0, 2).toUpperCase()

/** The current time, re-rendering every `intervalMs` (ticking durations). */
export function useNow(intervalMs = 1000, enabled = true): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    if (!enabled) return
    const timer = setInterval(() => setNow(Date.now()), intervalMs)
    return () => clearInterval(timer)
  }, [intervalMs, enabled])
  return now
}

export function Badge({ tone, children, testId }: { tone: string; children: ReactNode; testId?: string }) {
  return <span className={`badge badge-${tone}`} data-testid={testId}>{children}</span>
}

export function Avatar({ name, color, size = 28, title }: { name: string; color?: string | undefined; size?: number; title?: string }) {
  return (
    <span className="avatar" title={title ?? name} style={{ width: size, height: size, fontSize: size * 0.4, background: color ?? '#64748b' }}>
      {initials(name)}
    </span>
  )
}

export function Card({ title, actions, children, className = '', testId }: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string; testId?: string }) {
  return (
    <section className={`card ${className}`} data-testid={testId}>
      {(title || actions) && (
        <header className="card-header">
          <h2>{title}</h2>
          <div className="card-actions">{actions}</div>
        </header>
      )}
      <div className="card-body">{children}</div>
    </section>
  )
}

export function Stat({ label, value, hint, tone = 'default', testId }: { label: string; value: ReactNode; hint?: ReactNode; tone?: string; testId?: string }) {
  return (
    <div className={`stat stat-${tone}`} data-testid={testId}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {hint && <div className="stat-hint">{hint}</div>}
    </div>
  )
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>
}

/** Avatars of the users present (Who's viewing). */
export function PresenceStack({ users, me, label = 'Viewing' }: { users: PresenceUser[]; me?: string | undefined; label?: string }) {
  return (
    <div className="presence" data-testid="presence" data-count={users.length}>
      <span className="presence-label">{label}</span>
      <div className="presence-avatars">
        {users.slice(0, 6).map((u) => (
          <span key={u.userId} className={`presence-user${u.userId === me ? ' is-me' : ''}`} data-testid="presence-user" data-user-id={u.userId} data-user-name={u.userName}>
            <Avatar name={u.userName} color={typeof u.color === 'string' ? u.color : undefined} size={26} title={`${u.userName}${u.userId === me ? ' (you)' : ''}`} />
          </span>
        ))}
        {users.length > 6 && <span className="presence-more">+{users.length - 6}</span>}
      </div>
    </div>
  )
}

// ---- toasts ----

export interface Toast {
  id: number
  kind: 'call' | 'message' | 'bid' | 'alert' | 'connection' | 'error' | 'success'
  title: string
  body?: string | undefined
  /** Stays until dismissed or replaced (connection toasts). */
  sticky?: boolean
  key?: string
}

interface ToastApi {
  push(toast: Omit<Toast, 'id'>): void
  dismiss(key: string): void
}

const ToastContext = createContext<ToastApi>({ push: () => undefined, dismiss: () => undefined })

export const useToasts = () => useContext(ToastContext)

const ICONS: Record<Toast['kind'], string> = { call: '☎', message: '✉', bid: '$', alert: '!', connection: '⟳', error: '×', success: '✓' }

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([])
  const next = useRef(1)
  const timers = useRef(new Map<number, ReturnType<typeof setTimeout>>())

  const remove = useCallback((id: number) => {
    setToasts((list) => list.filter((t) => t.id !== id))
    const timer = timers.current.get(id)
    if (timer) clearTimeout(timer)
    timers.current.delete(id)
  }, [])

  const push = useCallback((toast: Omit<Toast, 'id'>) => {
    const id = next.current++
    setToasts((list) => [...list.filter((t) => !toast.key || t.key !== toast.key), { ...toast, id }].slice(-4))
    if (!toast.sticky) timers.current.set(id, setTimeout(() => remove(id), 5000))
  }, [remove])

  const dismiss = useCallback((key: string) => setToasts((list) => list.filter((t) => t.key !== key)), [])

  useEffect(() => {
    const all = timers.current
    return () => all.forEach((timer) => clearTimeout(timer))
  }, [])

  const api = useMemo(() => ({ push, dismiss }), [push, dismiss])
  return (
    <ToastContext.Provider value={api}>
      {children}
      <div className="toasts" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.kind}`} data-testid="toast" data-kind={t.kind}>
            <span className="toast-icon">{ICONS[t.kind]}</span>
            <div className="toast-text">
              <strong>{t.title}</strong>
              {t.body && <span>{t.body}</span>}
            </div>
            <button className="toast-close" onClick={() => remove(t.id)} aria-label="Dismiss">×</button>
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  )
}
