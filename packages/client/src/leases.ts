/**
 * The handles callers hold: one per `subscribeToEntity` / `joinPresence` call. A handle is a lease
 * on a shared channel; `release()` is idempotent and never affects other leases.
 */
import type { ManagedChannel, BroadcastMessage, GapEvent, LeaseRecord } from './managed-channel.js'
import type { ChannelKind } from './naming.js'
import type { PresenceMetadata, PresenceUser } from './presence.js'
import type { Status } from './status.js'
import type { ReadableStore } from './store.js'

/** What a handle needs from the manager. @internal */
export interface LeaseHost {
  release(record: LeaseRecord): void
  updatePresence(record: LeaseRecord, metadata: PresenceMetadata): Promise<void>
}

abstract class BaseLease {
  /** Channel name, e.g. `tenant:acme:subscription:contact:123`. */
  readonly name: string
  /** Wire topic (`realtime:` + name). */
  readonly topic: string
  readonly kind: ChannelKind
  /** The channel's status; subscribe with `statusStore` or `onStatus`. */
  readonly statusStore: ReadableStore<Status>
  /** @internal */
  protected readonly record: LeaseRecord
  /** @internal */
  protected readonly channel: ManagedChannel
  /** @internal */
  protected readonly host: LeaseHost

  /** @internal */
  constructor(host: LeaseHost, channel: ManagedChannel, record: LeaseRecord) {
    this.host = host
    this.channel = channel
    this.record = record
    this.name = channel.name
    this.topic = channel.topic
    this.kind = channel.kind
    this.statusStore = channel.status
  }

  /** `connecting | connected | reconnecting | disconnected | error` */
  get status(): Status {
    return this.record.released ? 'disconnected' : this.channel.status.getSnapshot()
  }

  get released(): boolean {
    return this.record.released
  }

  /** The last error of the channel, if any. */
  get lastError(): Error | undefined {
    return this.channel.lastError
  }

  /**
   * Listens to `gap` events: the channel came back after a break and events may have been missed.
   * @returns the function that stops listening.
   */
  onGap(listener: (event: GapEvent) => void): () => void {
    return this.record.gaps.on((e) => e.resumed || listener(e))
  }

  /**
   * Listens to recoveries: the channel came back and the server replayed exactly what was missed
   * (Switchboard positions), so the stream alone keeps caches right. @returns the remover.
   */
  onRecover(listener: (event: GapEvent) => void): () => void {
    return this.record.gaps.on((e) => e.resumed && listener(e))
  }

  /** Listens to status changes of the channel. @returns the function that stops listening. */
  onStatus(listener: (status: Status, error?: Error) => void): () => void {
    return this.record.status.on(({ status, error }) => listener(status, error))
  }

  /** Waits until the channel is joined (rejects on `error`, release, or after `timeoutMs`). */
  waitUntilConnected(timeoutMs = 10_000): Promise<void> {
    return this.channel.waitConnected(timeoutMs)
  }

  /** Releases this lease. Idempotent. The channel leaves when its last lease is gone (after a short grace). */
  release(): void {
    this.host.release(this.record)
  }
}

/**
 * A lease on an entity channel (postgres changes + broadcast), returned by `subscribeToEntity`.
 *
 * @example
 * ```ts
 * const channel = await subscribeToEntity({ entityType: 'document', entityId: 'doc-789', onChange: refetch })
 * channel.on('broadcast', { event: 'cursor-move' }, ({ payload }) => moveCursor(payload))
 * // later
 * channel.release()
 * ```
 */
export class EntityChannel extends BaseLease {
  /**
   * Adds a broadcast handler owned by this lease (removed on release, kept across reconnects).
   * `event: '*'` receives every event. Chainable, like realtime-js.
   */
  on<P = unknown>(type: 'broadcast', filter: { event: string }, callback: (message: BroadcastMessage<P>) => void): this {
    if (type !== 'broadcast') throw new TypeError(`only 'broadcast' handlers can be added to a shared channel (got ${String(type)})`)
    if (this.record.released) return this
    let set = this.record.broadcast.get(filter.event)
    if (!set) {
      set = new Set()
      this.record.broadcast.set(filter.event, set)
    }
    set.add(callback as (message: BroadcastMessage) => void)
    return this
  }

  /** Removes a handler added with {@link EntityChannel.on}. */
  off<P = unknown>(type: 'broadcast', filter: { event: string }, callback: (message: BroadcastMessage<P>) => void): this {
    const set = this.record.broadcast.get(filter.event)
    set?.delete(callback as (message: BroadcastMessage) => void)
    if (set && set.size === 0) this.record.broadcast.delete(filter.event)
    return this
  }

  /** Broadcasts on this channel (checked and rate-limited; waits for the join). */
  send(event: string, payload: unknown): Promise<void> {
    return this.channel.send(event, payload)
  }

  /** Alias of {@link BaseLease.release}. */
  unsubscribe(): void {
    this.release()
  }
}

/**
 * A lease on a presence channel, returned by `joinPresence`.
 *
 * @example
 * ```ts
 * const presence = await joinPresence({ entityType: 'project', entityId: 'p-456', user, onSync: setUsers })
 * await presence.updateMetadata({ typing: true })
 * presence.leave()
 * ```
 */
export class PresenceLease<M extends PresenceMetadata = PresenceMetadata> extends BaseLease {
  /** Users on the channel now (one per user id). */
  get users(): PresenceUser<M>[] {
    return this.channel.users.getSnapshot() as PresenceUser<M>[]
  }

  /** The users as a store for `useSyncExternalStore`. */
  get usersStore(): ReadableStore<PresenceUser<M>[]> {
    return this.channel.users as unknown as ReadableStore<PresenceUser<M>[]>
  }

  /** Merges `metadata` into what this lease tracks and re-tracks. */
  updateMetadata(metadata: Partial<M>): Promise<void> {
    return this.host.updatePresence(this.record, metadata as PresenceMetadata)
  }

  /** Alias of {@link BaseLease.release}: untracks this lease (the channel leaves with the last one). */
  leave(): void {
    this.release()
  }
}
