/**
 * Who is subscribed to which topic on this node, and fan-out to them.
 *
 * Topics are keyed by privacy and name (`public:room1`, `private:room1`): a private and a
 * public channel with the same name are different rooms, as in Supabase (§2.1). Each message
 * is encoded at most once per serializer version and converted to bytes once; every recipient
 * then gets the same Buffer (style.md §7, Phoenix `Channel.Server.dispatch`).
 */
import type { Serializer, UserBroadcast } from '@switchboard/protocol'
import type { OutFrame } from '../socket/outbound-queue.js'
import type { PresenceDiff } from '../presence/presence-topic.js'
import { withMarkMeta, withMarkMetadata, type Mark } from '../hub/log-entry.js'

export interface FanoutSubscriber {
  readonly serializer: Serializer
  /** Channels that asked for positions get them in every message (`meta.switchboard.position`). */
  readonly wantsPositions: boolean
  /** Private channels receive broadcasts only with broadcast-read permission. */
  readonly receivesBroadcast: boolean
  /** Private channels receive presence diffs only with presence-read permission. */
  readonly receivesPresence: boolean
  /** A fan-out frame with its mark in the tenant's log (null for unpositioned pushes such as presence). */
  enqueue(frame: OutFrame, mark: Mark | null): void
  /** The log's positions were reset: the subscriber must rejoin (its client resumes with a gap). */
  restart(reason: string): void
}

type Encode = (serializer: Serializer, withPosition: boolean) => string | Uint8Array | null

export function topicKey(subTopic: string, isPrivate: boolean): string {
  return `${isPrivate ? 'private' : 'public'}:${subTopic}`
}

export class TopicRegistry {
  readonly #topics = new Map<string, Set<FanoutSubscriber>>()
  #generation = 0

  add(key: string, subscriber: FanoutSubscriber): void {
    let set = this.#topics.get(key)
    if (!set) this.#topics.set(key, (set = new Set()))
    set.add(subscriber)
    this.#generation++
  }

  remove(key: string, subscriber: FanoutSubscriber): void {
    const set = this.#topics.get(key)
    if (!set) return
    set.delete(subscriber)
    if (set.size === 0) this.#topics.delete(key)
    this.#generation++
  }

  /** Changes whenever a subscriber is added or removed (the inspector reuses a topic's member list while it holds). */
  get generation(): number {
    return this.#generation
  }

  /** The subscribers of a topic on this node (the inspector reads them; never modify). */
  subscribers(key: string): ReadonlySet<FanoutSubscriber> | undefined {
    return this.#topics.get(key)
  }

  /** Every topic with its subscribers (the inspector's channel list). */
  entries(): IterableIterator<[string, ReadonlySet<FanoutSubscriber>]> {
    return this.#topics.entries()
  }

  subscriberCount(key: string): number {
    return this.#topics.get(key)?.size ?? 0
  }

  get topicCount(): number {
    return this.#topics.size
  }

  /** A broadcast whose payload is a JSON object forwarded as sent (vsn 1.0.0 senders, batch REST). */
  broadcastJson(key: string, topic: string, payload: Record<string, unknown>, mark: Mark, except?: FanoutSubscriber): number {
    return this.#deliver(key, except, mark, (s) => s.receivesBroadcast, (serializer, withPosition) =>
      serializer.encode(null, null, topic, 'broadcast', withPosition ? withMarkMeta(payload, mark) : payload))
  }

  /** A user broadcast (kind-3 push, single-event REST, database): bytes forwarded without parsing. */
  broadcastUser(key: string, topic: string, broadcast: UserBroadcast, mark: Mark, except?: FanoutSubscriber): number {
    return this.#deliver(key, except, mark, (s) => s.receivesBroadcast, (serializer, withPosition) =>
      serializer.encodeUserBroadcast(topic, withPosition ? { ...broadcast, metadataJson: withMarkMetadata(broadcast.metadataJson, mark) } : broadcast))
  }

  /** Presence diffs carry no position: presence heals itself with `presence_state` on every join. */
  presenceDiff(key: string, topic: string, diff: PresenceDiff): number {
    return this.#deliver(key, undefined, null, (s) => s.receivesPresence, (serializer) => serializer.encode(null, null, topic, 'presence_diff', diff))
  }

  #deliver(key: string, except: FanoutSubscriber | undefined, mark: Mark | null, accepts: (s: FanoutSubscriber) => boolean, encode: Encode): number {
    const set = this.#topics.get(key)
    if (!set) return 0
    // At most four encodings per message: two wire versions, with and without a position.
    const cache = new Map<Serializer, OutFrame | null>()
    const positioned = new Map<Serializer, OutFrame | null>()
    let delivered = 0
    for (const subscriber of set) {
      if (subscriber === except || !accepts(subscriber)) continue
      const withPosition = mark !== null && subscriber.wantsPositions
      const variants = withPosition ? positioned : cache
      let frame = variants.get(subscriber.serializer)
      if (frame === undefined) {
        frame = toOutFrame(encode(subscriber.serializer, withPosition))
        variants.set(subscriber.serializer, frame)
      }
      if (frame === null) continue
      subscriber.enqueue(frame, mark)
      delivered += 1
    }
    return delivered
  }
}

export function toOutFrame(encoded: string | Uint8Array | null): OutFrame | null {
  if (encoded === null) return null
  if (typeof encoded === 'string') return { data: Buffer.from(encoded, 'utf8'), binary: false }
  return { data: Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength), binary: true }
}
