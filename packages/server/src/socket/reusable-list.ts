/**
 * A list that keeps its storage when it is emptied, for lists refilled many times a second
 * (a socket's queued frames, the sockets a write round flushes).
 *
 * Why not a fresh `[]` or `array.length = 0`: a fresh array per round is garbage that a
 * scavenge can find alive (write rounds wait between them while the loop is busy, see
 * outbound-queue.ts "Paced write rounds", and V8 runs scavenges as idle tasks, so exactly during
 * those waits) and then copies and promotes. `length = 0` does not help: V8 gives a fast
 * array's backing store back once more than half of it is unused. Here emptying overwrites the
 * used slots with `undefined` (no references kept) and keeps the storage, unless it grew past
 * `maxKept` slots (a replay's thousands of frames), which it drops.
 *
 * @example
 *   const frames = new ReusableList<OutFrame>(256)
 *   frames.push(frame)
 *   for (let i = 0; i < frames.size; i++) write(frames.at(i))
 *   frames.clear()
 */
export class ReusableList<T> {
  #items: (T | undefined)[] = []
  #size = 0

  constructor(private readonly maxKept: number) {}

  get size(): number {
    return this.#size
  }

  push(item: T): void {
    this.#items[this.#size++] = item
  }

  /** The item at `index` (0 ≤ index < size). */
  at(index: number): T {
    return this.#items[index] as T
  }

  /** Empties the list, keeping its storage up to `maxKept` slots. */
  clear(): void {
    if (this.#items.length > this.maxKept) {
      this.#items = []
    } else {
      const items = this.#items
      for (let i = 0; i < this.#size; i++) items[i] = undefined
    }
    this.#size = 0
  }
}
