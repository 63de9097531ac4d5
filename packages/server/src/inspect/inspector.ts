/**
 * The server's inspector: one TenantInspector per tenant, the once-a-second sampling of all of
 * them, and the socket flush hook that times deliveries while any tenant is traced (attached
 * only then: without tracing the flush does one null check per event-loop turn).
 *
 * @example
 * ```ts
 * const inspector = new Inspector({ scheduler, clock, logger })
 * inspector.addTenant({ tenant, sql, changes: engine, registry, connections: () => upgrade.connections, onTracingChange: () => {} })
 * inspector.start()
 * inspector.tenant('default')?.overview()
 * ```
 */
import type { Clock } from '../clock.js'
import type { NodeTenantFigures } from '../cluster/node-report.js'
import type { Logger } from '../logger.js'
import type { FlushScheduler } from '../socket/outbound-queue.js'
import { TenantInspector, type TenantInspectorOptions } from './tenant-inspector.js'

export interface InspectorOptions {
  scheduler: FlushScheduler
  clock: Clock
  logger: Logger
}

const TICK_MS = 1_000

export class Inspector {
  readonly #tenants = new Map<string, TenantInspector>()
  readonly #options: InspectorOptions
  #timer: ReturnType<typeof setInterval> | null = null
  #ticking = false

  constructor(options: InspectorOptions) {
    this.#options = options
  }

  addTenant(options: Omit<TenantInspectorOptions, 'onTracingChange'>): TenantInspector {
    const inspector = new TenantInspector({ ...options, onTracingChange: () => this.#syncFlushHook() })
    this.#tenants.set(inspector.id, inspector)
    this.#syncFlushHook()
    return inspector
  }

  removeTenant(id: string): void {
    const inspector = this.#tenants.get(id)
    if (!inspector) return
    inspector.enableFor(0)
    inspector.tenant.hub.tracing.current = null
    this.#tenants.delete(id)
    this.#syncFlushHook()
  }

  /** Each tenant's share on this node (published to the other nodes in a cluster: cluster/node-report.ts). */
  nodeReport(): Map<string, NodeTenantFigures> {
    const report = new Map<string, NodeTenantFigures>()
    for (const [id, inspector] of this.#tenants) report.set(id, inspector.figures())
    return report
  }

  tenant(id: string): TenantInspector | undefined {
    return this.#tenants.get(id)
  }

  get tenants(): TenantInspector[] {
    return [...this.#tenants.values()]
  }

  start(): void {
    if (this.#timer) return
    void this.#tick()
    this.#timer = setInterval(() => void this.#tick(), TICK_MS)
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    for (const inspector of this.#tenants.values()) inspector.tenant.hub.tracing.current = null
    this.#options.scheduler.afterFlush = null
  }

  async #tick(): Promise<void> {
    if (this.#ticking) return // a slow database: skip a second rather than pile up
    this.#ticking = true
    try {
      const now = this.#options.clock.now()
      for (const inspector of this.#tenants.values()) {
        await inspector.tick(now).catch((error: unknown) => this.#options.logger.warn({ err: error, tenant: inspector.id }, 'inspector: sampling failed'))
      }
    } finally {
      this.#ticking = false
    }
  }

  #syncFlushHook(): void {
    const traced = [...this.#tenants.values()].filter((t) => t.tracing).map((t) => t.recorder)
    this.#options.scheduler.afterFlush = traced.length === 0 ? null : traced.length === 1 ? () => traced[0]!.flushed() : () => { for (const recorder of traced) recorder.flushed() }
  }
}
