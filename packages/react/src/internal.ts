/**
 * Small pieces the hooks share. @internal
 */
import { useEffect, useLayoutEffect, useRef } from 'react'
import type { ReadableStore, SubscribeToEntityOptions } from '@switchboard/client'
import type { PostgresBinding } from './types.js'

/** `useLayoutEffect` in the browser, `useEffect` on the server (no SSR warning on React 18). */
export const useIsomorphicLayoutEffect = typeof window !== 'undefined' ? useLayoutEffect : useEffect

/**
 * The latest value in a ref, updated after commit. Handlers read `ref.current` when an event
 * arrives, so a new callback identity never resubscribes (realtime-js#169, supabase#28794).
 */
export function useLatest<T>(value: T): { readonly current: T } {
  const ref = useRef(value)
  useIsomorphicLayoutEffect(() => {
    ref.current = value
  })
  return ref
}

/**
 * A stable string identity for a plain-JSON spec, used as an effect dependency so an inline
 * object literal (`{ entityType, entityId }`) does not resubscribe on every render. Keys are
 * sorted; `undefined` fields are dropped.
 */
export function stableKey(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const out: Record<string, unknown> = {}
      for (const k of Object.keys(v).sort()) out[k] = (v as Record<string, unknown>)[k]
      return out
    }
    return v
  }) ?? 'null'
}

/**
 * The `acquireEntity` options of a table binding: entity `table:<schema>.<table>`, the binding's
 * filter or none (`filter: null` = the whole table).
 */
export function bindingToEntity(binding: PostgresBinding): SubscribeToEntityOptions {
  const schema = binding.schema ?? 'public'
  return {
    entityType: 'table',
    entityId: `${schema}.${binding.table}`,
    tenantId: binding.tenantId,
    schema,
    table: binding.table,
    event: binding.event ?? '*',
    filter: binding.filter ?? null,
  }
}

/**
 * A store that forwards another store, switched in effects (TanStack's observer recipe: the
 * hook owns one of these from its first render, `useSyncExternalStore` subscribes to it, and the
 * effect points it at the lease it acquired). Before and after a lease it shows `fallback`.
 */
export class SourceStore<T> implements ReadableStore<T> {
  #source: ReadableStore<T> | undefined
  #off: (() => void) | undefined
  #fallback: T
  readonly #listeners = new Set<() => void>()

  constructor(fallback: T) {
    this.#fallback = fallback
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    const entry = () => listener()
    this.#listeners.add(entry)
    return () => void this.#listeners.delete(entry)
  }

  readonly getSnapshot = (): T => (this.#source ? this.#source.getSnapshot() : this.#fallback)

  /** Points the store at `source` (or at nothing, showing `fallback`) and notifies. */
  setSource(source: ReadableStore<T> | undefined, fallback: T = this.#fallback): void {
    this.#off?.()
    this.#off = undefined
    this.#source = source
    this.#fallback = fallback
    if (source) this.#off = source.subscribe(() => this.#emit())
    this.#emit()
  }

  #emit(): void {
    for (const listener of [...this.#listeners]) listener()
  }
}
