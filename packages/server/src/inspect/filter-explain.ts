/**
 * Why a subscriber's postgres_changes bindings did not match a change: the event it listens to,
 * or the first filter condition the row failed, with the row's value. Pure; the same filter
 * evaluation the subscription index routes with (cdc/filter-eval.ts).
 *
 * @example
 * ```ts
 * explainMismatch(change, bindings)
 * // { matches: false, condition: "filter status=eq.open: the row has status = 'closed'" }
 * ```
 */
import { matchesFilters, type CompiledFilter } from '../cdc/filter-eval.js'
import type { ChangeType, RoutableChange } from '../cdc/subscription-index.js'
import { redact } from './payload-preview.js'

export interface ExplainableBinding {
  id: number
  event: ChangeType | '*'
  schema: string
  table: string
  filters: readonly CompiledFilter[]
}

export type Explanation =
  /** Some binding matches the change. */
  | { matches: true; bindingIds: number[] }
  /** Bindings on the table, none matching: the closest one's failing condition. */
  | { matches: false; condition: string }
  /** No binding on the change's table: not a subscriber of it. */
  | null

export function bindsTable(binding: Pick<ExplainableBinding, 'schema' | 'table'>, schema: string, table: string): boolean {
  return (binding.schema === '*' || binding.schema === schema) && (binding.table === '*' || binding.table === table)
}

/** `status=eq.open`, `id=not.in.(1,2)`: a compiled filter as the client wrote it (values canonical). */
export function describeFilter(filter: CompiledFilter): string {
  const value = filter.op === 'in' ? `(${filter.keys.join(',')})` : filter.text
  return `${filter.column}=${filter.negate ? 'not.' : ''}${filter.op}.${value}`
}

function describeValue(value: string | null | undefined): string {
  if (value === undefined) return 'no value in the change (unchanged TOAST, or not in the replica identity)'
  if (value === null) return 'NULL'
  const shown = value.length > 60 ? `${value.slice(0, 60)}…` : value
  return `'${redact(shown)}'`
}

export function explainMismatch(change: RoutableChange, bindings: readonly ExplainableBinding[]): Explanation {
  const onTable = bindings.filter((b) => bindsTable(b, change.schema, change.table))
  if (onTable.length === 0) return null
  const matching = onTable.filter((b) => (b.event === '*' || b.event === change.type) && matchesFilters(b.filters, (c) => change.value(c)))
  if (matching.length > 0) return { matches: true, bindingIds: matching.map((b) => b.id) }
  // The closest binding: one listening to this event, whose filter failed.
  const sameEvent = onTable.find((b) => b.event === '*' || b.event === change.type)
  if (sameEvent) {
    const failed = sameEvent.filters.find((f) => !matchesFilters([f], (c) => change.value(c)))!
    return { matches: false, condition: `filter ${describeFilter(failed)}: the row has ${failed.column} = ${describeValue(change.value(failed.column))}` }
  }
  const events = [...new Set(onTable.map((b) => b.event))].join(', ')
  return { matches: false, condition: `event: listens to ${events}, this is an ${change.type}` }
}
