/**
 * A channel's `postgres_changes` frames, built straight into their WebSocket wire bytes.
 *
 * A change reaches every subscriber in a frame of its own (each channel has its topic, its
 * binding ids and maybe a position mark), around a `data` object that all recipients of one
 * payload variant share. Before, each delivery built the message as a string (two template
 * concatenations over the whole record), copied it to UTF-8, then framed it (header Buffer plus
 * a concatenation): three copies of the record and five allocations per subscriber, at 1,000
 * subscribers per change ~15 % of the server's time next to the socket writes (bench/README.md,
 * "Postgres Changes"). Here the parts that do not change are bytes made once (per channel: the
 * topic's prefix and suffix; per change variant: `data`, ChangeData), and a frame is a small
 * object naming them, copied once, straight into the buffer its socket's flush writes:
 *
 *   header │ prefix {"ids":[ │ 1,2],"data": │ data bytes │ ,"switchboard":{…}? │ } suffix
 *   ws     │ per channel      │ per ids      │ per variant │ per change          │ per channel
 *
 * The bytes equal `serializer.encodeJsonPayload(null, null, topic, 'postgres_changes',
 * '{"ids":[…],"data":…<mark>}')` framed by ws (test/channel/change-frame.test.ts).
 */
import { formatStreamPoint, type Serializer } from '@switchboard/protocol'
import type { ChangePosition } from '../cdc/change.js'
import type { ChangeData } from '../cdc/change-payload.js'
import { markMember } from '../hub/log-entry.js'
import { textFrameHeaderLength, writeTextFrameHeader, type OutFrame } from '../socket/outbound-queue.js'

const IDS_OPEN = '{"ids":['
const IDS_CLOSE = '],"data":'

export class ChangeFrameEncoder {
  /** `prefix{"ids":[` */
  readonly #head: Buffer
  /** `}suffix` */
  readonly #tail: Buffer
  /** The last ids framed and their bytes (`1,2],"data":`): a channel's ids rarely change. */
  #ids: readonly number[] = []
  #idsBytes: Buffer = Buffer.from(IDS_CLOSE)

  constructor(serializer: Serializer, topic: string) {
    const { prefix, suffix } = serializer.jsonPayloadAffixes(null, null, topic, 'postgres_changes')
    this.#head = Buffer.from(prefix + IDS_OPEN, 'utf8')
    this.#tail = Buffer.from(`}${suffix}`, 'utf8')
  }

  /** The frame of `data` for bindings `ids`; `withMark`: add the position mark (switchboard resume). */
  frame(ids: readonly number[], data: ChangeData, withMark: boolean): OutFrame {
    const mark = withMark && data.position.seq > 0 ? markBytes(data.position) : null
    return new ChangeFrame(this.#head, this.#idsFor(ids), data.bytes, mark, this.#tail)
  }

  #idsFor(ids: readonly number[]): Buffer {
    const last = this.#ids
    if (ids.length === last.length) {
      let same = true
      for (let i = 0; i < ids.length; i++) if (ids[i] !== last[i]) { same = false; break }
      if (same) return this.#idsBytes
    }
    this.#ids = [...ids]
    this.#idsBytes = Buffer.from(ids.join(',') + IDS_CLOSE, 'latin1')
    return this.#idsBytes
  }
}

/**
 * One recipient's frame as references to its parts (each shared, none copied here): the socket's
 * flush writes it straight into the buffer it writes (socket/outbound-queue.ts), so a delivery
 * costs one small object, not a Buffer of its own that the flush then copies again (before:
 * ~12 % of the server's time at 155,000 deliveries/s, allocation, copies and their GC).
 */
class ChangeFrame implements OutFrame {
  readonly binary = false
  readonly payloadLength: number
  readonly wireLength: number
  #wire: Buffer | null = null

  constructor(
    private readonly head: Buffer,
    private readonly ids: Buffer,
    private readonly body: Buffer,
    private readonly mark: Buffer | null,
    private readonly tail: Buffer,
  ) {
    this.payloadLength = head.length + ids.length + body.length + (mark === null ? 0 : mark.length) + tail.length
    this.wireLength = textFrameHeaderLength(this.payloadLength) + this.payloadLength
  }

  get assembled(): this {
    return this
  }

  writeWire(target: Buffer, at: number): void {
    writeTextFrameHeader(target, at, this.payloadLength)
    // TypedArray#set, not Buffer#copy: the same memmove without Buffer's argument checks.
    at += this.wireLength - this.payloadLength
    target.set(this.head, at)
    at += this.head.length
    target.set(this.ids, at)
    at += this.ids.length
    target.set(this.body, at)
    at += this.body.length
    if (this.mark !== null) {
      target.set(this.mark, at)
      at += this.mark.length
    }
    target.set(this.tail, at)
  }

  /** The whole frame as one Buffer, built on first use (a lone frame's write, tests, ws.send). */
  get wire(): Buffer {
    if (this.#wire === null) {
      this.#wire = Buffer.allocUnsafe(this.wireLength)
      this.writeWire(this.#wire, 0)
    }
    return this.#wire
  }

  get data(): Buffer {
    return this.wire.subarray(this.wireLength - this.payloadLength)
  }
}

// The mark of a change, made once for all its recipients. Live, changes are delivered one after
// the other, so the last one is checked first; a replay frames a crowd of channels one channel
// at a time, each over the same changes, so every change's mark is also kept beside its
// position object (weakly: it goes with the change). Keyed by `seq` too: it is assigned when
// the change is positioned, on the same object.
let markedPosition: ChangePosition | null = null
let markedSeq = 0
let markedBytes: Buffer = Buffer.alloc(0)
const marks = new WeakMap<ChangePosition, { seq: number; bytes: Buffer }>()

function markBytes(position: ChangePosition): Buffer {
  if (position === markedPosition && position.seq === markedSeq) return markedBytes
  let mark = marks.get(position)
  if (mark === undefined || mark.seq !== position.seq) {
    mark = { seq: position.seq, bytes: Buffer.from(`,${markMember({ position: position.seq, point: formatStreamPoint(position.lsn, position.index) })}`, 'utf8') }
    marks.set(position, mark)
  }
  markedPosition = position
  markedSeq = position.seq
  markedBytes = mark.bytes
  return markedBytes
}
