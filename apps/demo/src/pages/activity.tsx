/**
 * Activity feed: thousands of rows, virtualized with @tanstack/react-virtual, new events
 * patched in at the top by `useRealtimeQuery` (batched: a burst is one render).
 */
import { useMemo, useRef, useState } from 'react'
import { useVirtualizer } from '@tanstack/react-virtual'
import { useRealtimeQuery } from '@switchboard/react'
import { api } from '../api'
import { tenantFilter, useSession } from '../app'
import type { Activity } from '../types'
import { Badge, Card, Stat, clock, timeAgo, ts, useNow } from '../ui'

const KINDS: Record<string, { tone: string; label: string }> = {
  call: { tone: 'green', label: 'Call' },
  message: { tone: 'blue', label: 'Message' },
  assignment: { tone: 'indigo', label: 'Assignment' },
  report: { tone: 'amber', label: 'Maintenance' },
  bid: { tone: 'pink', label: 'Bid' },
  alert: { tone: 'red', label: 'Alert' },
  system: { tone: 'slate', label: 'System' },
}

export function ActivityPage() {
  const { tenantId } = useSession()
  const feed = useRealtimeQuery<Activity[]>({
    queryKey: ['activity', tenantId],
    queryFn: () => api.activity(5000),
    realtime: { table: 'activity', event: 'INSERT', filter: tenantFilter(tenantId), tenantId },
    mode: 'patch',
    newestFirst: true,
    batchMs: 250,
  })
  const [kind, setKind] = useState<string>('all')
  const rows = useMemo(() => (feed.data ?? []).filter((r) => kind === 'all' || r.kind === kind), [feed.data, kind])
  const parent = useRef<HTMLDivElement>(null)
  const virtualizer = useVirtualizer({ count: rows.length, getScrollElement: () => parent.current, estimateSize: () => 52, overscan: 12 })
  const now = useNow(15_000)
  const lastMinute = (feed.data ?? []).filter((r) => now - ts(r.created_at) < 60_000).length

  return (
    <div className="page">
      <div className="stats-row">
        <Stat label="Events loaded" value={(feed.data?.length ?? 0).toLocaleString()} hint="virtualized: only visible rows are in the DOM" testId="activity-count" />
        <Stat label="Last minute" value={lastMinute} hint="live from Postgres Changes" />
        <Stat label="Rows rendered" value={virtualizer.getVirtualItems().length} hint={`of ${rows.length.toLocaleString()}`} />
      </div>
      <Card
        title="Activity"
        actions={
          <div className="segmented">
            {['all', 'call', 'message', 'assignment', 'report', 'bid', 'alert'].map((k) => (
              <button key={k} className={kind === k ? 'active' : ''} onClick={() => setKind(k)}>{k === 'all' ? 'All' : KINDS[k]?.label ?? k}</button>
            ))}
          </div>
        }
      >
        <div ref={parent} className="feed" data-testid="activity-feed">
          <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
            {virtualizer.getVirtualItems().map((item) => {
              const row = rows[item.index]!
              const k = KINDS[row.kind] ?? { tone: 'slate', label: row.kind }
              return (
                <div key={row.id} className="feed-row" data-testid="activity-row" style={{ position: 'absolute', top: 0, left: 0, right: 0, height: item.size, transform: `translateY(${item.start}px)` }}>
                  <Badge tone={k.tone}>{k.label}</Badge>
                  <span className="feed-message">{row.message}</span>
                  <span className="muted small feed-time" title={new Date(row.created_at).toLocaleString()}>{timeAgo(row.created_at, now)} · {clock(row.created_at)}</span>
                </div>
              )
            })}
          </div>
        </div>
      </Card>
    </div>
  )
}
