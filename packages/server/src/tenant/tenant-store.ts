/**
 * Where tenants live: the seam between the registry (and admin API) and the control database.
 * Every node of a cluster reads the same store, so a change made through one node's admin API
 * reaches the others through `watch` (tenant/postgres-tenant-store.ts: LISTEN/NOTIFY).
 *
 * Values cross this interface decrypted; encryption at rest is the implementation's business.
 */
import type { NewTenant, TenantConfig } from './tenant-config.js'

export interface TenantStoreListener {
  /** Tenant `externalId` was created, changed or removed (by this node or another). */
  onChange(externalId: string): void
  /** Changes may have been missed (the notification connection was re-established): re-read all. */
  onResync(): void
}

export interface TenantStore {
  list(): Promise<TenantConfig[]>
  get(externalId: string): Promise<TenantConfig | null>
  /** Creates a tenant; throws TenantExistsError when the id is taken. */
  create(tenant: NewTenant): Promise<TenantConfig>
  /**
   * Reads the tenant, computes its next state with `change` and writes it, atomically (two
   * admins changing one tenant do not overwrite each other). Null when there is no such tenant.
   */
  update(externalId: string, change: (current: TenantConfig) => TenantConfig): Promise<TenantConfig | null>
  /** Removes a tenant; returns what was removed, or null. */
  remove(externalId: string): Promise<TenantConfig | null>
  /** Starts delivering change notifications to `listener`. */
  watch(listener: TenantStoreListener): Promise<void>
  close(): Promise<void>
}

/** Creating a tenant whose id is taken. */
export class TenantExistsError extends Error {
  readonly code = 'TenantExists'
  constructor(readonly externalId: string) {
    super(`tenant ${JSON.stringify(externalId)} already exists`)
    this.name = 'TenantExistsError'
  }
}
