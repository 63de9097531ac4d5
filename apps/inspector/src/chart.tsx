/**
 * A small SVG line chart of samples over time (no chart library): one or two series, the time
 * axis from the first to the last sample, the value axis from 0 to the largest value.
 */
import type { Sample } from './types'

export interface Series {
  label: string
  value: (sample: Sample) => number | null
  color: string
}

const WIDTH = 560
const HEIGHT = 140
const PAD = { left: 44, right: 8, top: 8, bottom: 20 }

export function Chart({ title, samples, series, format, testId }: { title: string; samples: readonly Sample[]; series: Series[]; format: (value: number) => string; testId: string }) {
  const values = samples.flatMap((s) => series.map((line) => line.value(s) ?? 0))
  const max = Math.max(1, ...values)
  const t0 = samples[0]?.t ?? Date.now()
  const t1 = samples[samples.length - 1]?.t ?? t0 + 1
  const x = (t: number) => PAD.left + ((t - t0) / Math.max(1, t1 - t0)) * (WIDTH - PAD.left - PAD.right)
  const y = (v: number) => HEIGHT - PAD.bottom - (v / max) * (HEIGHT - PAD.top - PAD.bottom)
  const minutes = Math.round((t1 - t0) / 60_000)
  return (
    <div className="card chart" data-testid={testId}>
      <div className="chart-head">
        <h3>{title}</h3>
        <div className="legend">
          {series.map((line) => {
            const last = samples[samples.length - 1]
            const now = last ? line.value(last) : null
            return (
              <span key={line.label}>
                <i style={{ background: line.color }} />
                {line.label} <b className="mono">{now === null ? '—' : format(now)}</b>
              </span>
            )
          })}
        </div>
      </div>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={title}>
        <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y(0)} y2={y(0)} className="axis" />
        <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y(max)} y2={y(max)} className="grid" />
        <text x={PAD.left - 6} y={y(max) + 4} textAnchor="end" className="tick">{format(max)}</text>
        <text x={PAD.left - 6} y={y(0) + 4} textAnchor="end" className="tick">0</text>
        <text x={PAD.left} y={HEIGHT - 4} className="tick">{samples.length > 1 ? `−${minutes > 0 ? `${minutes} min` : `${Math.round((t1 - t0) / 1000)} s`}` : ''}</text>
        <text x={WIDTH - PAD.right} y={HEIGHT - 4} textAnchor="end" className="tick">now</text>
        {series.map((line) => (
          <polyline
            key={line.label}
            fill="none"
            stroke={line.color}
            strokeWidth={1.8}
            points={samples.map((s) => `${x(s.t).toFixed(1)},${y(line.value(s) ?? 0).toFixed(1)}`).join(' ')}
          />
        ))}
      </svg>
    </div>
  )
}
