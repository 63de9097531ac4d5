/**
 * The trace's bounded store: the last `maxItems` traced messages of a tenant, and at most
 * `maxWeight` subscriber references over all of them (a message to 10,000 subscribers weighs
 * 10,001), oldest evicted first. Looked up by trace id (consecutive, so by arithmetic) and by
 * log position: through an index for the items pushed `indexed` (changes, which the dispatcher
 * reports on by position while they are delivered), by a scan of at most `maxItems` for the
 * others (broadcasts, looked up only when someone asks).
 *
 *   push ──▶ [ id 41 │ id 42 │ … │ id 540 ] ──▶ evict (count / weight)
 *              ▲ oldest               ▲ newest
 */

export interface RingItem {
  readonly id: number
  /** Log position, when the message has one. */
  readonly position: number | null
  /** Subscriber references the item holds, plus one. */
  weight: number
}

export class TraceRing<T extends RingItem> {
  #items: T[] = []
  #head = 0
  #weight = 0
  readonly #byPosition = new Map<number, T>()

  constructor(
    readonly maxItems: number,
    readonly maxWeight: number,
  ) {}

  get size(): number {
    return this.#items.length - this.#head
  }

  get weight(): number {
    return this.#weight
  }

  /** Adds the newest item (its id one above the newest held) and evicts what is over the bounds. */
  push(item: T, indexed = false): void {
    this.#items.push(item)
    this.#weight += item.weight
    if (indexed && item.position !== null) this.#byPosition.set(item.position, item)
    this.#evict(item)
  }

  /** `item` (held) now weighs `delta` more: older items make room. */
  grow(item: T, delta: number): void {
    item.weight += delta
    this.#weight += delta
    this.#evict(item)
  }

  get(id: number): T | undefined {
    const first = this.#items[this.#head]
    if (!first) return undefined
    return this.#items[this.#head + id - first.id]
  }

  atPosition(position: number): T | undefined {
    const indexed = this.#byPosition.get(position)
    if (indexed) return indexed
    for (const item of this.newestFirst()) if (item.position === position) return item
    return undefined
  }

  /** The item of an indexed position (the hot path's lookup: no scan). */
  indexedAt(position: number): T | undefined {
    return this.#byPosition.get(position)
  }

  /** Newest first. */
  *newestFirst(): IterableIterator<T> {
    for (let i = this.#items.length - 1; i >= this.#head; i--) yield this.#items[i]!
  }

  /** Evicts oldest items (never `keep`) while over a bound. */
  #evict(keep: T): void {
    while (this.size > this.maxItems || (this.#weight > this.maxWeight && this.size > 1)) {
      const oldest = this.#items[this.#head]!
      if (oldest === keep) break
      this.#items[this.#head] = undefined as unknown as T
      this.#head += 1
      this.#weight -= oldest.weight
      if (oldest.position !== null && this.#byPosition.get(oldest.position) === oldest) this.#byPosition.delete(oldest.position)
    }
    // Compact once the evicted prefix is half the array (amortized O(1) per push).
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
  }
}
