/** REST calls to the demo API (initial data and actions; RLS applies to every one of them). */
import { currentToken } from './session'
import type { Activity, Assignment, Attachment, Bid, Call, Campaign, Conversation, Me, Message, PhoneNumber, Report, SimulatorSettings, Stats, Tree, TeamUser } from './types'

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
  }
}

async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const token = await currentToken()
  const response = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${token ?? ''}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  if (!response.ok) {
    const detail = (await response.json().catch(() => ({}))) as { error?: string }
    throw new ApiError(response.status, detail.error ?? `${method} ${path} failed (${response.status})`)
  }
  return (await response.json()) as T
}

const get = <T>(path: string) => request<T>('GET', path)
const post = <T>(path: string, body: unknown = {}) => request<T>('POST', path, body)

export const api = {
  me: () => get<Me>('/api/me'),
  users: () => get<TeamUser[]>('/api/users'),
  phones: () => get<PhoneNumber[]>('/api/phones'),
  calls: () => get<Call[]>('/api/calls'),
  callsPerMinute: () => get<{ minute: number; count: number }[]>('/api/calls/per-minute'),
  activity: (limit = 5000) => get<Activity[]>(`/api/activity?limit=${limit}`),
  conversations: () => get<Conversation[]>('/api/conversations'),
  messages: (conversationId: string, before?: string) =>
    get<Message[]>(`/api/conversations/${conversationId}/messages?limit=25${before ? `&before=${encodeURIComponent(before)}` : ''}`),
  assignments: (conversationId: string) => get<Assignment[]>(`/api/conversations/${conversationId}/assignments`),
  campaigns: () => get<Campaign[]>('/api/campaigns'),
  bids: () => get<Bid[]>('/api/bids'),
  tree: () => get<Tree>('/api/maintenance/tree'),
  reports: () => get<Report[]>('/api/reports'),
  attachments: (reportId: string) => get<Attachment[]>(`/api/reports/${reportId}/attachments`),
  stats: () => get<Stats>('/api/stats'),
  simulator: () => get<SimulatorSettings>('/api/simulator'),

  createCall: (phoneNumberId: string, callerName: string, fromNumber: string) => post<Call>('/api/calls', { phoneNumberId, callerName, fromNumber }),
  answerCall: (id: string) => post<Call>(`/api/calls/${id}/answer`),
  completeCall: (id: string) => post<Call>(`/api/calls/${id}/complete`),
  sendMessage: (conversationId: string, body: string) => post<Message>(`/api/conversations/${conversationId}/messages`, { body }),
  assign: (conversationId: string, userId: string | null) => post<Conversation>(`/api/conversations/${conversationId}/assign`, { userId }),
  setConversationStatus: (conversationId: string, status: string) => post<Conversation>(`/api/conversations/${conversationId}/status`, { status }),
  placeBid: (campaignId: string, amount: number, bidder: string) => post<Bid>(`/api/campaigns/${campaignId}/bids`, { amount, bidder }),
  setReportStatus: (reportId: string, status: string) => post<Report>(`/api/reports/${reportId}/status`, { status }),
  addAttachment: (reportId: string, fileName: string, sizeBytes: number) => post<Attachment>(`/api/reports/${reportId}/attachments`, { fileName, sizeBytes }),
  setSimulator: (enabled: boolean, ratePerMinute: number) => post<SimulatorSettings>('/api/simulator', { enabled, ratePerMinute }),
}
