/**
 * A channel's postgres_changes bindings: the ids of the join reply, validation against the
 * catalog (before the reply when the client asked `postgres_changes_options.wait`, §5.9),
 * registration at the channel's log position, and the system messages.
 */
import { ErrorCode, RealtimeError } from '@switchboard/protocol'
import type { CompiledBinding } from '../cdc/binding-validator.js'
import type { PostgresChangesEngine } from '../tenant/tenant.js'
import type { ChannelPort } from './channel-port.js'
import { fnv1a } from '../fnv1a.js'

export class ChangesFeature {
  readonly #port: ChannelPort
  /** Validated bindings, once prepared; null before, or when there are none or they failed. */
  #prepared: CompiledBinding[] | null = null
  #registered = false

  constructor(port: ChannelPort) {
    this.#port = port
  }

  get wanted(): boolean {
    return this.#port.config.postgresChanges.length > 0
  }

  /** Bindings validated and ready to register. */
  get ready(): boolean {
    return this.#prepared !== null
  }

  /** The `postgres_changes` list of the join reply: each binding as sent, in order, plus its `id` (§2.4). */
  replyBindings(): Record<string, unknown>[] {
    const engine = this.#port.tenant.postgresChanges
    return this.#port.config.postgresChanges.map((binding) => ({ ...binding, id: engine ? engine.bindingId(binding) : fallbackBindingId(binding) }))
  }

  /**
   * For `wait`: validates before the join reply, within the client's timeout. Throws the join
   * error (Supabase's strings) on failure.
   */
  async prepareBeforeReply(): Promise<void> {
    const { timeoutMs } = this.#port.config.postgresChangesOptions
    const engine = this.#requireEngine()
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))
    const result = await Promise.race([engine.prepare(this.#port.config.postgresChanges, this.#port.auth), timeout]).finally(() => clearTimeout(timer))
    if (result === 'timeout') {
      throw new RealtimeError(ErrorCode.PostgresChangesSubscribeTimeout, `Timed out after ${timeoutMs}ms waiting for the postgres_changes subscription`)
    }
    if (!result.ok) throw new RealtimeError(ErrorCode.RealtimeDisabledForConfiguration, result.error)
    this.#prepared = result.bindings
  }

  /** Without `wait`: validates after the reply; a failure is a `system` error, the channel stays joined. */
  async prepareAfterReply(): Promise<void> {
    const engine = this.#port.tenant.postgresChanges
    if (!engine) {
      this.#system('error', 'Postgres Changes are not enabled on this server')
      return
    }
    const result = await engine.prepare(this.#port.config.postgresChanges, this.#port.auth)
    if (!result.ok) {
      this.#port.tenant.metrics.countError(ErrorCode.PostgresChangesInvalidParams)
      this.#system('error', result.error)
      return
    }
    this.#prepared = result.bindings
  }

  /** Registers the prepared bindings at `cursor` (synchronous; see ChannelFeed.goLive). */
  register(cursor: number): void {
    const engine = this.#port.tenant.postgresChanges
    if (!engine || this.#prepared === null || !this.#port.isJoined) return
    engine.register(this.#port.changeSubscriber, this.#prepared, this.#port.auth, cursor)
    this.#registered = true
    if (this.#prepared.length > 0) this.#system('ok', 'Subscribed to PostgreSQL')
  }

  get registered(): boolean {
    return this.#registered
  }

  /** A refreshed token: later changes are authorized under it. */
  refreshAuth(): void {
    if (this.#registered) this.#port.tenant.postgresChanges?.updateAuth(this.#port.changeSubscriber, this.#port.auth)
  }

  close(): void {
    if (this.wanted) this.#port.tenant.postgresChanges?.unsubscribe(this.#port.changeSubscriber)
    this.#registered = false
  }

  #system(status: 'ok' | 'error', message: string): void {
    if (!this.#port.isJoined) return
    this.#port.push('system', { extension: 'postgres_changes', status, message, channel: this.#port.subTopic })
  }

  #requireEngine(): PostgresChangesEngine {
    const engine = this.#port.tenant.postgresChanges
    if (!engine) throw new RealtimeError(ErrorCode.RealtimeDisabledForConfiguration, 'Postgres Changes are not enabled on this server')
    return engine
  }
}

// Without a Postgres Changes engine the ids only have to be stable integers (FNV-1a of the JSON).
function fallbackBindingId(binding: Readonly<Record<string, unknown>>): number {
  return fnv1a(JSON.stringify(binding))
}
