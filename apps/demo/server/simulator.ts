/**
 * The simulator: writes realistic calls (ringing → in progress → completed, some missed),
 * inbound messages, bids, maintenance updates and the odd system alert into Postgres, for every
 * tenant whose `sim_settings.enabled` is on, at `rate_per_minute` events per minute. It writes
 * as the database owner (like a telephony webhook would), so everything the UI shows of it
 * arrives through Switchboard's Postgres Changes like any other write.
 */
import type { Sql } from 'postgres'

const CALLERS = ['Maria Lopez', 'James Park', 'Olivia Brown', 'Noah Wilson', 'Emma Davis', 'Liam Garcia', 'Hannah White', 'Ethan Hall', 'Chloe Young', 'Mason King', 'Ava Scott', 'Grace Kim', 'Owen Ross', 'Isla Murphy']
const INBOUND = ['Hi, can I move my appointment to next week?', 'Thanks for the quick reply!', 'Is anyone available this afternoon?', 'What time does the technician arrive?', 'Got the invoice, paying today.', 'The issue is back again, please call me.', 'Can you send me a quote?', 'Perfect, see you then.']
const BIDDERS = ['Northwind Media', 'Blue Harbor Leads', 'Peak Digital', 'Crescent Ads', 'Summit Growth']
const ALERTS = ['Carrier latency above 400 ms on outbound trunk', 'Voicemail transcription queue is backed up', 'SMS provider recovered', 'Nightly backup completed']

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!
const between = (min: number, max: number) => min + Math.random() * (max - min)

interface TenantSim {
  enabled: boolean
  rate: number
  budget: number
}

export class Simulator {
  readonly #sql: Sql
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #tenants = new Map<string, TenantSim>()
  #tick: NodeJS.Timeout | null = null
  #refresh: NodeJS.Timeout | null = null
  #stopped = false
  #last = Date.now()
  /** Errors are counted, not thrown: the simulator must never take the server down. */
  errors = 0

  constructor(sql: Sql) {
    this.#sql = sql
  }

  async start(): Promise<void> {
    // Calls left active by a previous run would ring forever: finish them.
    await this.#sql`update calls set status = 'completed', ended_at = now(), answered_at = coalesce(answered_at, now()) where status in ('ringing', 'in_progress') and started_at < now() - interval '10 minutes'`
    await this.reload()
    this.#tick = setInterval(() => this.#step(), 250)
    this.#refresh = setInterval(() => void this.reload().catch(() => this.errors++), 2000)
  }

  /** Re-reads `sim_settings` (the UI switch writes it). */
  async reload(): Promise<void> {
    const rows = await this.#sql<{ tenant_id: string; enabled: boolean; rate_per_minute: number }[]>`select tenant_id, enabled, rate_per_minute from sim_settings`
    for (const row of rows) {
      const current = this.#tenants.get(row.tenant_id) ?? { enabled: false, rate: 0, budget: 0.99 }
      current.enabled = row.enabled
      current.rate = row.rate_per_minute
      this.#tenants.set(row.tenant_id, current)
    }
  }

  /** Sets every tenant's switch (the `--simulate` flag). */
  async configureAll(ratePerMinute: number): Promise<void> {
    if (ratePerMinute > 0) await this.#sql`update sim_settings set enabled = true, rate_per_minute = ${Math.min(600, Math.round(ratePerMinute))}`
    else await this.#sql`update sim_settings set enabled = false`
    await this.reload()
  }

  stop(): void {
    this.#stopped = true
    if (this.#tick) clearInterval(this.#tick)
    if (this.#refresh) clearInterval(this.#refresh)
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
  }

  #later(ms: number, action: () => Promise<unknown>): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      if (!this.#stopped) action().catch(() => this.errors++)
    }, ms)
    this.#timers.add(timer)
  }

  #step(): void {
    const now = Date.now()
    const elapsedMinutes = (now - this.#last) / 60_000
    this.#last = now
    for (const [tenantId, sim] of this.#tenants) {
      if (!sim.enabled) continue
      sim.budget += sim.rate * elapsedMinutes
      while (sim.budget >= 1) {
        sim.budget -= 1
        this.event(tenantId).catch(() => this.errors++)
      }
    }
  }

  /** One random event for a tenant. */
  async event(tenantId: string): Promise<void> {
    const roll = Math.random()
    if (roll < 0.45) return this.call(tenantId)
    if (roll < 0.75) return this.inboundMessage(tenantId)
    if (roll < 0.87) return this.bid(tenantId)
    if (roll < 0.97) return this.reportUpdate(tenantId)
    return this.alert(tenantId)
  }

  async call(tenantId: string): Promise<void> {
    const sql = this.#sql
    const [phone] = await sql<{ id: string; label: string }[]>`select id, label from phone_numbers where tenant_id = ${tenantId} order by random() limit 1`
    if (!phone) return
    const caller = pick(CALLERS)
    const from = `+1 555 ${100 + Math.floor(Math.random() * 900)} ${String(Math.floor(Math.random() * 10000)).padStart(4, '0')}`
    const [call] = await sql<{ id: string }[]>`
      insert into calls (tenant_id, phone_number_id, from_number, caller_name) values (${tenantId}, ${phone.id}, ${from}, ${caller}) returning id`
    await sql`insert into activity (tenant_id, phone_number_id, kind, message) values (${tenantId}, ${phone.id}, 'call', ${`Incoming call from ${caller} on ${phone.label}`})`
    const id = call!.id
    if (Math.random() < 0.12) {
      this.#later(between(8000, 14000), async () => {
        await sql`update calls set status = 'missed', ended_at = now() where id = ${id} and status = 'ringing'`
        await sql`insert into activity (tenant_id, phone_number_id, kind, message) values (${tenantId}, ${phone.id}, 'call', ${`Missed call from ${caller}`})`
      })
      return
    }
    this.#later(between(2500, 9000), async () => {
      await sql`update calls set status = 'in_progress', answered_at = now() where id = ${id} and status = 'ringing'`
      this.#later(between(12000, 75000), async () => {
        await sql`update calls set status = 'completed', ended_at = now() where id = ${id} and status = 'in_progress'`
        await sql`insert into activity (tenant_id, phone_number_id, kind, message) values (${tenantId}, ${phone.id}, 'call', ${`Call with ${caller} completed`})`
      })
    })
  }

  async inboundMessage(tenantId: string): Promise<void> {
    const sql = this.#sql
    const [conversation] = await sql<{ id: string; contact_name: string; phone_number_id: string | null }[]>`
      select id, contact_name, phone_number_id from conversations where tenant_id = ${tenantId} and status <> 'closed' order by random() limit 1`
    if (!conversation) return
    const body = pick(INBOUND)
    await sql.begin(async (tx) => {
      await tx`insert into messages (tenant_id, conversation_id, direction, author_name, body) values (${tenantId}, ${conversation.id}, 'inbound', ${conversation.contact_name}, ${body})`
      await tx`update conversations set last_message = ${body}, last_message_at = now(), status = case when status = 'pending' then 'open' else status end where id = ${conversation.id}`
      await tx`insert into activity (tenant_id, phone_number_id, kind, message) values (${tenantId}, ${conversation.phone_number_id}, 'message', ${`New message from ${conversation.contact_name}`})`
    })
  }

  async bid(tenantId: string): Promise<void> {
    const sql = this.#sql
    const [campaign] = await sql<{ id: string; name: string; top: number }[]>`
      select c.id, c.name, coalesce(max(b.amount), c.reserve)::float8 as top
      from campaigns c left join bids b on b.campaign_id = c.id
      where c.tenant_id = ${tenantId} group by c.id order by random() limit 1`
    if (!campaign) return
    const amount = Math.round((campaign.top * between(0.85, 1.12)) * 100) / 100
    const bidder = pick(BIDDERS)
    await sql`insert into bids (tenant_id, campaign_id, bidder, amount) values (${tenantId}, ${campaign.id}, ${bidder}, ${amount})`
    await sql`insert into activity (tenant_id, kind, message) values (${tenantId}, 'bid', ${`${bidder} bid $${amount.toFixed(2)} on ${campaign.name}`})`
  }

  async reportUpdate(tenantId: string): Promise<void> {
    const sql = this.#sql
    const [report] = await sql<{ id: string; title: string; status: string }[]>`
      select id, title, status from maintenance_reports where tenant_id = ${tenantId} and status <> 'resolved' order by random() limit 1`
    if (!report) return
    const next = report.status === 'open' ? 'in_progress' : 'resolved'
    await sql`
      update maintenance_reports set status = ${next}, updated_at = now(),
        acknowledged_at = coalesce(acknowledged_at, now()),
        resolved_at = case when ${next} = 'resolved' then now() else resolved_at end
      where id = ${report.id}`
    // Keep the board populated: a resolved report is replaced by a fresh one.
    if (next === 'resolved') {
      await sql`
        insert into maintenance_reports (tenant_id, asset_id, title, priority)
        select ${tenantId}, id, ${pick(['Unusual noise', 'Leak detected', 'Pressure drop', 'Error code E4'])}, ${pick(['low', 'normal', 'high', 'urgent'])}
        from assets where tenant_id = ${tenantId} order by random() limit 1`
    }
    await sql`insert into activity (tenant_id, kind, message) values (${tenantId}, 'report', ${`“${report.title}” is now ${next.replace('_', ' ')}`})`
  }

  async alert(tenantId: string): Promise<void> {
    await this.#sql`insert into activity (tenant_id, kind, message) values (${tenantId}, 'alert', ${pick(ALERTS)})`
  }
}
