/**
 * Maintenance: the Location → Client → Project → Asset tree, reports whose status changes live,
 * per-report presence, attachment upload progress broadcast to everyone viewing the report,
 * and dashboard statistics that stay current.
 */
import { useMemo, useRef, useState } from 'react'
import { useQuery } from '@tanstack/react-query'
import { useBroadcast, useBroadcastSender, usePresence, useRealtimeQuery } from '@switchboard/react'
import { api } from '../api'
import { tenantFilter, useSession } from '../app'
import type { Attachment, Report, Tree } from '../types'
import { Badge, Card, Empty, PresenceStack, Stat, timeAgo, ts, useNow, useToasts } from '../ui'
import { useStats } from './calls'

const STATUS: Record<Report['status'], { tone: string; label: string }> = {
  open: { tone: 'red', label: 'Open' },
  in_progress: { tone: 'amber', label: 'In progress' },
  resolved: { tone: 'green', label: 'Resolved' },
}
const PRIORITY_TONE: Record<Report['priority'], string> = { low: 'slate', normal: 'blue', high: 'amber', urgent: 'red' }

interface Upload {
  uploadId: string
  fileName: string
  progress: number
  userName: string
}

function TreeView({ tree, reports, selectedAsset, onSelect }: { tree: Tree; reports: Report[]; selectedAsset: string | null; onSelect: (assetId: string | null) => void }) {
  const openByAsset = useMemo(() => {
    const map = new Map<string, number>()
    for (const r of reports) if (r.status !== 'resolved') map.set(r.asset_id, (map.get(r.asset_id) ?? 0) + 1)
    return map
  }, [reports])
  return (
    <div className="tree" data-testid="maintenance-tree">
      <button className={`tree-all${selectedAsset === null ? ' active' : ''}`} onClick={() => onSelect(null)}>All assets</button>
      {tree.locations.map((loc) => (
        <details key={loc.id} open>
          <summary><span className="tree-icon">⌂</span>{loc.name} <span className="muted small">{loc.city}</span></summary>
          {tree.clients.filter((c) => c.location_id === loc.id).map((client) => (
            <details key={client.id} open className="tree-level">
              <summary><span className="tree-icon">◆</span>{client.name}</summary>
              {tree.projects.filter((p) => p.client_id === client.id).map((project) => (
                <details key={project.id} open className="tree-level">
                  <summary><span className="tree-icon">▣</span>{project.name}</summary>
                  {tree.assets.filter((a) => a.project_id === project.id).map((asset) => (
                    <button key={asset.id} className={`tree-asset${selectedAsset === asset.id ? ' active' : ''}`} onClick={() => onSelect(asset.id)}>
                      {asset.name}
                      {(openByAsset.get(asset.id) ?? 0) > 0 && <span className="count">{openByAsset.get(asset.id)}</span>}
                    </button>
                  ))}
                </details>
              ))}
            </details>
          ))}
        </details>
      ))}
    </div>
  )
}

function ReportDetail({ report, assetName }: { report: Report; assetName: string }) {
  const { tenantId, user } = useSession()
  const toasts = useToasts()
  const entity = { entityType: 'maintenance_report', entityId: report.id, tenantId, private: true }
  const { users } = usePresence({ entityType: 'report', entityId: report.id, tenantId, private: true }, { id: user.id, name: user.name }, { color: user.color })
  const attachments = useRealtimeQuery<Attachment[]>({
    queryKey: ['attachments', report.id],
    queryFn: () => api.attachments(report.id),
    realtime: { table: 'attachments', event: 'INSERT', filter: `report_id=eq.${report.id}`, tenantId },
    mode: 'patch',
    newestFirst: true,
  })
  const [uploads, setUploads] = useState<Record<string, Upload>>({})
  const track = (u: Upload) => setUploads((all) => {
    const next = { ...all, [u.uploadId]: u }
    if (u.progress >= 100) delete next[u.uploadId]
    return next
  })
  useBroadcast<Upload>(entity, 'upload-progress', ({ payload }) => track(payload))
  const sendProgress = useBroadcastSender<Upload>(entity)
  const file = useRef<HTMLInputElement>(null)

  const upload = (name: string, size: number) => {
    const uploadId = `${user.id}-${Date.now()}`
    let progress = 0
    // The "upload" is simulated in steps; each step is broadcast to everyone viewing the report.
    const step = () => {
      progress = Math.min(100, progress + 8 + Math.random() * 14)
      const update = { uploadId, fileName: name, progress: Math.round(progress), userName: user.name }
      track(update)
      void sendProgress('upload-progress', update).catch(() => undefined)
      if (progress < 100) setTimeout(step, 250)
      else api.addAttachment(report.id, name, size).catch((e: Error) => toasts.push({ kind: 'error', title: 'Upload failed', body: e.message }))
    }
    step()
  }

  return (
    <Card
      className="report-detail"
      testId="report-detail"
      title={report.title}
      actions={<PresenceStack users={users} me={user.id} label="Viewing this report" />}
    >
      <div className="report-facts">
        <div><span className="muted small">Asset</span><div>{assetName}</div></div>
        <div><span className="muted small">Priority</span><div><Badge tone={PRIORITY_TONE[report.priority]}>{report.priority}</Badge></div></div>
        <div><span className="muted small">Status</span><div><Badge tone={STATUS[report.status].tone} testId="report-status">{STATUS[report.status].label}</Badge></div></div>
        <div><span className="muted small">Reported</span><div>{timeAgo(report.reported_at)}</div></div>
      </div>
      <div className="btn-row">
        {(['open', 'in_progress', 'resolved'] as const).map((s) => (
          <button key={s} className={`btn btn-sm${report.status === s ? ' btn-primary' : ''}`} disabled={report.status === s} onClick={() => api.setReportStatus(report.id, s).catch((e: Error) => toasts.push({ kind: 'error', title: 'Status', body: e.message }))}>
            {STATUS[s].label}
          </button>
        ))}
      </div>
      <h3 className="section-title">Attachments</h3>
      {Object.values(uploads).map((u) => (
        <div key={u.uploadId} className="upload" data-testid="upload-progress">
          <div className="upload-top"><span>{u.fileName}</span><span className="muted small">{u.userName} · {u.progress}%</span></div>
          <div className="progress"><div style={{ width: `${u.progress}%` }} /></div>
        </div>
      ))}
      <ul className="attachments">
        {(attachments.data ?? []).map((a) => <li key={a.id}><span className="file-icon">▤</span>{a.file_name}<span className="muted small">{Math.round(a.size_bytes / 1024)} KB · {timeAgo(a.created_at)}</span></li>)}
        {attachments.data?.length === 0 && <Empty>No attachments</Empty>}
      </ul>
      <input ref={file} type="file" hidden onChange={(e) => { const f = e.target.files?.[0]; if (f) upload(f.name, f.size); e.target.value = '' }} />
      <div className="btn-row">
        <button className="btn btn-sm" data-testid="attach" onClick={() => file.current?.click()}>Attach file…</button>
        <button className="btn btn-sm btn-ghost" data-testid="attach-sample" onClick={() => upload(`site-photo-${Math.floor(Math.random() * 900 + 100)}.jpg`, 240_000 + Math.floor(Math.random() * 900_000))}>Attach a sample photo</button>
      </div>
    </Card>
  )
}

export function MaintenancePage() {
  const { tenantId } = useSession()
  const tree = useQuery({ queryKey: ['tree', tenantId], queryFn: api.tree })
  const reports = useRealtimeQuery<Report[]>({
    queryKey: ['reports', tenantId],
    queryFn: api.reports,
    realtime: { table: 'maintenance_reports', filter: tenantFilter(tenantId), tenantId },
    mode: 'patch',
    newestFirst: true,
  })
  const stats = useStats()
  const [asset, setAsset] = useState<string | null>(null)
  const [selected, setSelected] = useState<string | null>(null)
  const now = useNow(30_000)
  const assets = new Map((tree.data?.assets ?? []).map((a) => [a.id, a.name]))
  const list = useMemo(() => (reports.data ?? []).filter((r) => asset === null || r.asset_id === asset).sort((a, b) => ts(b.updated_at) - ts(a.updated_at)), [reports.data, asset])
  const current = list.find((r) => r.id === selected) ?? list[0]
  const s = stats.data
  return (
    <div className="page">
      <div className="stats-row">
        <Stat label="Open reports" value={s?.openReports ?? '–'} tone="red" testId="stat-open-reports" />
        <Stat label="In progress" value={s?.inProgressReports ?? '–'} tone="amber" />
        <Stat label="Avg. response" value={s ? `${Math.round(s.avgResponseMinutes)} min` : '–'} hint="report → acknowledged" />
        <Stat label="Calls today" value={s?.callsToday ?? '–'} hint={s ? `${s.activeCalls} active now` : undefined} />
      </div>
      <div className="maintenance">
        <Card title="Sites & assets" className="tree-card">{tree.data ? <TreeView tree={tree.data} reports={reports.data ?? []} selectedAsset={asset} onSelect={setAsset} /> : <Empty>Loading…</Empty>}</Card>
        <Card title={`Reports (${list.length})`} className="reports-card">
          <table className="table" data-testid="reports">
            <thead><tr><th>Report</th><th>Asset</th><th>Priority</th><th>Status</th><th>Updated</th></tr></thead>
            <tbody>
              {list.map((r) => (
                <tr key={r.id} className={current?.id === r.id ? 'selected' : ''} onClick={() => setSelected(r.id)} data-testid="report-row">
                  <td>{r.title}</td>
                  <td className="muted">{assets.get(r.asset_id) ?? '…'}</td>
                  <td><Badge tone={PRIORITY_TONE[r.priority]}>{r.priority}</Badge></td>
                  <td><Badge tone={STATUS[r.status].tone}>{STATUS[r.status].label}</Badge></td>
                  <td className="muted small">{timeAgo(r.updated_at, now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
        {current ? <ReportDetail key={current.id} report={current} assetName={assets.get(current.asset_id) ?? ''} /> : <Card className="report-detail"><Empty>No report selected</Empty></Card>}
      </div>
    </div>
  )
}
