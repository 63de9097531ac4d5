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

/** A typed event emitter with `on(listener) → off`, used for `gap` and status events. @internal */
export class Emitter<E> {
  readonly #listeners = new Set<(event: E) => void>()

  on(listener: (event: E) => void): () => void {
    const entry = (event: E) => listener(event)
    this.#listeners.add(entry)
    return () => {
      this.#listeners.delete(entry)
    }
  }

  emit(event: E, onError?: (err: unknown) => void): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event)
      } catch (err) {
        onError?.(err)
      }
    }
  }

  get size(): number {
    return this.#listeners.size
  }

  clear(): void {
    this.#listeners.clear()
  }
}

/** A store the SDK writes to; its listeners are an {@link Emitter} (a throwing one is skipped). @internal */
export class Store<T> implements ReadableStore<T> {
  #value: T
  readonly #changes = new Emitter<void>()
  readonly #equal: (a: T, b: T) => boolean

  constructor(initial: T, equal: (a: T, b: T) => boolean = Object.is) {
    this.#value = initial
    this.#equal = equal
  }

  // The emitter wraps each registration, so the same function subscribed twice gets two.
  readonly subscribe = (listener: Listener): (() => void) => this.#changes.on(listener)

  readonly getSnapshot = (): T => this.#value

  get listenerCount(): number {
    return this.#changes.size
  }

  set(next: T): void {
    if (this.#equal(this.#value, next)) return
    this.#value = next
    // One broken subscriber must not starve the others (the emitter catches per listener).
    this.#changes.emit()
  }

  update(fn: (current: T) => T): void {
    this.set(fn(this.#value))
  }

  clear(): void {
    this.#changes.clear()
  }
}
