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

  state(key: string): PresenceGroup {
    return this.#topics.get(key)?.state() ?? Object.create(null)
  }
}
