/**
 * The handles callers hold: one per `subscribeToEntity` / `joinPresence` call. A handle is a lease
 * on a shared channel; `release()` is idempotent and never affects other leases. The channel
 * reads the lease's handlers from it on every event, so handlers survive every reconnect.
 */
import type { ManagedChannel } from './managed-channel.js'
import type { ChannelKind } from './naming.js'
import type { PresenceMetadata, PresenceUser, PresenceUserInput } from './presence.js'
import type { Status } from './status.js'
import { Emitter, type ReadableStore } from './store.js'
import type { BroadcastMessage, GapEvent, LeaseOptions } from './types.js'

type BroadcastHandler = (message: BroadcastMessage) => void

abstract class Lease {
  /** Channel name, e.g. `tenant:acme:subscription:contact:123`. */
  readonly name: string
  /** Wire topic (`realtime:` + name). */
  readonly topic: string
  readonly kind: ChannelKind
  /** The channel's status; subscribe with `statusStore` or `onStatus`. */
  readonly statusStore: ReadableStore<Status>
  /** `true` once released. */
  released = false
  /** @internal the postgres spec this lease listens to (undefined: broadcast or presence only) */
  readonly specKey: string | undefined
  /** @internal the presence this lease tracks */
  readonly presence: { user: PresenceUserInput; metadata: PresenceMetadata } | undefined
  /** @internal broadcast handlers by event */
  readonly handlers = new Map<string, Set<BroadcastHandler>>()
  /** @internal */
  readonly gaps = new Emitter<GapEvent>()
  /** @internal */
  readonly statuses = new Emitter<Status>()

  /** @internal */
  constructor(
    /** @internal */ readonly channel: ManagedChannel,
    /** @internal */ readonly options: LeaseOptions,
    specKey?: string,
    presence?: Lease['presence'],
  ) {
    this.name = channel.name
    this.topic = channel.topic
    this.kind = channel.kind
    this.statusStore = channel.status
    this.specKey = specKey
    this.presence = presence
  }

  /** `connecting | connected | reconnecting | disconnected | error` */
  get status(): Status {
    return this.released ? 'disconnected' : this.channel.status.getSnapshot()
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
    return this.gaps.on((e) => e.resumed || listener(e))
  }

  /**
   * Listens to recoveries: the channel came back and the server replayed exactly what was missed
   * (Switchboard positions), so the stream alone keeps caches right. @returns the remover.
   */
  onRecover(listener: (event: GapEvent) => void): () => void {
    return this.gaps.on((e) => e.resumed && listener(e))
  }

  /** Listens to status changes of the channel (with the error on `error`). @returns the remover. */
  onStatus(listener: (status: Status, error?: Error) => void): () => void {
    return this.statuses.on((status) => listener(status, status === 'error' ? this.channel.lastError : undefined))
  }

  /** Waits until the channel is joined (rejects on `error`, release, or after `timeoutMs`). */
  waitUntilConnected(timeoutMs = 10_000): Promise<void> {
    return this.channel.whenConnected(timeoutMs)
  }

  /** Releases this lease. Idempotent. The channel leaves when its last lease is gone (after a short grace). */
  release(): void {
    if (this.released) return
    this.released = true
    this.handlers.clear()
    this.gaps.listeners.clear()
    this.statuses.listeners.clear()
    this.channel.remove(this)
  }
}

export type { Lease }

/**
 * A lease on an entity channel (postgres changes + broadcast), returned by `subscribeToEntity`.
 *
 * @example
 * ```ts
 * const channel = await subscribeToEntity({ entityType: 'document', entityId: 'doc-789', onChange })
 * channel.on('broadcast', { event: 'cursor-move' }, ({ payload }) => moveCursor(payload))
 * // later
 * channel.release()
 * ```
 */
export class EntityChannel extends Lease {
  /**
   * Adds a broadcast handler owned by this lease (removed on release, kept across reconnects).
   * `event: '*'` receives every event. Chainable, like realtime-js.
   */
  on<P = unknown>(type: 'broadcast', filter: { event: string }, callback: (message: BroadcastMessage<P>) => void): this {
    if (type !== 'broadcast') throw new TypeError(`only 'broadcast' handlers can be added to a shared channel (got ${String(type)})`)
    if (this.released) return this
    const set = this.handlers.get(filter.event) ?? new Set()
    this.handlers.set(filter.event, set.add(callback as BroadcastHandler))
    return this
  }

  /** Removes a handler added with {@link EntityChannel.on}. */
  off<P = unknown>(_type: 'broadcast', filter: { event: string }, callback: (message: BroadcastMessage<P>) => void): this {
    this.handlers.get(filter.event)?.delete(callback as BroadcastHandler)
    return this
  }

  /** Broadcasts on this channel (checked and rate-limited; waits for the join). */
  send(event: string, payload: unknown): Promise<void> {
    return this.channel.send(event, payload)
  }

  /** Alias of `release()`. */
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
export class PresenceLease<M extends PresenceMetadata = PresenceMetadata> extends Lease {
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
    return this.channel.updateMetadata([this], metadata)
  }

  /** Alias of `release()`: untracks this lease (the channel leaves with the last one). */
  leave(): void {
    this.release()
  }
}
