/**
 * The Web Locks API (`navigator.locks.request`) for Node tests that run several "tabs" of one
 * origin in one process: exclusive locks, a FIFO queue per name, `signal` (abort a queued
 * request) and `steal` (take a held lock: the holder's request promise rejects with an
 * AbortError while its callback keeps running), as the spec describes. Node has no Web Locks;
 * the browser tests use Chromium's own.
 *
 * `tab()` gives one tab's view; `crash()` on it releases everything the tab holds and drops what
 * it queued, without running any of its code (a tab killed with its process).
 */
interface Request {
  owner: object
  callback: () => Promise<void>
  resolve: () => void
  reject: (error: Error) => void
}

const abortError = () => Object.assign(new Error('The lock request was aborted'), { name: 'AbortError' })

export class MemoryLocks {
  readonly #held = new Map<string, Request>()
  readonly #queues = new Map<string, Request[]>()

  /** One tab's `navigator.locks`. */
  tab(): { request: MemoryLocks['request']; crash(): void } {
    const owner = {}
    return {
      request: (name, options, callback) => this.request(name, options, callback, owner),
      crash: () => {
        for (const [name, queue] of this.#queues) this.#queues.set(name, queue.filter((r) => r.owner !== owner))
        for (const [name, holder] of [...this.#held]) {
          if (holder.owner !== owner) continue
          this.#held.delete(name)
          this.#next(name)
        }
      },
    }
  }

  held(name: string): boolean {
    return this.#held.has(name)
  }

  request(name: string, options: { steal?: boolean; signal?: AbortSignal }, callback: () => Promise<void>, owner: object = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (options.signal?.aborted) return reject(abortError())
      const request: Request = { owner, callback, resolve, reject }
      if (options.steal) {
        const holder = this.#held.get(name)
        if (holder) holder.reject(abortError())
        this.#grant(name, request)
        return
      }
      const queue = this.#queues.get(name) ?? []
      this.#queues.set(name, queue)
      queue.push(request)
      options.signal?.addEventListener('abort', () => {
        const index = queue.indexOf(request)
        if (index < 0) return
        queue.splice(index, 1)
        reject(abortError())
      })
      if (!this.#held.has(name)) this.#next(name)
    })
  }

  #next(name: string): void {
    const next = this.#queues.get(name)?.shift()
    if (next) this.#grant(name, next)
  }

  #grant(name: string, request: Request): void {
    this.#held.set(name, request)
    let done: Promise<void>
    try {
      done = Promise.resolve(request.callback())
    } catch (error) {
      done = Promise.reject(error as Error)
    }
    done.then(
      () => this.#release(name, request, () => request.resolve()),
      (error: unknown) => this.#release(name, request, () => request.reject(error as Error)),
    )
  }

  #release(name: string, request: Request, settle: () => void): void {
    if (this.#held.get(name) !== request) return // stolen (already rejected) or crashed
    this.#held.delete(name)
    settle()
    this.#next(name)
  }
}
