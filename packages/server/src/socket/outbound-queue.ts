/**
 * Frames waiting to be written to one socket, written together once per event-loop turn.
 *
 * Why: one Node core writes ~95k WebSocket frames/s when each frame is its own `write`, and
 * over 1M/s when ten frames share one (performance-anchors.md §1.8). Fan-out queues a frame
 * per recipient; the shared FlushScheduler then writes each dirty socket's frames with ONE
 * `socket.write` per turn.
 *
 * Encode once, frame once (style.md §7, Socket.IO `Adapter._encode` + ws `Sender.frame`): a
 * fan-out frame object is shared by all its recipients, so its complete WebSocket frame
 * (header + payload) is built by the first flush that needs it and reused by the others, and
 * consecutive sockets with the same queued frames (members of one room) share one
 * concatenated Buffer. Per recipient that leaves a few comparisons and one `write`, instead
 * of `ws.send`'s header allocation, two stream writes and a writev of 2×N chunks
 * (bench/README.md, "Broadcast fan-out", has the before/after numbers). The bytes on the
 * wire are the ones `ws.send` would produce. Without `Sender.frame` (another ws), frames go
 * through `ws.send` under cork as before.
 *
 * Bounded: if the bytes queued here plus those ws still buffers pass `maxBufferedBytes`, the
 * reader is too slow; the queue drops its frames and calls `onOverflow` (the connection
 * closes the socket) instead of growing memory without bound.
 */
import { systemClock, type Clock, type ClockTimer } from '../clock.js'
import type { DeliveredTally } from '../metrics.js'
import { processCpuTime, type CpuTime } from './cpu-time.js'
import { eventLoopLoad, type LoopLoad } from './loop-load.js'
import { ReusableList } from './reusable-list.js'
import type { Duplex } from 'node:stream'
import * as wsModule from 'ws'
import type { WebSocket } from 'ws'

/** One outbound message: `binary: false` sends `data` as a text frame. */
export interface OutFrame {
  data: Buffer | string
  binary: boolean
  /** @internal The complete WebSocket frame, built on first flush and shared by every recipient. */
  wire?: Buffer
  /**
   * @internal A frame assembled from shared parts (channel/change-frame.ts): the flush writes
   * its `wireLength` bytes straight into the socket's write buffer, so it is never a Buffer of
   * its own (reading `data` or `wire` builds one). `payloadLength` is `data.length`.
   */
  assembled?: { readonly wireLength: number; readonly payloadLength: number; writeWire(target: Buffer, at: number): void }
}

const TEXT = { binary: false, compress: false, fin: true } as const
const BINARY = { binary: true, compress: false, fin: true } as const

type FrameFn = (data: Buffer, options: { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean }) => Buffer[]
// Feature check: `Sender.frame` is public in ws 8 but absent from @types/ws.
const senderFrame = (wsModule as unknown as { Sender?: { frame?: FrameFn } }).Sender?.frame
const OPCODE_TEXT = 1
const OPCODE_BINARY = 2

/** The server-to-client (unmasked, final, uncompressed) WebSocket frame of `frame`, built once. */
function wireFrame(frame: OutFrame, frameFn: FrameFn): Buffer {
  if (frame.assembled) return frame.wire!
  if (frame.wire) return frame.wire
  const data = typeof frame.data === 'string' ? Buffer.from(frame.data, 'utf8') : frame.data
  const parts = frameFn(data, { fin: true, rsv1: false, opcode: frame.binary ? OPCODE_BINARY : OPCODE_TEXT, mask: false, readOnly: false })
  frame.wire = parts.length === 1 ? parts[0]! : Buffer.concat(parts)
  return frame.wire
}

/**
 * The header of a text frame of `payloadLength` bytes, as `wireFrame` (ws's `Sender.frame`,
 * unmasked) writes it, for a sender that assembles each recipient's frame from shared parts in
 * one buffer (channel/change-frame.ts) instead of a string, its UTF-8 copy and a concatenation.
 * RFC 6455 §5.2: FIN + opcode, then the length in 7 bits, or 126 + 16 bits, or 127 + 64 bits.
 */
export function textFrameHeaderLength(payloadLength: number): number {
  return payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10
}

/** Writes the header of `textFrameHeaderLength(payloadLength)` bytes at `at`. */
export function writeTextFrameHeader(target: Buffer, at: number, payloadLength: number): void {
  target[at] = 0x80 | OPCODE_TEXT
  if (payloadLength < 126) {
    target[at + 1] = payloadLength
  } else if (payloadLength < 65536) {
    target[at + 1] = 126
    target.writeUInt16BE(payloadLength, at + 2)
  } else {
    target[at + 1] = 127
    target.writeUInt32BE(Math.floor(payloadLength / 2 ** 32), at + 2)
    target.writeUInt32BE(payloadLength >>> 0, at + 6)
  }
}

/**
 * The last frame list a flush concatenated in this round: the next socket with exactly the same
 * frames (the next member of the same room) writes the same Buffer. The list is its queue's
 * spare (see "Reused lists"), emptied when the next concatenation replaces it or the round ends.
 */
interface SharedWrite {
  frames: FrameList | null
  buffer: Buffer | null
}

/** Ends a round's sharing: the shared list goes back to its queue empty. */
function releaseShared(shared: SharedWrite): void {
  shared.frames?.clear()
  shared.frames = null
  shared.buffer = null
}

type FrameList = ReusableList<OutFrame>

// ─── Reused lists ───────────────────────────────────────────────────────────────────────
// A socket's list of queued frames lives from its first frame to the next round, across the
// paced waits between rounds, which is when V8's idle-time scavenges run. Allocated afresh
// per round, those lists were most of what survived scavenges: at 100k broadcast deliveries/s
// heap sampling found 27 of the 30 MB the lists allocated among objects that outlived a
// scavenge, and the scavenges took 9-14 ms (1-5 ms with reused lists; bench/README.md,
// "Broadcast fan-out"). So a queue keeps two lists and swaps them at each flush, and the
// scheduler keeps two dirty lists (reusable-list.ts): a round allocates no list. A list that
// grew past REUSED_LIST_MAX slots (a replay's thousands of frames) drops its storage instead,
// so an idle socket keeps no more than a small array.
const REUSED_LIST_MAX = 256
/** Dirty lists hold up to one entry per socket of the process. */
const REUSED_DIRTY_MAX = 1 << 16

// ─── Paced write rounds ─────────────────────────────────────────────────────────────────
// A round writes every dirty socket once. Each write costs about the same whatever its size up
// to ~16 KB (~12 µs on loopback, measured), so a round's cost grows with the sockets it writes,
// not with the frames. Started greedily, one round per event-loop turn, a busy server wrote
// more rounds of fewer frames as it got faster: with 1,000 subscribers of a change stream,
// each small batch of changes became a round of 1,000 writes, 50 rounds per second, most of
// the server's time, and as many wake-ups and reads for every client (CDC bench, 150
// changes/s). So while the loop is nearly always busy (loop-load.ts: over PACE_ON_LOAD, until
// it drops under PACE_OFF_LOAD), after a round ends the next waits (FLUSH_PACE - 1) times the
// round's cost (below): a round of 15 ms of writes waits 15 ms, frames of several batches
// share one write, and rounds take at most half the time.
// Not otherwise: paced, rounds grow with the wait and the wait with the rounds, and a server
// with CPU to spare delivered broadcasts at 40k deliveries/s with p50 29 ms (1.4 ms unpaced).
// Rounds under 2 ms are never paced (the clock counts whole milliseconds; they cost little),
// nor rounds of fewer than 64 writes: their time is bytes (a replay's megabytes to 20 resuming
// sockets), which pacing does not save, and it would hold a catch-up back.
// A round's cost is the smaller of its wall time and the CPU time the process used meanwhile
// (cpu-time.ts). Now and then a round of ~10 ms of writes takes 35-65 ms of wall time (the
// process lost its core to the machine's other work), and a wait that long doubled the stall
// for every frame behind it: in the CDC bench's stage trace (tenant policy, 30 inserts/s to
// 1,000 sockets) frames waited 160 ms at p99 from queued to their first write, and the step
// failed its 250 ms bar. Capping the wait at 20 ms instead also passed that ladder, but it
// shortens the waits of rounds that really are long under load, where batching needs them: in
// one A/B the cap saturated broadcast fan-out at 1.23M against 1.59M deliveries/s without it
// (a later A/B of the cap against this rule: 1.13M against 1.17M). The CPU time tells a slow
// round from a stalled one (bench/README.md, "Broadcast fan-out" and "Postgres Changes").
// A wait ends early once the sockets' writes are full: when the frames queued during it reach
// FULL_WRITE_FRAMES per dirty socket on average, the next round starts after the current turn's
// reads. Waiting longer would save nothing more (a write's fixed cost is already shared by that
// many frames), and it left the server idle while frames waited: publishers that wait for their
// acknowledgements (broadcast bench, `ack: true`) saw every round-trip take two rounds' time,
// and a saturated server used 0.84 of its core (1.32M deliveries/s against 1.51M/s with this
// rule in the same run; in another, 32 frames instead of 16 gave 1.48M against 1.57M/s;
// bench/README.md, "Broadcast fan-out", 2026-12-03).
// Change streams rarely reach it (one or a few frames per socket per round); a replay to
// resuming sockets does, which is the point.
const FLUSH_PACE = 2
const FULL_WRITE_FRAMES = 16
const MIN_PACED_ROUND_MS = 2
const MIN_PACED_WRITES = 64
const PACE_ON_LOAD = 0.9
const PACE_OFF_LOAD = 0.6

export class FlushScheduler {
  /** Queues with frames waiting (each marks itself once per round); swapped with `#flushing` per round. */
  #dirty = new ReusableList<OutboundQueue>(REUSED_DIRTY_MAX)
  #flushing = new ReusableList<OutboundQueue>(REUSED_DIRTY_MAX)
  #scheduled = false
  /** The clock's time before which no round starts (see "Paced write rounds"). */
  #nextRoundAt = 0
  #pacing = false
  /** The paced wait's timer, while one runs; frames queued since it started. */
  #waitTimer: ClockTimer | null = null
  #framesDuringWait = 0

  constructor(
    private readonly clock: Clock = systemClock,
    /** How busy the loop is (loop-load.ts); rounds are paced only while it is high. */
    private readonly load: LoopLoad = eventLoopLoad(),
    /** The process's CPU time (cpu-time.ts): a round's cost is at most what it used. */
    private readonly cpu: CpuTime = processCpuTime,
  ) {}

  /** Called by a queue whose first frame since its last flush arrived (so at most once per round). */
  markDirty(queue: OutboundQueue): void {
    this.#dirty.push(queue)
    if (this.#scheduled) return
    this.#scheduled = true
    const wait = this.#nextRoundAt - this.clock.now()
    if (wait > 0) this.#waitTimer = this.clock.setTimeout(this.#flushAll, wait)
    else setImmediate(this.#flushAll)
  }

  /** Called by a queue for every frame it takes: a paced wait ends once writes are full (see "Paced write rounds"). */
  framePushed(): void {
    if (this.#waitTimer === null) return
    if (++this.#framesDuringWait < this.#dirty.size * FULL_WRITE_FRAMES) return
    this.clock.clearTimeout(this.#waitTimer)
    this.#waitTimer = null
    setImmediate(this.#flushAll)
  }

  /** Frames written by the last flushes, read and reset by the metrics collector. */
  framesWritten = 0
  bytesWritten = 0
  /** Called after each flush of all dirty sockets while the inspector traces (it times deliveries); null otherwise. */
  afterFlush: (() => void) | null = null
  readonly #shared: SharedWrite = { frames: null, buffer: null }

  readonly #flushAll = (): void => {
    this.#scheduled = false
    this.#waitTimer = null
    this.#framesDuringWait = 0
    const started = this.clock.now()
    const cpuAtStart = this.cpu()
    const queues = this.#dirty
    this.#dirty = this.#flushing
    const shared = this.#shared
    let writes = 0
    for (let i = 0; i < queues.size; i++) {
      const queue = queues.at(i)
      const { frames, bytes } = queue.flush(shared)
      if (frames > 0) writes++
      this.framesWritten += frames
      this.bytesWritten += bytes
      queue.tally.frames += frames
      queue.tally.bytes += bytes
    }
    releaseShared(shared)
    queues.clear()
    this.#flushing = queues
    const took = this.clock.now() - started
    const load = this.load()
    this.#pacing = this.#pacing ? load >= PACE_OFF_LOAD : load >= PACE_ON_LOAD
    const cost = Math.min(took, this.cpu() - cpuAtStart)
    const paced = this.#pacing && cost >= MIN_PACED_ROUND_MS && writes >= MIN_PACED_WRITES
    this.#nextRoundAt = paced ? started + took + (FLUSH_PACE - 1) * cost : 0
    this.afterFlush?.()
  }
}

export class OutboundQueue {
  #frames = new ReusableList<OutFrame>(REUSED_LIST_MAX)
  /** The list the last flush wrote, empty once written (see "Reused lists"); the next flush swaps it in. */
  #spare = new ReusableList<OutFrame>(REUSED_LIST_MAX)
  #bytes = 0
  #closed = false

  constructor(
    private readonly ws: WebSocket,
    private readonly rawSocket: Duplex,
    private readonly scheduler: FlushScheduler,
    private readonly maxBufferedBytes: number,
    private readonly onOverflow: () => void,
    /** The tenant's count of what its sockets wrote (metrics.ts `delivered`). */
    readonly tally: DeliveredTally = { frames: 0, bytes: 0 },
  ) {}

  push(frame: OutFrame): void {
    if (this.#closed) return
    this.#bytes += frame.assembled ? frame.assembled.payloadLength : frame.data.length
    if (this.#bytes + this.ws.bufferedAmount > this.maxBufferedBytes) {
      this.close()
      this.onOverflow()
      return
    }
    this.#frames.push(frame)
    if (this.#frames.size === 1) this.scheduler.markDirty(this)
    this.scheduler.framePushed()
  }

  /** Bytes waiting here and in ws's own buffer. */
  get queuedBytes(): number {
    return this.#bytes + this.ws.bufferedAmount
  }

  /** Writes the queued frames; `shared` lets consecutive sockets with the same frames share one Buffer. */
  flush(shared?: SharedWrite): { frames: number; bytes: number } {
    const frames = this.#frames
    const bytes = this.#bytes
    const count = frames.size
    if (count === 0) return { frames: 0, bytes: 0 }
    // The spare is empty: a list is emptied after its write, or (the round's shared list) when
    // the round ends, and a queue flushes once per round.
    this.#frames = this.#spare
    this.#spare = frames
    this.#bytes = 0
    const open = !this.#closed && this.ws.readyState === this.ws.OPEN
    if (open) this.#write(frames, shared)
    if (frames !== shared?.frames) frames.clear()
    return open ? { frames: count, bytes } : { frames: 0, bytes: 0 }
  }

  #write(frames: FrameList, shared: SharedWrite | undefined): void {
    if (!senderFrame) {
      this.rawSocket.cork()
      for (let i = 0; i < frames.size; i++) {
        const frame = frames.at(i)
        this.ws.send(frame.data, frame.binary ? BINARY : TEXT)
      }
      this.rawSocket.uncork()
      return
    }
    // ws writes its own frames (pong, close) straight to this socket too, and never queues
    // them here (no permessage-deflate, no Blobs), so a direct write keeps the order ws.send would.
    if (frames.size === 1) {
      this.rawSocket.write(wireFrame(frames.at(0), senderFrame))
    } else if (shared && shared.frames !== null && sameFrames(shared.frames, frames)) {
      this.rawSocket.write(shared.buffer!)
    } else {
      const buffer = concatWire(frames, senderFrame)
      if (shared) {
        releaseShared(shared)
        shared.frames = frames
        shared.buffer = buffer
      }
      this.rawSocket.write(buffer)
    }
  }

  /** Drops queued frames; later pushes are ignored. */
  close(): void {
    this.#closed = true
    this.#frames.clear()
    this.#bytes = 0
  }
}

/**
 * The wire bytes of `frames` in one Buffer: assembled frames are written into it in place,
 * others copied from their (shared) wire Buffer. One allocation and one copy per frame.
 */
function concatWire(frames: FrameList, frameFn: FrameFn): Buffer {
  let length = 0
  for (let i = 0; i < frames.size; i++) {
    const frame = frames.at(i)
    length += frame.assembled ? frame.assembled.wireLength : wireFrame(frame, frameFn).length
  }
  const buffer = Buffer.allocUnsafe(length)
  let at = 0
  for (let i = 0; i < frames.size; i++) {
    const frame = frames.at(i)
    if (frame.assembled) {
      frame.assembled.writeWire(buffer, at)
      at += frame.assembled.wireLength
    } else {
      const wire = frame.wire!
      buffer.set(wire, at)
      at += wire.length
    }
  }
  return buffer
}

function sameFrames(a: FrameList, b: FrameList): boolean {
  if (a.size !== b.size) return false
  for (let i = 0; i < a.size; i++) if (a.at(i) !== b.at(i)) return false
  return true
}
