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

/** A store the SDK writes to. @internal */
export class Store<T> implements ReadableStore<T> {
  #value: T
  readonly #listeners = new Set<Listener>()
  readonly #equal: (a: T, b: T) => boolean

  constructor(initial: T, equal: (a: T, b: T) => boolean = Object.is) {
    this.#value = initial
    this.#equal = equal
  }

  readonly subscribe = (listener: Listener): (() => void) => {
    // Wrap so the same function subscribed twice gets two independent registrations.
    const entry: Listener = () => listener()
    this.#listeners.add(entry)
    return () => {
      this.#listeners.delete(entry)
    }
  }

  readonly getSnapshot = (): T => this.#value

  get listenerCount(): number {
    return this.#listeners.size
  }

  set(next: T): void {
    if (this.#equal(this.#value, next)) return
    this.#value = next
    for (const listener of [...this.#listeners]) {
      try {
        listener()
      } catch {
        // One broken subscriber must not starve the others.
      }
    }
  }

  update(fn: (current: T) => T): void {
    this.set(fn(this.#value))
  }

  clear(): void {
    this.#listeners.clear()
  }
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
