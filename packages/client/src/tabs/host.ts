/**
 * The leader tab's host: the one `ChannelManager` with a real socket, holding leases on behalf
 * of the members (channel instances) of every tab, the leader's own included.
 *
 * Per channel name one {@link HostChannel}: a broadcast tap, one lease per distinct
 * postgres_changes spec (each change is posted once, with its spec key and mark), the presence
 * lease of each member that tracks, and every member's own broadcast-only lease (which keeps the
 * channel joined and refuses settings another tab holds differently, `CHANNEL_CONFIG_CONFLICT`).
 *
 * Positions live in the tabs. A member opens with the resume point its tab tracked; when it is
 * older than where the host's channel stands (the tab missed what the channel received since,
 * e.g. across a leader change or a socket drop), the channel **rewinds**: it rejoins from that
 * point, the server replays, and every member drops what it already had (each tab's own
 * deduplication by position). Members that were live stay joined through a rewind; they only
 * hear of it if the server answers `Gap`. Any other break of the host's channel fails every
 * member: each tab rejoins with its own point, as it would after losing its own socket.
 * @internal
 */
import { RESUME_KEY, RESUME_STATUS_MESSAGES, ResumeCode, type ResumePoint, type ResumeStatus } from '@switchboard/protocol'
import type { EntityChannel, PresenceLease } from '../leases.js'
import type { ManagedChannel } from '../managed-channel.js'
import { ChannelManager, type RealtimeConfig } from '../manager.js'
import { channelName, postgresSpecKey, type ChannelKind, type EntityRef, type PostgresSpec } from '../naming.js'
import type { Status } from '../status.js'
import type { HostMessage, Locks, MemberConfig, TabMessage } from './messages.js'

interface Member {
  id: string
  tab: string
  hc: HostChannel
  /** The member's broadcast-only lease (its hold on the channel and its settings). */
  base: EntityChannel
  keys: string[]
  presence: PresenceLease | undefined
  resume: ResumePoint | null
  /** Replied (joined) or waiting for the channel to be live. */
  live: boolean
}

interface HostChannel {
  name: string
  kind: ChannelKind
  ref: EntityRef
  cfg: MemberConfig
  tap: EntityChannel
  channel: ManagedChannel
  specs: Map<string, { lease: EntityChannel; members: number }>
  members: Set<Member>
  /** Live on the last status seen. */
  connected: boolean
  /** A rewind's rejoin is under way: members stay joined through it. */
  rewinding: boolean
  offs: Array<() => void>
}

export interface HostOptions {
  id: string
  config: RealtimeConfig
  post(message: HostMessage): void
  locks: Locks
  /** Name of the lock each tab holds for its lifetime (granted to the host when the tab is gone). */
  tabLock(tab: string): string
}

/** `[tenant:<t>:]<kind>:<entityType>:<entityId>` back to its parts (see `naming.ts`). */
function parseName(name: string): { kind: ChannelKind; ref: EntityRef } | undefined {
  const parts = name.split(':')
  const tenantId = parts[0] === 'tenant' ? parts[1] : undefined
  const [kind, entityType, ...id] = tenantId === undefined ? parts : parts.slice(2)
  if ((kind !== 'subscription' && kind !== 'presence') || !entityType || id.length === 0) return undefined
  const ref = { entityType, entityId: id.join(':'), tenantId }
  try {
    return channelName(kind, ref) === name ? { kind, ref } : undefined
  } catch {
    return undefined
  }
}

/** `a` is older than `b`: within an epoch by position, across epochs by stream point. */
export const isBefore = (a: ResumePoint, b: ResumePoint): boolean => (a.epoch === b.epoch ? a.position < b.position : (a.lsn ?? '') < (b.lsn ?? ''))

export class Host {
  readonly id: string
  readonly manager: ChannelManager
  readonly #o: HostOptions
  readonly #channels = new Map<string, HostChannel>()
  readonly #members = new Map<string, Member>()
  readonly #tabs = new Map<string, AbortController>()
  readonly #off: () => void
  #destroyed = false

  constructor(options: HostOptions) {
    this.#o = options
    this.id = options.id
    this.manager = new ChannelManager(options.config)
    const store = this.manager.connectionStore
    this.#off = store.subscribe(() => this.#conn())
  }

  /** A message from a tab (anything not addressed to this host is ignored). */
  receive(message: TabMessage): void {
    if (this.#destroyed || !('h' in message) || message.h !== this.id) return
    const post = this.#o.post
    switch (message.k) {
      case 'ping':
        return post({ k: 'pong', h: this.id })
      case 'connect':
        this.#watch(message.tab)
        this.manager.connect()
        return this.#conn()
      case 'open':
        this.#watch(message.tab)
        return this.#open(message)
      case 'close': {
        const member = this.#members.get(message.m)
        if (member) this.#close(member)
        return
      }
      case 'track':
        return void this.#track(message.m, message.payload).then((result) => post({ k: 'done', h: this.id, m: message.m, id: message.id, result }))
      case 'send':
        return void this.#send(message.m, message.event, message.payload).then((result) => post({ k: 'done', h: this.id, m: message.m, id: message.id, result }))
    }
  }

  /** Stops leading: every lease released, the socket closed. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    this.#off()
    for (const controller of this.#tabs.values()) controller.abort()
    this.#tabs.clear()
    for (const hc of this.#channels.values()) for (const off of hc.offs) off()
    this.#channels.clear()
    this.#members.clear()
    await this.manager.destroy()
  }

  #conn(): void {
    const { status } = this.manager.connectionStore.getSnapshot()
    this.#o.post({ k: 'conn', h: this.id, ready: status === 'connected', failed: status === 'error' })
  }

  /** Drops a tab's members once it is gone (its lock is released when it closes or crashes). */
  #watch(tab: string): void {
    if (this.#tabs.has(tab)) return
    const controller = new AbortController()
    this.#tabs.set(tab, controller)
    this.#o.locks
      .request(this.#o.tabLock(tab), { signal: controller.signal }, async () => {
        this.#tabs.delete(tab)
        for (const member of [...this.#members.values()]) if (member.tab === tab) this.#close(member)
      })
      .catch(() => undefined)
  }

  #open(message: Extract<TabMessage, { k: 'open' }>): void {
    const { m, name, cfg, specs, resume } = message
    const post = this.#o.post
    const parsed = parseName(name)
    if (!parsed || this.#members.has(m)) return post({ k: 'fail', h: this.id, m, message: `cannot share channel ${name}` })
    const { kind, ref } = parsed
    let hc = this.#channels.get(name)
    let base: EntityChannel
    try {
      hc ??= this.#channel(name, kind, ref, cfg)
      base = this.manager.acquireEntity({ ...ref, kind, changes: false, private: cfg.private, broadcastSelf: cfg.self, waitForJoin: false })
    } catch (err) {
      if (hc?.members.size === 0) this.#dispose(hc)
      return post({ k: 'fail', h: this.id, m, message: err instanceof Error ? err.message : String(err) })
    }
    const member: Member = { id: m, tab: message.tab, hc, base, keys: [], presence: undefined, resume, live: false }
    this.#members.set(m, member)
    hc.members.add(member)
    for (const spec of specs) this.#bind(member, spec)
    const { channel } = hc
    // The tab missed what the channel received after its point: rejoin from there (see above).
    // Flagged first: the rewind breaks a live channel synchronously, and that break is no failure.
    if (resume) {
      const rewinding = hc.rewinding
      hc.rewinding ||= hc.connected
      if (!channel.rewind(resume)) hc.rewinding = rewinding
    }
    post({ k: 'ack', h: this.id, m })
    channel.retry()
    if (hc.connected && !hc.rewinding) this.#reply(member, undefined)
  }

  #channel(name: string, kind: ChannelKind, ref: EntityRef, cfg: MemberConfig): HostChannel {
    const post = this.#o.post
    const tap = this.manager.acquireEntity({ ...ref, kind, changes: false, private: cfg.private, broadcastSelf: cfg.self, waitForJoin: false })
    const channel = tap.channel
    const hc: HostChannel = { name, kind, ref, cfg, tap, channel, specs: new Map(), members: new Set(), connected: false, rewinding: false, offs: [] }
    tap.on('broadcast', { event: '*' }, (message) => {
      const point = channel.point
      post({ k: 'ev', h: this.id, ch: name, e: 'bcast', event: message.event, payload: message.payload, meta: message.meta, mark: point ? { position: point.position, lsn: point.lsn } : undefined } as HostMessage)
    })
    hc.offs.push(channel.status.subscribe(() => this.#status(hc, channel.status.getSnapshot())))
    if (kind === 'presence') {
      const users = this.manager.presenceStore(ref.entityType, ref.entityId, ref.tenantId)
      hc.offs.push(users.subscribe(() => post({ k: 'ev', h: this.id, ch: name, e: 'presence', users: users.getSnapshot() })))
    }
    this.#channels.set(name, hc)
    return hc
  }

  /** One lease per distinct spec of the channel; every change of it is posted once. */
  #bind(member: Member, spec: PostgresSpec): void {
    const { hc } = member
    const key = postgresSpecKey(spec)
    let entry = hc.specs.get(key)
    if (!entry) {
      const lease = this.manager.acquireEntity({
        ...hc.ref,
        schema: spec.schema,
        table: spec.table,
        event: spec.event,
        filter: spec.filter ?? null,
        private: hc.cfg.private,
        waitForJoin: false,
        onChange: (payload) => {
          const { switchboard: mark, ...change } = payload
          this.#o.post({ k: 'ev', h: this.id, ch: hc.name, e: 'change', key, payload: change, mark })
        },
      })
      hc.specs.set(key, (entry = { lease, members: 0 }))
    }
    entry.members++
    member.keys.push(key)
  }

  #status(hc: HostChannel, status: Status): void {
    if (status === 'connected') {
      if (hc.connected) return
      hc.connected = true
      // After the channel's own gap or recovery (dispatched right after the status).
      queueMicrotask(() => this.#live(hc))
    } else if (hc.connected) {
      hc.connected = false
      if (hc.rewinding) return
      for (const member of [...hc.members]) this.#fail(member, `channel ${hc.name} ${status === 'error' ? `failed: ${hc.channel.lastError?.message ?? 'error'}` : 'broke'}`)
    }
  }

  /** The channel is live (again): waiting members get their reply, live ones a gap if the rewind found one. */
  #live(hc: HostChannel): void {
    if (!hc.connected || this.#channels.get(hc.name) !== hc) return
    const rewound = hc.rewinding
    hc.rewinding = false
    const gap = hc.channel.liveStatus?.code === ResumeCode.gap
    for (const member of hc.members) {
      if (!member.live) this.#reply(member, hc.channel.liveStatus)
      else if (rewound && gap) this.#o.post({ k: 'status', h: this.id, m: member.id, status: hc.channel.liveStatus! })
    }
  }

  /**
   * The join reply and live status a member would have had from the server: the channel's epoch
   * and point, `Resumed` when the member resumes (nothing after its point is missing: the channel
   * rejoined from it, or it is not older than the channel), `Fresh` when it starts fresh, `Gap`
   * when the channel's own rejoin found one.
   */
  #reply(member: Member, real: ResumeStatus | undefined): void {
    const { channel } = member.hc
    member.live = true
    const point = channel.point
    const last = channel.liveStatus
    let status: ResumeStatus | undefined
    if (last && point) {
      const code = !member.resume ? ResumeCode.fresh : real?.code === ResumeCode.gap ? ResumeCode.gap : ResumeCode.resumed
      const lost = member.resume && member.resume.epoch !== point.epoch ? last.lost : undefined
      status = {
        extension: RESUME_KEY,
        status: code === ResumeCode.gap ? 'error' : 'ok',
        code,
        message: RESUME_STATUS_MESSAGES[code],
        channel: last.channel,
        epoch: point.epoch,
        position: point.position,
        lsn: point.lsn ?? last.lsn,
        replayed: 0,
        ...(code === ResumeCode.gap && { reason: real?.reason }),
        ...(lost && { lost }),
      } as ResumeStatus
    }
    const users = member.hc.kind === 'presence' ? channel.users.getSnapshot() : undefined
    this.#o.post({ k: 'reply', h: this.id, m: member.id, epoch: point?.epoch, status, users })
  }

  #fail(member: Member, message: string): void {
    this.#o.post({ k: 'fail', h: this.id, m: member.id, message })
    this.#close(member)
  }

  #close(member: Member): void {
    if (!this.#members.delete(member.id)) return
    const { hc } = member
    hc.members.delete(member)
    member.base.release()
    member.presence?.release()
    for (const key of member.keys) {
      const entry = hc.specs.get(key)
      if (entry && --entry.members === 0) {
        entry.lease.release()
        hc.specs.delete(key)
      }
    }
    if (hc.members.size === 0) this.#dispose(hc)
  }

  #dispose(hc: HostChannel): void {
    for (const off of hc.offs) off()
    hc.tap.release()
    this.#channels.delete(hc.name)
  }

  /** `track(payload)` of a member (`null`: untrack): its own presence lease on the channel. */
  async #track(m: string, payload: Record<string, unknown> | null): Promise<'ok' | 'error'> {
    const member = this.#members.get(m)
    if (!member) return 'error'
    try {
      if (!payload) {
        member.presence?.release()
        member.presence = undefined
        return 'ok'
      }
      const { userId, userName, userEmail, userAvatar, onlineAt: _at, ...metadata } = payload
      if (member.presence?.presence) {
        member.presence.presence.metadata = metadata
        await member.presence.channel.retrack()
      } else {
        const user = { id: String(userId), name: String(userName), email: userEmail as string | undefined, avatar: userAvatar as string | undefined }
        member.presence = this.manager.acquirePresence({ ...member.hc.ref, user, metadata, private: member.hc.cfg.private, waitForJoin: false })
      }
      return 'ok'
    } catch {
      return 'error'
    }
  }

  /** A member's broadcast: sent on the channel, and handed to the other members at once when the server will not echo it. */
  async #send(m: string, event: string, payload: unknown): Promise<'ok' | 'error'> {
    const member = this.#members.get(m)
    if (!member) return 'error'
    try {
      await member.base.send(event, payload)
    } catch {
      return 'error'
    }
    const { hc } = member
    if (!hc.channel.config.self) this.#o.post({ k: 'ev', h: this.id, ch: hc.name, e: 'bcast', event, payload, meta: undefined, mark: undefined, except: m })
    return 'ok'
  }
}
