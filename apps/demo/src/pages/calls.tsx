/**
 * Live calls: one lane per phone number the user may see (RLS), calls moving ringing →
 * in progress → completed with a ticking duration, kept current by `useRealtimeQuery` in patch
 * mode (Postgres Changes on `calls`).
 */
import { useMemo, useState } from 'react'
import { useQuery } from '@tanstack/react-query'
import { useRealtimeQuery, useRealtimeSync } from '@switchboard/react'
import { api } from '../api'
import { tenantFilter, useSession } from '../app'
import type { Call, PhoneNumber, Stats } from '../types'
import { Badge, Card, Empty, Stat, clock, duration, ts, useNow, useToasts } from '../ui'

const STATUS: Record<Call['status'], { label: string; tone: string }> = {
  ringing: { label: 'Ringing', tone: 'amber' },
  in_progress: { label: 'In progress', tone: 'green' },
  completed: { label: 'Completed', tone: 'slate' },
  missed: { label: 'Missed', tone: 'red' },
}

const CALLERS = ['Grace Kim', 'Owen Ross', 'Isla Murphy', 'Theo Adams', 'Mia Turner', 'Leo Bennett']

export function useStats() {
  const { tenantId } = useSession()
  const filter = tenantFilter(tenantId)
  // Stats are aggregates: invalidate (batched) whenever calls or reports change.
  const stats = useRealtimeQuery<Stats>({ queryKey: ['stats', tenantId], queryFn: api.stats, realtime: { table: 'calls', filter, tenantId }, mode: 'invalidate', batchMs: 1000 })
  useRealtimeSync(['stats', tenantId], { table: 'maintenance_reports', filter, tenantId }, { mode: 'invalidate', batchMs: 1000 })
  return stats
}

function CallRow({ call, now, canAct }: { call: Call; now: number; canAct: boolean }) {
  const toasts = useToasts()
  const active = call.status === 'ringing' || call.status === 'in_progress'
  const since = call.status === 'in_progress' ? ts(call.answered_at) : ts(call.started_at)
  const shown = active ? now - since : ts(call.ended_at) - ts(call.answered_at ?? call.started_at)
  const act = (work: Promise<unknown>) => work.catch((e: Error) => toasts.push({ kind: 'error', title: 'Call', body: e.message }))
  return (
    <div className={`call call-${call.status}`} data-testid="call-row" data-call-id={call.id} data-phone-id={call.phone_number_id} data-status={call.status}>
      <div className="call-who">
        <strong>{call.caller_name}</strong>
        <span className="muted small">{call.from_number} · {clock(call.started_at)}</span>
      </div>
      <Badge tone={STATUS[call.status].tone} testId="call-status">{STATUS[call.status].label}</Badge>
      <span className={`call-duration mono${active ? ' ticking' : ''}`} data-testid="call-duration">{call.status === 'missed' ? '—' : duration(shown)}</span>
      <div className="call-actions">
        {canAct && call.status === 'ringing' && <button className="btn btn-sm btn-primary" onClick={() => act(api.answerCall(call.id))}>Answer</button>}
        {canAct && active && <button className="btn btn-sm" onClick={() => act(api.completeCall(call.id))}>{call.status === 'ringing' ? 'Decline' : 'Hang up'}</button>}
      </div>
    </div>
  )
}

function PhoneLane({ phone, calls, now }: { phone: PhoneNumber; calls: Call[]; now: number }) {
  const active = calls.filter((c) => c.status === 'ringing' || c.status === 'in_progress')
  const recent = calls.filter((c) => c.status !== 'ringing' && c.status !== 'in_progress').slice(0, 6)
  return (
    <Card
      className="lane"
      testId="phone-lane"
      title={<span data-testid="phone-label" data-phone-id={phone.id}>{phone.label} <span className="muted mono small">{phone.number}</span></span>}
      actions={<Badge tone={active.length ? 'green' : 'slate'}>{active.length} active</Badge>}
    >
      {active.length === 0 && <Empty>No active calls</Empty>}
      {active.map((c) => <CallRow key={c.id} call={c} now={now} canAct />)}
      {recent.length > 0 && <div className="lane-divider">Recent</div>}
      {recent.map((c) => <CallRow key={c.id} call={c} now={now} canAct={false} />)}
    </Card>
  )
}

export function CallsPage() {
  const { tenantId, isAdmin } = useSession()
  const toasts = useToasts()
  const phones = useQuery({ queryKey: ['phones', tenantId], queryFn: api.phones })
  const calls = useRealtimeQuery<Call[]>({
    queryKey: ['calls', tenantId],
    queryFn: api.calls,
    realtime: { table: 'calls', filter: tenantFilter(tenantId), tenantId },
    mode: 'patch',
    newestFirst: true,
  })
  const stats = useStats()
  const [creating, setCreating] = useState(false)
  const byPhone = useMemo(() => {
    const map = new Map<string, Call[]>()
    const sorted = [...(calls.data ?? [])].sort((a, b) => ts(b.started_at) - ts(a.started_at))
    for (const call of sorted) map.set(call.phone_number_id, [...(map.get(call.phone_number_id) ?? []), call])
    return map
  }, [calls.data])
  const anyActive = (calls.data ?? []).some((c) => c.status === 'ringing' || c.status === 'in_progress')
  const now = useNow(1000, anyActive)

  const simulateCall = () => {
    const list = phones.data ?? []
    const phone = list[Math.floor(Math.random() * list.length)]
    if (!phone) return
    setCreating(true)
    const caller = CALLERS[Math.floor(Math.random() * CALLERS.length)]!
    api.createCall(phone.id, caller, `+1 555 ${300 + Math.floor(Math.random() * 600)} ${String(Math.floor(Math.random() * 10000)).padStart(4, '0')}`)
      .catch((e: Error) => toasts.push({ kind: 'error', title: 'Could not create the call', body: e.message }))
      .finally(() => setCreating(false))
  }

  const s = stats.data
  return (
    <div className="page">
      <div className="stats-row">
        <Stat label="Active calls" value={(calls.data ?? []).filter((c) => c.status !== 'completed' && c.status !== 'missed').length} tone="green" testId="stat-active-calls" />
        <Stat label="Calls today" value={s?.callsToday ?? '–'} testId="stat-calls-today" hint={s ? `${s.missedToday} missed` : undefined} />
        <Stat label="Avg. time to answer" value={s ? `${Math.round(s.avgAnswerSeconds)} s` : '–'} hint="last 24 h" />
        <Stat label="Lines you can see" value={phones.data?.length ?? '–'} hint={isAdmin ? 'admin: all lines' : 'viewer: assigned lines'} />
      </div>
      <div className="toolbar">
        <span className="muted">Calls update live from Postgres through Switchboard; durations tick in the browser.</span>
        {isAdmin && <button className="btn btn-primary" data-testid="new-call" disabled={creating} onClick={simulateCall}>+ Simulate incoming call</button>}
      </div>
      {calls.isLoading || phones.isLoading ? (
        <div className="lanes"><Card className="lane skeleton"><Empty>Loading calls…</Empty></Card></div>
      ) : (
        <div className="lanes">
          {(phones.data ?? []).map((phone) => <PhoneLane key={phone.id} phone={phone} calls={byPhone.get(phone.id) ?? []} now={now} />)}
        </div>
      )}
    </div>
  )
}
