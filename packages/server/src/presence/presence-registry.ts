/**
 * Presence state of every topic on this node (a PresenceTopic per topic key, removed when
 * its last presence leaves so idle topics cost nothing).
 */
import { PresenceTopic, type PresenceDiff, type PresenceGroup } from './presence-topic.js'

export class PresenceRegistry<Owner> {
  readonly #topics = new Map<string, PresenceTopic<Owner>>()

  track(key: string, owner: Owner, presenceKey: string, payload: Record<string, unknown>, ref: string): PresenceDiff | null {
    let topic = this.#topics.get(key)
    if (!topic) this.#topics.set(key, (topic = new PresenceTopic<Owner>()))
    return topic.track(owner, presenceKey, payload, ref)
  }

  untrack(key: string, owner: Owner): PresenceDiff | null {
    const topic = this.#topics.get(key)
    if (!topic) return null
    const diff = topic.untrack(owner)
    if (topic.size === 0) this.#topics.delete(key)
    return diff
  }

  /** Presences tracked on this node, over all topics (the inspector's overview; O(topics)). */
  get size(): number {
    let n = 0
    for (const topic of this.#topics.values()) n += topic.size
    return n
  }

  /** Presences tracked on one topic. */
  sizeOf(key: string): number {
    return this.#topics.get(key)?.size ?? 0
  }

  state(key: string): PresenceGroup {
    return this.#topics.get(key)?.state() ?? Object.create(null)
  }
}
