/**
 * Once a second, a tenant's state from counters the server keeps anyway (connections, channels,
 * presences, messages in and out, rows read from the slot, RLS queries, errors by code) turned
 * into a sample of gauges and per-second rates for the history (sample-history.ts); the
 * replication slot's lag is read from Postgres every ten seconds. Nothing here touches the
 * delivery path; it runs whether or not anyone watches, so the charts have fifteen minutes to
 * show when the inspector opens.
 */
import type { Sample, SlotLag } from './api-types.js'
import { SampleHistory } from './sample-history.js'

export interface CounterTotals {
  messagesIn: number
  messagesOut: number
  changes: number
  rlsChecks: number
  errorsByCode: Record<string, number>
}

/** Where a tenant's numbers come from (tenant-inspector.ts wires it to the server's metrics and database). */
export interface SampleSource {
  gauges(): { connections: number; channels: number; presences: number }
  totals(): Promise<CounterTotals>
  /** Null when the tenant has no replication stream (read every ten seconds: a query). */
  slotLag(): Promise<SlotLag | null>
  /** Age of the oldest change received and not delivered yet, in seconds (0: caught up; null: no stream). Every second. */
  lagSeconds(): number | null
}

const LAG_EVERY_MS = 10_000
const ERROR_WINDOW_MS = 15 * 60_000

export class TenantSampler {
  readonly history = new SampleHistory()
  #previous: { at: number; totals: CounterTotals } | null = null
  #lag: SlotLag | null = null
  #lagAt = 0
  /** Error totals every ten seconds over the last fifteen minutes: the oldest is the window's baseline. */
  readonly #errorMarks: { at: number; totals: Record<string, number> }[] = []

  constructor(private readonly source: SampleSource) {}

  get slotLag(): SlotLag | null {
    return this.#lag
  }

  /** Errors by code since the server started. */
  get errorTotals(): Record<string, number> {
    return this.#previous?.totals.errorsByCode ?? {}
  }

  /** Errors by code over the last fifteen minutes (or since start, when younger). */
  get recentErrors(): Record<string, number> {
    const base = this.#errorMarks[0]?.totals ?? {}
    const out: Record<string, number> = {}
    for (const [code, total] of Object.entries(this.errorTotals)) {
      const delta = total - (base[code] ?? 0)
      if (delta > 0) out[code] = delta
    }
    return out
  }

  async sample(now = Date.now()): Promise<Sample> {
    const totals = await this.source.totals()
    if (now - this.#lagAt >= LAG_EVERY_MS) {
      this.#lagAt = now
      this.#lag = await this.source.slotLag().catch(() => this.#lag)
    }
    const previous = this.#previous
    const seconds = previous ? Math.max(0.001, (now - previous.at) / 1000) : 1
    const rate = (key: Exclude<keyof CounterTotals, 'errorsByCode'>) => (previous ? Math.max(0, Math.round(((totals[key] - previous.totals[key]) / seconds) * 100) / 100) : 0)
    const errorTotal = (t: CounterTotals) => Object.values(t.errorsByCode).reduce((a, b) => a + b, 0)
    const sample: Sample = {
      t: Math.floor(now / 1000) * 1000,
      ...this.source.gauges(),
      messagesIn: rate('messagesIn'),
      messagesOut: rate('messagesOut'),
      changes: rate('changes'),
      rlsChecks: rate('rlsChecks'),
      errors: previous ? Math.max(0, Math.round(((errorTotal(totals) - errorTotal(previous.totals)) / seconds) * 100) / 100) : 0,
      slotLagBytes: this.#lag?.lagBytes ?? null,
      slotLagSeconds: this.source.lagSeconds(),
    }
    this.#previous = { at: now, totals }
    const lastMark = this.#errorMarks[this.#errorMarks.length - 1]
    if (!lastMark || now - lastMark.at >= 10_000) this.#errorMarks.push({ at: now, totals: { ...totals.errorsByCode } })
    while (this.#errorMarks.length > 1 && now - this.#errorMarks[0]!.at > ERROR_WINDOW_MS) this.#errorMarks.shift()
    this.history.add(sample)
    return sample
  }
}
