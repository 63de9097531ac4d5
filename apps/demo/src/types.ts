/** Row shapes (as the REST API and the realtime payloads deliver them: timestamps as ISO strings). */
export type Row = Record<string, unknown>

export interface Me { id: string; name: string; email: string; role: 'ADMIN' | 'VIEWER'; title: string; color: string; tenantId: string; tenantName: string }
export interface TeamUser { id: string; name: string; email: string; role: string; title: string; color: string }
export interface PhoneNumber { id: string; tenant_id: string; number: string; label: string }
export type CallStatus = 'ringing' | 'in_progress' | 'completed' | 'missed'
export interface Call {
  [key: string]: unknown
  id: string; tenant_id: string; phone_number_id: string; from_number: string; caller_name: string; status: CallStatus
  answered_by: string | null; started_at: string; answered_at: string | null; ended_at: string | null
}
export interface Activity { [key: string]: unknown; id: number; tenant_id: string; phone_number_id: string | null; kind: string; message: string; created_at: string }
export interface Conversation {
  [key: string]: unknown
  id: string; tenant_id: string; phone_number_id: string | null; contact_name: string; contact_phone: string; subject: string
  status: 'open' | 'pending' | 'closed'; assigned_to: string | null; last_message_at: string; last_message: string
}
export interface Message { [key: string]: unknown; id: string; tenant_id: string; conversation_id: string; direction: 'inbound' | 'outbound'; author_name: string; user_id: string | null; body: string; created_at: string }
export interface Assignment { [key: string]: unknown; id: string; conversation_id: string; user_id: string | null; assigned_by: string | null; created_at: string }
export interface Campaign { [key: string]: unknown; id: string; tenant_id: string; name: string; channel: string; reserve: number; ends_at: string }
export interface Bid { [key: string]: unknown; id: string; tenant_id: string; campaign_id: string; bidder: string; amount: number; user_id: string | null; created_at: string }
export interface Location { id: string; name: string; city: string }
export interface Client { id: string; location_id: string; name: string }
export interface Project { id: string; client_id: string; name: string }
export interface Asset { id: string; project_id: string; name: string; kind: string }
export interface Tree { locations: Location[]; clients: Client[]; projects: Project[]; assets: Asset[] }
export interface Report {
  [key: string]: unknown
  id: string; tenant_id: string; asset_id: string; title: string; priority: 'low' | 'normal' | 'high' | 'urgent'; status: 'open' | 'in_progress' | 'resolved'
  reported_at: string; acknowledged_at: string | null; resolved_at: string | null; updated_at: string
}
export interface Attachment { [key: string]: unknown; id: string; report_id: string; file_name: string; size_bytes: number; uploaded_by: string | null; created_at: string }
export interface Stats {
  callsToday: number; missedToday: number; activeCalls: number; avgAnswerSeconds: number
  openReports: number; inProgressReports: number; resolvedReports: number; avgResponseMinutes: number
}
export interface SimulatorSettings { enabled: boolean; ratePerMinute: number }
