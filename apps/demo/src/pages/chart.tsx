/**
 * Live chart: calls per minute over the last 30 minutes. Initial buckets come from the API;
 * every new call (Postgres Changes INSERT) is counted into a ref and the chart re-renders at
 * most once a second, however many calls arrive (batched renders).
 */
import { useEffect, useRef, useState } from 'react'
import { useQuery } from '@tanstack/react-query'
import { usePostgresChanges } from '@switchboard/react'
import { api } from '../api'
import { tenantFilter, useSession } from '../app'
import type { Call } from '../types'
import { Card, Stat, ts } from '../ui'

const MINUTES = 30
const minuteOf = (ms: number) => Math.floor(ms / 60_000) * 60_000

export function ChartPage() {
  const { tenantId } = useSession()
  const initial = useQuery({ queryKey: ['calls-per-minute', tenantId], queryFn: api.callsPerMinute })
  const counts = useRef(new Map<number, number>())
  const seeded = useRef<unknown>(null)
  const pending = useRef(0)
  const [version, setVersion] = useState(0)
  const renders = useRef(0)
  const received = useRef(0)

  useEffect(() => {
    if (!initial.data || seeded.current === initial.data) return
    seeded.current = initial.data
    counts.current = new Map(initial.data.map((b) => [b.minute, b.count]))
    setVersion((v) => v + 1)
  }, [initial.data])

  usePostgresChanges<Call>({ table: 'calls', filter: tenantFilter(tenantId), tenantId }, (change) => {
    if (change.eventType !== 'INSERT') return
    const minute = minuteOf(ts(change.new.started_at) || Date.now())
    counts.current.set(minute, (counts.current.get(minute) ?? 0) + 1)
    pending.current += 1
    received.current += 1
  })

  // One render per second at most, and one per minute boundary to slide the window.
  useEffect(() => {
    const timer = setInterval(() => {
      if (pending.current > 0 || new Date().getSeconds() === 0) {
        pending.current = 0
        setVersion((v) => v + 1)
      }
    }, 1000)
    return () => clearInterval(timer)
  }, [])

  renders.current += 1
  const end = minuteOf(Date.now())
  const buckets = Array.from({ length: MINUTES }, (_, i) => {
    const minute = end - (MINUTES - 1 - i) * 60_000
    return { minute, count: counts.current.get(minute) ?? 0 }
  })
  const max = Math.max(4, ...buckets.map((b) => b.count))
  const total = buckets.reduce((sum, b) => sum + b.count, 0)
  const current = buckets[buckets.length - 1]!.count
  const W = 900, H = 280, P = 36
  const bw = (W - P * 2) / MINUTES
  const y = (n: number) => H - P - (n / max) * (H - P * 2)
  const line = buckets.map((b, i) => `${i === 0 ? 'M' : 'L'}${P + i * bw + bw / 2},${y(b.count)}`).join(' ')
  const ticks = [0, Math.round(max / 2), max]

  return (
    <div className="page" data-version={version}>
      <div className="stats-row">
        <Stat label="This minute" value={current} tone="green" testId="chart-current" />
        <Stat label="Last 30 minutes" value={total} hint={`${(total / MINUTES).toFixed(1)} calls/min on average`} />
        <Stat label="Live events received" value={received.current} testId="chart-received" hint={`${renders.current} renders so far`} />
      </div>
      <Card title="Calls per minute" actions={<span className="muted small">updates batched to ≤ 1 render/s</span>}>
        <svg className="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Calls per minute" data-testid="chart">
          {ticks.map((t) => (
            <g key={t}>
              <line x1={P} x2={W - P} y1={y(t)} y2={y(t)} className="chart-grid" />
              <text x={P - 8} y={y(t) + 4} className="chart-label" textAnchor="end">{t}</text>
            </g>
          ))}
          {buckets.map((b, i) => (
            <rect key={b.minute} x={P + i * bw + 3} y={y(b.count)} width={bw - 6} height={H - P - y(b.count)} rx={3} className={i === MINUTES - 1 ? 'chart-bar chart-bar-now' : 'chart-bar'} data-testid="chart-bar">
              <title>{`${new Date(b.minute).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}: ${b.count} calls`}</title>
            </rect>
          ))}
          <path d={line} className="chart-line" />
          {buckets.map((b, i) => (i % 5 === 4 || i === MINUTES - 1 ? (
            <text key={`l${b.minute}`} x={P + i * bw + bw / 2} y={H - P + 18} className="chart-label" textAnchor="middle">
              {new Date(b.minute).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}
            </text>
          ) : null))}
        </svg>
      </Card>
    </div>
  )
}
