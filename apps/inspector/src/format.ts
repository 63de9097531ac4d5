/** Numbers as an operator reads them. */

export function rate(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—'
  if (value >= 1_000_000) return `${(value / 1_000_000).toFixed(2)}M`
  if (value >= 10_000) return `${Math.round(value / 1_000)}k`
  if (value >= 1_000) return `${(value / 1_000).toFixed(1)}k`
  return value >= 10 || Number.isInteger(value) ? String(Math.round(value)) : value.toFixed(1)
}

export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—'
  if (value >= 1024 ** 3) return `${(value / 1024 ** 3).toFixed(1)} GiB`
  if (value >= 1024 ** 2) return `${(value / 1024 ** 2).toFixed(1)} MiB`
  if (value >= 1024) return `${(value / 1024).toFixed(1)} KiB`
  return `${Math.round(value)} B`
}

export function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—'
  return value < 1 ? `${Math.round(value * 1000)} ms` : `${value.toFixed(1)} s`
}

export function clock(iso: string): string {
  const d = new Date(iso)
  return `${d.toLocaleTimeString([], { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`
}

export function ms(value: number | undefined): string {
  return value === undefined ? '' : value < 10 ? `${value.toFixed(2)} ms` : `${Math.round(value)} ms`
}
