/**
 * `useEntityChanges` (one entity's row changes) and `usePostgresChanges` (a table-wide or
 * filtered binding). Both share the lease recipe of `use-entity-lease.ts`.
 */
import type { RealtimePostgresDeletePayload, RealtimePostgresInsertPayload, RealtimePostgresUpdatePayload } from '@supabase/realtime-js'
import type { Status } from '@switchboard/client'
import { bindingToEntity, useLatest } from './internal.js'
import type { EnabledOption, EntitySpec, PostgresBinding } from './types.js'
import { useEntityLease, type Change, type LeaseListeners } from './use-entity-lease.js'

/** Handlers of {@link useEntityChanges}; `onChange` fires for every event besides the specific one. */
export interface EntityChangeHandlers<Row extends Record<string, unknown> = Record<string, unknown>> {
  onInsert?: ((change: RealtimePostgresInsertPayload<Row>) => void) | undefined
  onUpdate?: ((change: RealtimePostgresUpdatePayload<Row>) => void) | undefined
  /** `old` holds the primary key only, unless the table has `REPLICA IDENTITY FULL`. */
  onDelete?: ((change: RealtimePostgresDeletePayload<Row>) => void) | undefined
  onChange?: ((change: Change<Row>) => void) | undefined
}

export interface SubscriptionResult {
  /** The channel's status: `connecting | connected | reconnecting | disconnected | error`. */
  status: Status
}

/**
 * Listens to one entity's row changes (`table` = `entityType + 's'`, filter `id=eq.<entityId>`
 * unless overridden). Handlers may change on every render without resubscribing.
 *
 * @example
 * ```tsx
 * const { status } = useEntityChanges({ entityType: 'contact', entityId: id }, {
 *   onUpdate: ({ new: row }) => setContact(row),
 *   onDelete: () => navigate('/contacts'),
 * })
 * ```
 */
export function useEntityChanges<Row extends Record<string, unknown> = Record<string, unknown>>(
  spec: EntitySpec,
  handlers: EntityChangeHandlers<Row>,
  { enabled = true }: EnabledOption = {},
): SubscriptionResult {
  const listeners = useLatest(handlers as unknown as LeaseListeners)
  const status = useEntityLease(
    {
      entityType: spec.entityType,
      entityId: spec.entityId,
      tenantId: spec.tenantId,
      table: spec.table,
      schema: spec.schema,
      event: spec.event,
      idColumn: spec.idColumn,
      filter: spec.filter,
      private: spec.private ?? false,
    },
    listeners,
    enabled,
  )
  return { status }
}

/**
 * Listens to a table (optionally filtered), not tied to one entity id. Every binding on the same
 * table shares one channel.
 *
 * @example
 * ```tsx
 * usePostgresChanges({ table: 'calls', event: 'INSERT', filter: `tenant_id=eq.${tenantId}` },
 *   ({ new: call }) => toast(`New call from ${call.from_number}`))
 * ```
 */
export function usePostgresChanges<Row extends Record<string, unknown> = Record<string, unknown>>(
  binding: PostgresBinding,
  handler: (change: Change<Row>) => void,
  { enabled = true }: EnabledOption = {},
): SubscriptionResult {
  const listeners = useLatest<LeaseListeners>({ onChange: handler as (change: Change) => void })
  const status = useEntityLease(bindingToEntity(binding), listeners, enabled)
  return { status }
}
