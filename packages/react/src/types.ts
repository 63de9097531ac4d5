/**
 * Shapes shared by the hooks. Kept small and options-object based (style §16).
 */
import type { PostgresEvent } from '@switchboard/client'

/** `enabled: false` is the skip flag of every hook: nothing is subscribed, joined or tracked. */
export interface EnabledOption {
  /** Default `true`. */
  enabled?: boolean
}

/** One entity: names the channel `[tenant:<tenantId>:]<kind>:<entityType>:<entityId>`. */
export interface EntityRef {
  entityType: string
  entityId: string
  tenantId?: string | undefined
  /**
   * Join the private channel (authorized by RLS policies on `realtime.messages`, so the server,
   * not the channel name, keeps tenants apart). Default false.
   */
  private?: boolean | undefined
}

/** `subscribeToEntity` options minus callbacks. */
export interface EntitySpec extends EntityRef {
  /** Default `entityType + 's'`. */
  table?: string | undefined
  /** Default `public`. */
  schema?: string | undefined
  /** Default `*`. */
  event?: PostgresEvent | undefined
  /** Column compared with `entityId` (default `id`). */
  idColumn?: string | undefined
  /** Replaces `<idColumn>=eq.<entityId>`; `null` listens to the whole table. */
  filter?: string | null | undefined
}

/**
 * A table-wide or filtered postgres_changes binding, not tied to one entity id. Every binding on
 * the same table (and tenant) shares one channel, `[tenant:<tenantId>:]subscription:table:<schema>.<table>`;
 * each binding only receives its own events.
 */
export interface PostgresBinding {
  /** Default `public`. */
  schema?: string | undefined
  table: string
  /** Default `*`. */
  event?: PostgresEvent | undefined
  /** A realtime filter such as `conversation_id=eq.42`; default: every row the user may see. */
  filter?: string | undefined
  tenantId?: string | undefined
}
