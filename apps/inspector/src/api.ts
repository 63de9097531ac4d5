/**
 * The inspector API over fetch, with the key the operator signed in with (per tab, in
 * sessionStorage; sent as `Authorization: Bearer`, never in a URL).
 */
import type { ChannelDetail, ChannelSummary, MessageSummary, Overview, Session, TraceReport } from './types'

const KEY = 'switchboard-inspector-key'

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY)
}

export function storeKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY, key)
  else sessionStorage.removeItem(KEY)
}

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
  }
}

export function authHeaders(key = storedKey()): Record<string, string> {
  return key ? { authorization: `Bearer ${key}` } : {}
}

async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown, key?: string): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: { ...authHeaders(key), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const json = (await response.json().catch(() => ({}))) as T & { error?: string }
  if (!response.ok) throw new ApiError(response.status, json.error ?? `${method} ${path} failed (${response.status})`)
  return json
}

const tenantPath = (tenant: string) => `/api/inspect/tenants/${encodeURIComponent(tenant)}`

export const api = {
  session: (key: string) => request<Session>('GET', '/api/inspect/session', undefined, key),
  overview: (tenant: string) => request<Overview>('GET', `${tenantPath(tenant)}/overview`),
  channels: (tenant: string, q: string) => request<{ total: number; channels: ChannelSummary[] }>('GET', `${tenantPath(tenant)}/channels?q=${encodeURIComponent(q)}`),
  channel: (tenant: string, key: string) => request<ChannelDetail>('GET', `${tenantPath(tenant)}/channels/${encodeURIComponent(key)}`),
  messages: (tenant: string, filter: string) => request<{ tracing: boolean; messages: MessageSummary[] }>('GET', `${tenantPath(tenant)}/messages?${filter}`),
  trace: (tenant: string, query: string) => request<{ tenant: string; tracing: boolean; traces: TraceReport[] }>('GET', `/api/inspect/trace?tenant=${encodeURIComponent(tenant)}&${query}`),
  tracing: (tenant: string, minutes: number) => request<Overview['tracing']>('POST', `${tenantPath(tenant)}/tracing`, { minutes }),
  disconnect: (tenant: string, connection: number) => request<{ disconnected: number }>('POST', `${tenantPath(tenant)}/connections/${connection}/disconnect`, {}),
  broadcast: (tenant: string, message: { topic: string; event: string; payload: Record<string, unknown>; private: boolean }) =>
    request<{ sent: boolean }>('POST', `${tenantPath(tenant)}/broadcast`, message),
}
