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
 * topic's prefix and suffix; per change variant: `data`, ChangeData), and a frame is one
 * allocation and a few copies:
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
    const head = this.#head
    const idsBytes = this.#idsFor(ids)
    const body = data.bytes
    const mark = withMark && data.position.seq > 0 ? markBytes(data.position) : null
    const tail = this.#tail
    const length = head.length + idsBytes.length + body.length + (mark === null ? 0 : mark.length) + tail.length
    const headerLength = textFrameHeaderLength(length)
    // From Node's 8 KiB pool, as the frames before were. Not from larger slabs of our own (tried:
    // fewer pool refills, a few % of the server's time at most): a slow socket holding one frame
    // from each of many changes would pin a whole slab per frame, maxBufferedBytesPerSocket ×
    // (slab / frame) of memory at worst, against the pool's ×20.
    const wire = Buffer.allocUnsafe(headerLength + length)
    writeTextFrameHeader(wire, 0, length)
    // TypedArray#set, not Buffer#copy: the same memmove without Buffer's argument checks.
    let at = headerLength
    wire.set(head, at)
    at += head.length
    wire.set(idsBytes, at)
    at += idsBytes.length
    wire.set(body, at)
    at += body.length
    if (mark !== null) {
      wire.set(mark, at)
      at += mark.length
    }
    wire.set(tail, at)
    return { data: wire.subarray(headerLength), binary: false, wire }
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

// The mark of the change being delivered, made once for all its recipients: changes are
// delivered one after the other, so one entry is enough (keyed by `seq` too: it is assigned
// when the change is positioned, on the same object).
let markedPosition: ChangePosition | null = null
let markedSeq = 0
let markedBytes: Buffer = Buffer.alloc(0)

function markBytes(position: ChangePosition): Buffer {
  if (position !== markedPosition || position.seq !== markedSeq) {
    markedBytes = Buffer.from(`,${markMember({ position: position.seq, point: formatStreamPoint(position.lsn, position.index) })}`, 'utf8')
    markedPosition = position
    markedSeq = position.seq
  }
  return markedBytes
}
