/**
 * Reference counting of leases per channel key: pure bookkeeping, no timers and no I/O.
 * The manager asks it "is this the first lease?" (join) and "was that the last one?" (schedule the
 * leave), and it guarantees a lease id is counted at most once (release is idempotent).
 */

export interface Acquired {
  id: number
  /** `true` when the key had no lease before: the caller must create or revive the channel. */
  first: boolean
}

export interface Released {
  /** `false` when the id was unknown or already released (an idempotent second call). */
  released: boolean
  /** Leases left on the key. */
  remaining: number
}

export class LeaseTable<T> {
  #nextId = 0
  readonly #byKey = new Map<string, Map<number, T>>()
  readonly #keyOf = new Map<number, string>()

  acquire(key: string, value: T): Acquired {
    let leases = this.#byKey.get(key)
    const first = !leases || leases.size === 0
    if (!leases) {
      leases = new Map()
      this.#byKey.set(key, leases)
    }
    const id = ++this.#nextId
    leases.set(id, value)
    this.#keyOf.set(id, key)
    return { id, first }
  }

  release(id: number): Released {
    const key = this.#keyOf.get(id)
    if (key === undefined) return { released: false, remaining: 0 }
    this.#keyOf.delete(id)
    const leases = this.#byKey.get(key)
    leases?.delete(id)
    const remaining = leases?.size ?? 0
    if (remaining === 0) this.#byKey.delete(key)
    return { released: true, remaining }
  }

  count(key: string): number {
    return this.#byKey.get(key)?.size ?? 0
  }

  values(key: string): T[] {
    return [...(this.#byKey.get(key)?.values() ?? [])]
  }

  ids(key: string): number[] {
    return [...(this.#byKey.get(key)?.keys() ?? [])]
  }

  keys(): string[] {
    return [...this.#byKey.keys()]
  }

  get size(): number {
    return this.#keyOf.size
  }
}
