/**
 * Binding ids for the join reply. Supabase uses `:erlang.phash2(params_map)`; any stable
 * integer works as long as equal bindings give equal ids (supabase-protocol.md §2.4). We hash
 * the binding's canonical JSON (keys sorted at every level) with 32-bit FNV-1a and keep 27
 * bits, phash2's default range, so ids look alike.
 */
import { fnv1a } from '../fnv1a.js'

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>
    return `{${Object.keys(obj).sort().filter((k) => obj[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

export function stableBindingId(binding: Record<string, unknown>): number {
  return fnv1a(canonicalJson(binding)) & 0x7ffffff
}
