/**
 * `@switchboard/client/tabs`: one WebSocket per browser instead of one per tab (opt-in, its own
 * entry point so apps that do not share keep the default bundle).
 *
 * @example
 * ```ts
 * import { configureRealtime } from '@switchboard/client/tabs'
 * import { subscribeToEntity } from '@switchboard/client'
 *
 * configureRealtime({ url, apiKey: ANON_KEY, accessToken, shareAcrossTabs: true })
 * await subscribeToEntity({ entityType: 'contact', entityId: '123', onChange }) // as always
 * ```
 *
 * How: the tabs of one origin elect a **leader** with the Web Locks API (one exclusive lock; the
 * others queue on it). The leader runs a {@link Host}, the one `ChannelManager` with a real
 * socket. Every tab, the leader's included, keeps its own `ChannelManager` (leases, handlers,
 * presence, statuses, stream positions) on a {@link TabClient}, which reaches the host over a
 * `BroadcastChannel`. When the leader tab closes, its lock is released and the next tab in the
 * queue leads at once; when it sleeps (frozen, or stuck), its pings go unanswered and a follower
 * **steals** the lock after `leaderTimeoutMs` (default 900 ms). Either way every tab sees its
 * "socket" close and rejoins through the new leader from the positions it tracked, and the
 * server replays what was missed (see `host.ts`). Where Web Locks or BroadcastChannel are
 * missing (or `shareAcrossTabs` is off) each tab gets its own socket, as without this entry.
 */
import { systemClock } from '../clock.js'
import { setChannelManager } from '../index.js'
import { ChannelManager, type RealtimeConfig } from '../manager.js'
import { Host } from './host.js'
import { fromHost, randomId, type AnyMessage, type Channel, type HostMessage, type Locks, type TabMessage } from './messages.js'
import { asRealtimeClient, TabClient } from './tab-client.js'

export type { Locks, Channel } from './messages.js'

/** Options of `shareAcrossTabs`. */
export interface TabSharingOptions {
  /** Tabs that share use the same name (default: derived from `url` and `apiKey`). */
  name?: string
  /** How often a follower checks that the leader answers (default 200 ms). */
  pingIntervalMs?: number
  /** A follower takes the lead when a ping stays unanswered this long (default 900 ms). */
  leaderTimeoutMs?: number
  /** The Web Locks API (default `navigator.locks`). */
  locks?: Locks
  /** Opens a BroadcastChannel (default `new BroadcastChannel(name)`). */
  channel?: (name: string) => Channel
}

/** {@link RealtimeConfig} plus `shareAcrossTabs`. */
export interface SharedRealtimeConfig extends RealtimeConfig {
  /** Share one socket between the tabs of this origin (default false). */
  shareAcrossTabs?: boolean | TabSharingOptions
}

/** What a shared manager's tab is doing (tests, diagnostics). */
export interface TabSharingState {
  /** This tab's id. */
  tab: string
  /** This tab holds the socket. */
  leader: boolean
  /** The leading tab's host id, when one is known. */
  host: string | undefined
}

const sharing = new WeakMap<ChannelManager, TabsNode>()

/** Whether this environment can share one socket between tabs (Web Locks and BroadcastChannel). */
export function canShareAcrossTabs(): boolean {
  const g = globalThis as { navigator?: { locks?: Partial<Locks> }; BroadcastChannel?: unknown }
  return typeof g.navigator?.locks?.request === 'function' && typeof g.BroadcastChannel === 'function'
}

/**
 * A manager whose socket is shared with the other tabs of this origin (see above), or a plain
 * one when `shareAcrossTabs` is off or the environment cannot share.
 */
export function createSharedManager(config: SharedRealtimeConfig): ChannelManager {
  const { shareAcrossTabs, ...rest } = config
  const options: TabSharingOptions = typeof shareAcrossTabs === 'object' ? shareAcrossTabs : {}
  const g = globalThis as { navigator?: { locks?: Locks } }
  const locks = options.locks ?? g.navigator?.locks
  const open = options.channel ?? (typeof BroadcastChannel === 'function' ? (name: string) => new BroadcastChannel(name) as Channel : undefined)
  if (!shareAcrossTabs || rest.client || !locks || !open) return new ChannelManager(rest)
  const node = new TabsNode(rest, options, locks, open)
  // The tab's manager: everything as usual on a client that reaches the leader's socket. The
  // leader's host refreshes the token; the tab's own Connection has nothing to refresh.
  const { accessToken: _token, ...tabConfig } = rest
  const manager = new ChannelManager({ ...tabConfig, client: asRealtimeClient(node.client) })
  const destroy = manager.destroy.bind(manager)
  manager.destroy = async () => {
    await destroy()
    await node.destroy()
  }
  sharing.set(manager, node)
  node.start()
  return manager
}

/**
 * `configureRealtime` of `@switchboard/client` with `shareAcrossTabs`: sets up the shared manager
 * that the module-level helpers (`subscribeToEntity`, `joinPresence`, …) use.
 *
 * @example
 * ```ts
 * configureRealtime({ url: 'https://x.example.com', apiKey: ANON_KEY, accessToken, shareAcrossTabs: true })
 * ```
 */
export function configureRealtime(config: SharedRealtimeConfig): ChannelManager {
  return setChannelManager(createSharedManager(config))
}

/** Whether `manager` shares its socket, and whether this tab leads (`undefined`: not shared). */
export function tabSharingState(manager: ChannelManager): TabSharingState | undefined {
  const node = sharing.get(manager)
  return node && { tab: node.tab, leader: node.leading, host: node.client.leader?.h }
}

/** One tab: its client, its place in the election, and the host while it leads. */
class TabsNode {
  readonly tab = randomId()
  readonly client: TabClient
  readonly #config: RealtimeConfig
  readonly #locks: Locks
  readonly #open: (name: string) => Channel
  readonly #name: string
  readonly #ping: number
  readonly #timeout: number
  readonly #channel: Channel
  #host: { host: Host; channel: Channel; resign: () => void } | undefined
  #queued: AbortController | undefined
  #releaseTab: (() => void) | undefined
  /** `clock.now()` of the ping awaiting its pong. */
  #awaiting: number | undefined
  #timer: unknown
  #lastTick: number | undefined
  #destroyed = false

  constructor(config: RealtimeConfig, options: TabSharingOptions, locks: Locks, open: (name: string) => Channel) {
    this.#config = config
    this.#locks = locks
    this.#open = open
    this.#name = `switchboard:${options.name ?? `${config.url ?? ''}|${config.apiKey ?? ''}`}`
    this.#ping = options.pingIntervalMs ?? 200
    this.#timeout = options.leaderTimeoutMs ?? 900
    this.#channel = open(this.#name)
    this.client = new TabClient(this.tab, config.clock ?? systemClock, (message) => this.#channel.postMessage(message))
    this.#channel.addEventListener('message', ({ data }) => this.#receive(data as AnyMessage))
  }

  get leading(): boolean {
    return this.#host !== undefined
  }

  /** Holds this tab's own lock (the host learns of the tab's end by it), then joins the election. */
  start(): void {
    void this.#locks
      .request(this.#tabLock(this.tab), {}, () => {
        if (this.#destroyed) return Promise.resolve()
        this.#channel.postMessage({ k: 'who' } satisfies TabMessage)
        this.#elect(false)
        this.#tick()
        return new Promise<void>((resolve) => (this.#releaseTab = resolve))
      })
      .catch(() => undefined)
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    const clock = this.#config.clock ?? systemClock
    clock.clearTimeout(this.#timer)
    this.#queued?.abort()
    const host = this.#host
    this.#host = undefined
    if (host) {
      await host.host.destroy()
      host.channel.close()
      host.resign()
    }
    this.#releaseTab?.()
    this.#channel.close()
  }

  #tabLock = (tab: string): string => `${this.#name}:tab:${tab}`

  /** Queues for the lead, or takes it from a leader that stopped answering. */
  #elect(steal: boolean): void {
    if (this.#destroyed) return
    let led = false
    const controller = steal ? undefined : new AbortController()
    if (controller) this.#queued = controller
    else this.#queued?.abort()
    void this.#locks
      .request(`${this.#name}:leader`, controller ? { signal: controller.signal } : { steal: true }, () => {
        led = true
        return this.#lead()
      })
      .catch(() => undefined)
      .then(async () => {
        // Not granted (aborted while queued), or the lead ended: resigned, or stolen by a tab
        // that found this one unresponsive (a frozen tab learns it when it thaws).
        if (!led) return
        const host = this.#host
        this.#host = undefined
        if (host) {
          // This tab's own members were on that host: they rejoin through whoever leads now
          // (a tab that slept may have missed the announcement; it asks).
          if (this.client.leader?.h === host.host.id) this.client.leaderLost()
          await host.host.destroy()
          host.channel.close()
        }
        if (this.#destroyed) return
        this.#awaiting = undefined
        this.#channel.postMessage({ k: 'who' } satisfies TabMessage)
        this.#elect(false)
      })
  }

  #lead(): Promise<void> {
    if (this.#destroyed) return Promise.resolve()
    const clock = this.#config.clock ?? systemClock
    const since = clock.now()
    const h = `${this.tab}@${since}`
    const session = this.client.session ?? randomId()
    const channel = this.#open(this.#name)
    // Every message of this host is numbered: a tab that finds a number missing (it slept
    // through it) resyncs (see TabClient).
    let n = 0
    const post = (message: HostMessage) => channel.postMessage({ ...message, n: ++n })
    const host = new Host({ id: h, config: { ...this.#config, session }, post, locks: this.#locks, tabLock: this.#tabLock })
    const announce = () => post({ k: 'leader', h, since, session })
    channel.addEventListener('message', ({ data }) => {
      const message = data as TabMessage
      if (message.k === 'who') announce()
      else host.receive(message)
    })
    return new Promise<void>((resign) => {
      this.#host = { host, channel, resign }
      this.#awaiting = undefined
      announce()
    })
  }

  #receive(message: AnyMessage): void {
    if (!fromHost(message)) return
    if (message.k === 'leader' || message.h === this.client.leader?.h) this.#awaiting = undefined
    this.client.receive(message)
  }

  /** Followers check that the leader answers; an unanswered ping past the timeout takes the lead. */
  #tick(): void {
    if (this.#destroyed) return
    const clock = this.#config.clock ?? systemClock
    this.#timer = clock.setTimeout(() => this.#tick(), this.#ping)
    const now = clock.now()
    // This tab slept (its timers stopped): an old unanswered ping says nothing of the leader.
    if (this.#lastTick !== undefined && now - this.#lastTick > this.#timeout + 1000) this.#awaiting = undefined
    this.#lastTick = now
    if (this.#host) return
    if (this.#awaiting !== undefined) {
      if (now - this.#awaiting < this.#timeout) return
      this.#awaiting = undefined
      this.client.leaderLost()
      return this.#elect(true)
    }
    this.#awaiting = now
    const leader = this.client.leader
    this.#channel.postMessage((leader ? { k: 'ping', h: leader.h } : { k: 'who' }) satisfies TabMessage)
  }
}
