/**
 * Subscribable stores for UI bindings: `subscribe(listener) → unsubscribe` plus `getSnapshot()`,
 * the contract of React's `useSyncExternalStore` (and TanStack's `subscribable.ts`). A snapshot is
 * replaced, never mutated, so identity comparison tells a reader whether anything changed.
 */

export type Listener = () => void

/** A read-only store. */
export interface ReadableStore<T> {
  /** Registers `listener`; returns the function that removes it (idempotent). */
  subscribe(listener: Listener): () => void
  /** The current snapshot; the same object until the value changes. */
  getSnapshot(): T
}

/**
 * Listeners of one kind of event (`on(listener) → off`). A throwing listener is reported to
 * `onError` and never starves the others. @internal
 */
export class Emitter<E> {
  readonly listeners = new Set<(event: E) => void>()

  on(listener: (event: E) => void): () => void {
    // Wrapped, so the same function registered twice is two registrations.
    const entry = (event: E) => listener(event)
    this.listeners.add(entry)
    return () => void this.listeners.delete(entry)
  }

  emit(event: E, onError?: (err: unknown) => void): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event)
      } catch (err) {
        onError?.(err)
      }
    }
  }
}

/** A store the SDK writes to; `equal` decides whether a new value is a change. @internal */
export class Store<T> extends Emitter<void> implements ReadableStore<T> {
  #value: T
  readonly #equal: (a: T, b: T) => boolean

  constructor(initial: T, equal: (a: T, b: T) => boolean = Object.is) {
    super()
    this.#value = initial
    this.#equal = equal
  }

  readonly subscribe = (listener: Listener): (() => void) => this.on(listener)

  readonly getSnapshot = (): T => this.#value

  set(next: T): void {
    if (this.#equal(this.#value, next)) return
    this.#value = next
    this.emit()
  }
}

/** Equality by JSON text: for small snapshots (stats, presence users) rebuilt on every change. */
export const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)
