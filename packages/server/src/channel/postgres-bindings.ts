/**
 * The `postgres_changes` list of a join reply: each binding exactly as the client sent it,
 * in the same order, plus its `id` (§2.4). realtime-js matches entries by index and compares
 * event/schema/table/filter, so the objects are echoed verbatim.
 */
import type { PostgresChangesEngine } from '../tenant/tenant.js'

export function postgresChangesReply(
  bindings: ReadonlyArray<Readonly<Record<string, unknown>>>,
  engine: PostgresChangesEngine | null,
): Record<string, unknown>[] {
  return bindings.map((binding) => ({ ...binding, id: engine ? engine.bindingId(binding) : fallbackBindingId(binding) }))
}

// Without a Postgres Changes engine the ids only have to be stable integers (FNV-1a of the JSON).
function fallbackBindingId(binding: Readonly<Record<string, unknown>>): number {
  const text = JSON.stringify(binding)
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash
}
