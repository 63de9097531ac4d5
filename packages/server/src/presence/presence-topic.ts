/**
 * Presence state of one topic, as pure data operations (no I/O): who is tracked under which
 * key, and the `presence_diff` each change produces.
 *
 * Shapes follow Phoenix Presence as realtime-js consumes it (supabase-protocol.md §4):
 *   state  { [key]: { metas: [{ phx_ref, ...payload }] } }
 *   diff   { joins: {…same…}, leaves: {…same…} }
 * One channel join owns at most one meta (under its presence key); several joins may share a
 * key, which then has several metas. Re-tracking replaces the meta: the new one joins with
 * `phx_ref_prev`, the old one leaves. Re-tracking an identical payload changes nothing.
 * Keys are chosen by clients, so every map here is a Map or a null-prototype object.
 */

export interface PresenceMeta {
  phx_ref: string
  phx_ref_prev?: string
  [field: string]: unknown
}

export type PresenceGroup = Record<string, { metas: PresenceMeta[] }>

export interface PresenceDiff {
  joins: PresenceGroup
  leaves: PresenceGroup
}

interface Entry {
  key: string
  meta: PresenceMeta
  payloadJson: string
}

export class PresenceTopic<Owner> {
  readonly #entries = new Map<Owner, Entry>()

  get size(): number {
    return this.#entries.size
  }

  /** Tracks (or updates) `owner` under `key`. Returns the diff to broadcast, or null if nothing changed. */
  track(owner: Owner, key: string, payload: Record<string, unknown>, ref: string): PresenceDiff | null {
    const payloadJson = JSON.stringify(payload)
    const previous = this.#entries.get(owner)
    if (previous && previous.key === key && previous.payloadJson === payloadJson) return null
    const meta: PresenceMeta = { ...payload, phx_ref: ref }
    if (previous && previous.key === key) meta.phx_ref_prev = previous.meta.phx_ref
    this.#entries.set(owner, { key, meta, payloadJson })
    const diff = emptyDiff()
    diff.joins[key] = { metas: [meta] }
    if (previous) diff.leaves[previous.key] = { metas: [previous.meta] }
    return diff
  }

  /** Removes `owner`'s presence. Returns the diff, or null if it was not tracked. */
  untrack(owner: Owner): PresenceDiff | null {
    const previous = this.#entries.get(owner)
    if (!previous) return null
    this.#entries.delete(owner)
    const diff = emptyDiff()
    diff.leaves[previous.key] = { metas: [previous.meta] }
    return diff
  }

  /** The whole state, for `presence_state` after a join. */
  state(): PresenceGroup {
    const group: PresenceGroup = Object.create(null)
    for (const { key, meta } of this.#entries.values()) {
      const slot = group[key] ?? (group[key] = { metas: [] })
      slot.metas.push(meta)
    }
    return group
  }
}

function emptyDiff(): PresenceDiff {
  return { joins: Object.create(null), leaves: Object.create(null) }
}

let refCounter = 0
const refPrefix = Math.random().toString(36).slice(2, 8)

/** A unique, opaque presence reference (`phx_ref`). */
export function nextPresenceRef(): string {
  refCounter = (refCounter + 1) % Number.MAX_SAFE_INTEGER
  return `${refPrefix}${Date.now().toString(36)}${refCounter.toString(36)}`
}
