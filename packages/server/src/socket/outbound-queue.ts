/**
 * Frames waiting to be written to one socket, written together once per event-loop turn.
 *
 * Why: one Node core writes ~95k WebSocket frames/s when each frame is its own `write`, and
 * over 1M/s when ten frames share one (performance-anchors.md §1.8). Fan-out queues a frame
 * per recipient; the shared FlushScheduler then corks each dirty socket, hands ws all its
 * frames, and uncorks, so the kernel sees one writev per socket per turn.
 *
 * Bounded: if the bytes queued here plus those ws still buffers pass `maxBufferedBytes`, the
 * reader is too slow; the queue drops its frames and calls `onOverflow` (the connection
 * closes the socket) instead of growing memory without bound.
 */
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'

/** One outbound message: `binary: false` sends `data` as a text frame. */
export interface OutFrame {
  data: Buffer | string
  binary: boolean
}

const TEXT = { binary: false, compress: false, fin: true } as const
const BINARY = { binary: true, compress: false, fin: true } as const

export class FlushScheduler {
  readonly #dirty = new Set<OutboundQueue>()
  #scheduled = false

  markDirty(queue: OutboundQueue): void {
    this.#dirty.add(queue)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(this.#flushAll)
    }
  }

  /** Frames written by the last flushes, read and reset by the metrics collector. */
  framesWritten = 0
  bytesWritten = 0

  readonly #flushAll = (): void => {
    this.#scheduled = false
    const queues = [...this.#dirty]
    this.#dirty.clear()
    for (const queue of queues) {
      const { frames, bytes } = queue.flush()
      this.framesWritten += frames
      this.bytesWritten += bytes
    }
  }
}

export class OutboundQueue {
  #frames: OutFrame[] = []
  #bytes = 0
  #closed = false

  constructor(
    private readonly ws: WebSocket,
    private readonly rawSocket: Duplex,
    private readonly scheduler: FlushScheduler,
    private readonly maxBufferedBytes: number,
    private readonly onOverflow: () => void,
  ) {}

  push(frame: OutFrame): void {
    if (this.#closed) return
    this.#bytes += frame.data.length
    if (this.#bytes + this.ws.bufferedAmount > this.maxBufferedBytes) {
      this.close()
      this.onOverflow()
      return
    }
    this.#frames.push(frame)
    if (this.#frames.length === 1) this.scheduler.markDirty(this)
  }

  flush(): { frames: number; bytes: number } {
    const frames = this.#frames
    const bytes = this.#bytes
    this.#frames = []
    this.#bytes = 0
    if (this.#closed || frames.length === 0 || this.ws.readyState !== this.ws.OPEN) return { frames: 0, bytes: 0 }
    this.rawSocket.cork()
    for (const frame of frames) this.ws.send(frame.data, frame.binary ? BINARY : TEXT)
    this.rawSocket.uncork()
    return { frames: frames.length, bytes }
  }

  /** Drops queued frames; later pushes are ignored. */
  close(): void {
    this.#closed = true
    this.#frames = []
    this.#bytes = 0
  }
}
