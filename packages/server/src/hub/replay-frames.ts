/**
 * Broadcast frames for replays, encoded once per log entry and wire version and shared by every
 * channel that replays the entry.
 *
 * Why: clients come back in crowds (after a server restart or a network drop every channel of
 * a topic resumes within a few hundred milliseconds) and each is owed the same broadcasts.
 * Encoded per channel, the chaos bench's SIGKILL case (20 channels owed ~650 broadcasts each)
 * re-encoded the same messages twenty times on the event loop while the other resumes waited.
 * Live fan-out already encodes a message once per wire version (broadcast/topic-registry.ts);
 * this gives replays the same.
 *
 * Frames are held weakly by their entry: an entry that leaves the log (or a cluster read's
 * copy of it) takes its frames with it, so nothing here needs a bound of its own.
 *
 * @example
 * const frame = hub.replayFrames.frame(entry, port.serializer, port.topic, encode)
 */
import type { Serializer } from '@switchboard/protocol'
import { toOutFrame } from '../broadcast/topic-registry.js'
import type { OutFrame } from '../socket/outbound-queue.js'

interface Encoded {
  topic: string
  frame: OutFrame | null
}

export class ReplayFrames {
  readonly #byEntry = new WeakMap<object, Map<Serializer, Encoded>>()

  /**
   * The frame of `entry` for channels of `topic` speaking `serializer`; `encode` builds it the
   * first time. A channel whose topic text differs from the cached one gets its own encoding.
   */
  frame(entry: object, serializer: Serializer, topic: string, encode: () => string | Uint8Array | null): OutFrame | null {
    let variants = this.#byEntry.get(entry)
    if (!variants) this.#byEntry.set(entry, (variants = new Map()))
    const cached = variants.get(serializer)
    if (cached && cached.topic === topic) return cached.frame
    const frame = toOutFrame(encode())
    if (!cached) variants.set(serializer, { topic, frame })
    return frame
  }
}
