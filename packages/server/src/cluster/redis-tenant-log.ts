/**
 * One tenant's shared log and presence in Redis: the cluster implementation of ClusterAdapter.
 *
 * Keys (the `{tenant}` hash tag keeps a tenant's keys and channels on one Redis Cluster shard,
 * which its scripts need):
 *   sb:{t}:epoch      the log's epoch; a new one when Redis lost the log
 *   sb:{t}:seq        the last position given
 *   sb:{t}:log        the stream: one entry per position (a change run spans `count`), id `<seq>-0`,
 *                     trimmed to the replay window's message count
 *   sb:{t}:t:<topic>  sharded channel of a topic: its logged messages and presence diffs
 *   sb:{t}:changes    sharded channel of Postgres Changes runs (every node that serves them)
 *   sb:{t}:p:<topic>  hash of the topic's presences, field `<node>|<ref>`, with sb:{t}:pv:<topic>,
 *                     its version, and sb:{t}:nt:<node>, the topics a node has presences on
 *
 * Appending is one script: check the epoch, take the next position, add the stream entry and
 * publish it on the topic's channel. Redis runs scripts one at a time, so the order of
 * positions is the order of publication, and a node subscribed to several topics receives
 * their messages in position order on its one subscriber connection.
 */
import { randomBytes } from 'node:crypto'
import type { Logger } from '../logger.js'
import type { PresenceDiff, PresenceMeta } from '../presence/presence-topic.js'
import type { ClusterAdapter, ClusterSink, RemotePresences, SharedRead } from './cluster-adapter.js'
import type { RedisNode } from './redis-node.js'
import { redisSharedChanges } from './shared-changes.js'
import type { SharedChanges } from '../cdc/postgres-changes-service.js'
import type { Clock } from '../clock.js'
import { decodeSharedMessage, encodeSharedMessage, sharedTopic, type SharedMessage } from './shared-message.js'
import { BUFFERS, LuaScript } from './redis-script.js'

/** Lua: the epoch, or a new one (ARGV[candidate]) with the position and stream cleared: Redis lost the log. */
const ensureEpoch = (candidate: number) => `
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[${candidate}]
  redis.call('SET', KEYS[1], epoch)
  redis.call('DEL', KEYS[2], KEYS[3])
end`

/** Lua: take the next `ARGV[6]` positions, add the stream entry, publish it on the channel (ARGV 3, 4, 5). */
const APPEND_TAIL = `
local count = tonumber(ARGV[6])
local last = redis.call('INCRBY', KEYS[2], count)
local first = last - count + 1
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], first .. '-0', 'm', ARGV[5])
redis.call('SPUBLISH', ARGV[4], 'L' .. epoch .. '\\n' .. first .. '\\n' .. ARGV[5])
return {1, first}
`

/** KEYS: epoch, seq, log. ARGV: expected epoch, new-epoch candidate, max entries, channel, body, positions spanned. */
const APPEND = new LuaScript(`${ensureEpoch(2)}
if epoch ~= ARGV[1] then return {0, epoch} end
${APPEND_TAIL}`)

/**
 * A run of changes from the slot reader. KEYS: epoch, seq, log, the reader lease's term counter,
 * the newest change point logged. ARGV: expected epoch, new-epoch candidate, max entries,
 * channel, body, positions spanned, the reader's term, the run's first and last change points.
 * Refused ({3}) when a newer term exists (a reader that lost its lease must not append), and
 * skipped ({2}) when the run is not after the newest point logged (a new reader re-reads what
 * its predecessor appended but did not acknowledge).
 */
const APPEND_CHANGES = new LuaScript(`${ensureEpoch(2)}
if epoch ~= ARGV[1] then return {0, epoch} end
if redis.call('GET', KEYS[4]) ~= ARGV[7] then return {3, 0} end
local newest = redis.call('GET', KEYS[5])
if newest and ARGV[8] <= newest then return {2, 0} end
redis.call('SET', KEYS[5], ARGV[9])
${APPEND_TAIL}`)

/** KEYS: epoch, seq, log. ARGV: new-epoch candidate. Returns the epoch (created when missing). */
const EPOCH = new LuaScript(`${ensureEpoch(1)}
return epoch
`)

/** KEYS: epoch, seq, presence hash, presence version. Returns epoch, last position, presence version, presences. */
const SNAPSHOT = new LuaScript(`
return {redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or '0', redis.call('GET', KEYS[4]) or '0', redis.call('HGETALL', KEYS[3])}
`)

/**
 * KEYS: presence hash, version, node's topics. ARGV: node, topic key, channel, diff JSON,
 * #removed (-1: every field of the node, a re-sync after a lost connection), removed fields…,
 * then field/value pairs. Publishes 'P' (a diff) or 'R' (the node's whole state on the topic).
 */
const PRESENCE = new LuaScript(`
local removed = tonumber(ARGV[5])
local kind = 'P'
if removed == -1 then
  kind = 'R'
  removed = 0
  local prefix = ARGV[1] .. '|'
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(field, 1, #prefix) == prefix then redis.call('HDEL', KEYS[1], field) end
  end
end
for i = 6, 5 + removed do redis.call('HDEL', KEYS[1], ARGV[i]) end
for i = 6 + removed, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('SADD', KEYS[3], ARGV[2])
local version = redis.call('INCR', KEYS[2])
redis.call('SPUBLISH', ARGV[3], kind .. version .. '\\n' .. ARGV[1] .. '\\n' .. ARGV[4])
return version
`)

/** KEYS: node's topics. ARGV: key prefix, node. Removes a gone node's presences. */
const REAP = new LuaScript(`
local topics = redis.call('SMEMBERS', KEYS[1])
local prefix = ARGV[2] .. '|'
for _, topic in ipairs(topics) do
  local hash = ARGV[1] .. 'p:' .. topic
  for _, field in ipairs(redis.call('HKEYS', hash)) do
    if string.sub(field, 1, #prefix) == prefix then redis.call('HDEL', hash, field) end
  end
end
redis.call('DEL', KEYS[1])
return #topics
`)

/** Live messages held at most while a lost connection is caught up (see `#caughtUpBuffer`). */
const MAX_HELD = 100_000

export interface RedisTenantLogOptions {
  node: RedisNode
  tenantId: string
  logger: Logger
  /** Entries kept in the stream (the replay window's message bound). */
  maxEntries: number
  /** The slot reader lease's time to live (default 5 s). */
  readerLeaseMs?: number
}

interface HostedTopic {
  /** Presence diffs that arrived while the topic's snapshot was read (applied after it). */
  buffered: { version: number; node: string; diff: PresenceDiff; replace: boolean }[] | null
  version: number
  presences: RemotePresences
}

export class RedisTenantLog implements ClusterAdapter {
  readonly shared = true
  readonly #node: RedisNode
  readonly #logger: Logger
  readonly #prefix: string
  readonly #maxEntries: number
  readonly #readerLeaseMs: number | undefined
  readonly #hosted = new Map<string, HostedTopic>()
  #sink: ClusterSink | null = null
  #epoch = ''
  #offNodeGone: (() => void) | null = null
  #offReconnected: (() => void) | null = null
  #offDisconnected: (() => void) | null = null
  /**
   * Live messages held from the moment a connection is lost until what was published meanwhile
   * has been read back: the subscriber re-subscribes by itself, possibly before the command
   * connection is back, and a message delivered then would move this node's position past the
   * hole, so the read-back would start after it. Bounded: past MAX_HELD the channels restart.
   */
  #caughtUpBuffer: Buffer[] | null = null
  #heldOverflow = false
  /** Connection losses so far: a catch-up that a newer loss overtook leaves the buffer to the next. */
  #losses = 0
  #changesHosted = false
  /** Messages that could not be appended (Redis away): the hub reports them as refused. */
  failedAppends = 0

  constructor(options: RedisTenantLogOptions) {
    this.#node = options.node
    this.#logger = options.logger
    this.#prefix = `sb:{${options.tenantId}}:`
    this.#maxEntries = options.maxEntries
    this.#readerLeaseMs = options.readerLeaseMs
  }

  get epoch(): string {
    return this.#epoch
  }

  async start(sink: ClusterSink): Promise<string> {
    this.#sink = sink
    this.#epoch = await EPOCH.run<string>(this.#node.command, [this.#key('epoch'), this.#key('seq'), this.#key('log')], [newEpoch()])
    this.#offNodeGone = this.#node.onNodeGone((gone) => this.#nodeGone(gone))
    this.#offReconnected = this.#node.onReconnected(() => void this.#afterReconnect())
    this.#offDisconnected = this.#node.onDisconnected(() => {
      this.#losses++
      this.#caughtUpBuffer ??= []
    })
    return this.#epoch
  }

  append(message: SharedMessage): Promise<void> {
    const topic = sharedTopic(message)
    const channel = topic === null ? this.#key('changes') : this.#topicChannel(topic)
    const count = message.kind === 'changes' ? message.count : 1
    this.#node.roundTrips++
    return APPEND
      .run<[number, string]>(this.#node.command, [this.#key('epoch'), this.#key('seq'), this.#key('log')], [this.#epoch, newEpoch(), this.#maxEntries, channel, encodeSharedMessage(message), count], this.#node.hotPathOptions)
      .then(([ok, value]) => {
        if (ok === 0) {
          this.#reset(value)
          throw new Error('the shared log was reset')
        }
      })
      .catch((error: unknown) => {
        this.failedAppends++
        this.#logger.warn({ err: error }, 'cluster: a message could not be appended to the shared log')
        throw error
      })
  }

  /** The slot reader's lease key (its term counter is `<key>:token`). */
  get readerLeaseKey(): string {
    return this.#key('cdc-reader')
  }

  /**
   * Appends a run of changes read from the slot in reader term `term`; resolves once Redis has
   * it (the reader acknowledges the slot only then): 'appended', or 'duplicate' when the run
   * was logged already (by the previous reader). Rejects when the term is over or Redis away.
   */
  async appendChanges(message: Extract<SharedMessage, { kind: 'changes' }>, term: number, firstPoint: string, lastPoint: string): Promise<'appended' | 'duplicate'> {
    this.#node.roundTrips++
    const [ok, value] = await APPEND_CHANGES.run<[number, string | number]>(
      this.#node.command,
      [this.#key('epoch'), this.#key('seq'), this.#key('log'), `${this.readerLeaseKey}:token`, this.#key('changes-point')],
      [this.#epoch, newEpoch(), this.#maxEntries, this.#key('changes'), encodeSharedMessage(message), message.count, term, firstPoint, lastPoint],
    )
    if (ok === 0) {
      this.#reset(String(value))
      throw new Error('the shared log was reset')
    }
    if (ok === 3) throw new Error('a newer slot reader exists')
    return ok === 2 ? 'duplicate' : 'appended'
  }

  /** The newest change point in the shared log (a new reader skips transactions up to it). */
  async newestChangePoint(): Promise<string | null> {
    this.#node.roundTrips++
    return this.#node.command.get(this.#key('changes-point'))
  }

  slotReader(hostChanges: () => Promise<number>, clock: Clock): SharedChanges {
    return redisSharedChanges({ node: this.#node, log: this, hostChanges, logger: this.#logger, clock, ...(this.#readerLeaseMs ? { leaseTtlMs: this.#readerLeaseMs } : {}) })
  }

  /** Starts receiving Postgres Changes runs; resolves with a position after which all arrive. */
  async hostChanges(): Promise<number> {
    if (!this.#changesHosted) {
      this.#changesHosted = true
      await this.#node.subscribe(this.#key('changes'), (message) => this.#onMessage(message))
    }
    const last = Number(await this.#node.command.get(this.#key('seq'))) || 0
    await this.#node.barrier()
    return last
  }

  async host(topicKey: string): Promise<{ position: number; presences: RemotePresences }> {
    let hosted = this.#hosted.get(topicKey)
    if (!hosted) {
      hosted = { buffered: [], version: 0, presences: new Map() }
      this.#hosted.set(topicKey, hosted)
      await this.#node.subscribe(this.#topicChannel(topicKey), (message) => this.#onMessage(message, topicKey))
    }
    const { position, version, presences } = await this.#snapshot(topicKey)
    hosted.version = version
    hosted.presences = presences
    const buffered = hosted.buffered ?? []
    hosted.buffered = null
    for (const item of buffered) if (item.version > hosted.version) applyPresenceMessage(presences, item.node, item.diff, item.replace)
    return { position, presences }
  }

  /**
   * The log's last position and the topic's presences on other nodes, read in one script
   * after the subscription, then a barrier: every message published before the read has arrived.
   */
  async #snapshot(topicKey: string): Promise<{ position: number; version: number; presences: RemotePresences }> {
    this.#node.roundTrips++
    const [epoch, last, version, fields] = await SNAPSHOT.run<[string, string, string, string[]]>(
      this.#node.command, [this.#key('epoch'), this.#key('seq'), this.#key(`p:${topicKey}`), this.#key(`pv:${topicKey}`)],
    )
    await this.#node.barrier()
    if (epoch !== this.#epoch) {
      this.#reset(epoch)
      throw new Error('the shared log was reset')
    }
    const presences: RemotePresences = new Map()
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const field = fields[i]!
      const bar = field.indexOf('|')
      const node = field.slice(0, bar)
      if (node === this.#node.id || this.#node.isGone(node)) continue
      const { key, meta } = JSON.parse(fields[i + 1]!) as { key: string; meta: PresenceMeta }
      let refs = presences.get(node)
      if (!refs) presences.set(node, (refs = new Map()))
      refs.set(field.slice(bar + 1), { key, meta })
    }
    return { position: Number(last), version: Number(version), presences }
  }

  release(topicKey: string): void {
    if (!this.#hosted.delete(topicKey)) return
    this.#node.unsubscribe(this.#topicChannel(topicKey))
  }

  async read(after: number, through: number): Promise<SharedRead> {
    if (through <= after) return { ok: true, entries: [] }
    try {
      this.#node.roundTrips += 2
      // The entry holding position after+1 may start before it (a run of changes).
      const before = await this.#node.command.sendCommand<[Buffer, Buffer[]][]>(['XREVRANGE', this.#key('log'), `${after + 1}-0`, '-', 'COUNT', '1'], { typeMapping: BUFFERS })
      let from = after + 1
      if (before.length > 0) from = Number(before[0]![0].toString().split('-')[0])
      const raw = await this.#node.command.sendCommand<[Buffer, Buffer[]][]>(['XRANGE', this.#key('log'), `${from}-0`, `${through}-0`], { typeMapping: BUFFERS })
      const entries: { seq: number; message: SharedMessage }[] = []
      let expected = from
      for (const [id, fields] of raw) {
        const seq = Number(id.toString().split('-')[0])
        if (seq !== expected) return { ok: false, reason: 'evicted' } // trimmed (or a hole): never pretend
        const message = decodeSharedMessage(fields[1]!)
        expected = seq + (message.kind === 'changes' ? message.count : 1)
        if (expected > after + 1) entries.push({ seq, message })
      }
      // Positions are consecutive in the stream: anything short of `through` was trimmed.
      if (expected <= through) return { ok: false, reason: 'evicted' }
      return { ok: true, entries }
    } catch (error) {
      this.#logger.warn({ err: error }, 'cluster: reading the shared log failed')
      return { ok: false, reason: 'error' }
    }
  }

  publishPresence(topicKey: string, diff: PresenceDiff, replace = false): void {
    const removed: string[] = []
    const added: string[] = []
    for (const { metas } of Object.values(diff.leaves)) for (const meta of metas) removed.push(`${this.#node.id}|${meta.phx_ref}`)
    for (const [key, { metas }] of Object.entries(diff.joins)) {
      for (const meta of metas) added.push(`${this.#node.id}|${meta.phx_ref}`, JSON.stringify({ key, meta }))
    }
    this.#node.roundTrips++
    PRESENCE
      .run(this.#node.command, [this.#key(`p:${topicKey}`), this.#key(`pv:${topicKey}`), this.#key(`nt:${this.#node.id}`)],
        [this.#node.id, topicKey, this.#topicChannel(topicKey), JSON.stringify(diff), replace ? -1 : removed.length, ...(replace ? [] : removed), ...added])
      .catch((error: unknown) => this.#logger.warn({ err: error, topic: topicKey }, 'cluster: a presence change could not be shared'))
  }

  async stop(): Promise<void> {
    this.#offNodeGone?.()
    this.#offReconnected?.()
    this.#offDisconnected?.()
    for (const topicKey of [...this.#hosted.keys()]) this.release(topicKey)
    if (this.#changesHosted) this.#node.unsubscribe(this.#key('changes'))
    try {
      if (this.#node.command.isReady) await REAP.run(this.#node.command, [this.#key(`nt:${this.#node.id}`)], [this.#prefix, this.#node.id])
    } catch {
      // Redis away: the others reap this node's presences when its heartbeat expires.
    }
  }

  #key(name: string): string {
    return `${this.#prefix}${name}`
  }

  #topicChannel(topicKey: string): string {
    return this.#key(`t:${topicKey}`)
  }

  #onMessage(message: Buffer, topicKey?: string): void {
    const sink = this.#sink
    if (!sink) return
    try {
      if (message[0] === 0x4c /* L */) {
        if (this.#caughtUpBuffer) {
          // After the entries being read back.
          if (this.#caughtUpBuffer.length < MAX_HELD) this.#caughtUpBuffer.push(message)
          else this.#heldOverflow = true
          return
        }
        const firstBreak = message.indexOf(10, 1)
        const secondBreak = message.indexOf(10, firstBreak + 1)
        const epoch = message.toString('latin1', 1, firstBreak)
        if (epoch !== this.#epoch) return void this.#reset(epoch)
        const seq = Number(message.toString('latin1', firstBreak + 1, secondBreak))
        sink.logged(seq, decodeSharedMessage(message.subarray(secondBreak + 1)))
        return
      }
      if ((message[0] === 0x50 /* P */ || message[0] === 0x52 /* R */) && topicKey !== undefined) {
        const replace = message[0] === 0x52
        const firstBreak = message.indexOf(10, 1)
        const secondBreak = message.indexOf(10, firstBreak + 1)
        const version = Number(message.toString('latin1', 1, firstBreak))
        const node = message.toString('utf8', firstBreak + 1, secondBreak)
        if (node === this.#node.id) return
        const diff = JSON.parse(message.toString('utf8', secondBreak + 1)) as PresenceDiff
        const hosted = this.#hosted.get(topicKey)
        if (!hosted) return
        if (hosted.buffered) {
          hosted.buffered.push({ version, node, diff, replace })
          return
        }
        sink.remotePresence(topicKey, node, applyPresenceMessage(hosted.presences, node, diff, replace))
      }
    } catch (error) {
      this.#logger.warn({ err: error }, 'cluster: dropped a malformed message')
    }
  }

  #nodeGone(node: string): void {
    this.#sink?.nodeGone(node) // first: the hub tells its channels who left
    for (const hosted of this.#hosted.values()) hosted.presences.delete(node)
    REAP
      .run(this.#node.command, [this.#key(`nt:${node}`)], [this.#prefix, node])
      .catch((error: unknown) => this.#logger.debug({ err: error, node }, 'cluster: reaping a gone node failed'))
  }

  /**
   * Both connections are back after a loss. Messages published meanwhile never reached this
   * node, so: the epoch is checked (Redis may have lost the log: reset), the entries after the
   * node's last position are read back from the stream and handed over in order (live ones
   * wait behind them), and presence is re-synchronised both ways (this node's state replaces
   * what Redis holds of it; the other nodes' is read again and the difference told to channels).
   */
  async #afterReconnect(): Promise<void> {
    const sink = this.#sink
    if (!sink) return
    this.#caughtUpBuffer ??= []
    const losses = this.#losses
    try {
      const epoch = await EPOCH.run<string>(this.#node.command, [this.#key('epoch'), this.#key('seq'), this.#key('log')], [newEpoch()])
      if (epoch !== this.#epoch) return this.#reset(epoch)
      await this.#node.barrier() // the re-subscriptions are in place
      const head = Number(await this.#node.command.get(this.#key('seq'))) || 0
      const from = sink.lastPosition()
      if (head > from) {
        const read = await this.read(from, head)
        if (!read.ok && read.reason === 'error') throw new Error('reading the shared log back failed')
        if (!read.ok) {
          sink.lost('The cluster connection was lost for longer than the log keeps; rejoin to resume')
        } else {
          for (const { seq, message } of read.entries) {
            const topic = sharedTopic(message)
            if (topic === null ? this.#changesHosted : this.#hosted.has(topic)) sink.logged(seq, message)
          }
        }
      }
    } catch (error) {
      // Lost again meanwhile (the connections rarely drop at the same instant): the next
      // reconnect catches up from the same position, with the held messages kept for it.
      if (losses !== this.#losses) return
      this.#logger.warn({ err: error }, 'cluster: catching up after a reconnect failed; channels rejoin')
      sink.lost('The cluster connection was lost; rejoin to resume')
    } finally {
      if (losses === this.#losses) {
        const buffered = this.#caughtUpBuffer ?? []
        this.#caughtUpBuffer = null
        if (this.#heldOverflow) {
          this.#heldOverflow = false
          sink.lost('The cluster connection was lost for too long; rejoin to resume')
        } else for (const message of buffered) this.#onMessage(message)
      }
    }
    for (const [topicKey, hosted] of this.#hosted) {
      if (hosted.buffered) continue // being hosted now: its snapshot is fresh
      try {
        this.publishPresence(topicKey, { joins: sink.localPresence(topicKey), leaves: Object.create(null) as PresenceDiff['leaves'] }, true)
        const { version, presences } = await this.#snapshot(topicKey)
        const diff = presenceDifference(hosted.presences, presences)
        hosted.presences.clear()
        for (const [node, refs] of presences) hosted.presences.set(node, refs)
        hosted.version = version
        if (diff) sink.remotePresence(topicKey, '*', diff)
      } catch (error) {
        this.#logger.warn({ err: error, topic: topicKey }, 'cluster: re-synchronising presence failed')
      }
    }
  }

  #reset(epoch: string): void {
    if (epoch === this.#epoch || epoch === '') return
    this.#logger.warn({ from: this.#epoch, to: epoch }, 'cluster: the shared log was lost; positions start again')
    this.#epoch = epoch
    for (const hosted of this.#hosted.values()) hosted.presences.clear()
    this.#sink?.reset(epoch)
  }
}

/**
 * Applies a node's presence message to what this node knows of it, and returns the diff to
 * tell channels: the message itself, or for a re-sync ('R', the node's whole state) the
 * difference from what was known.
 */
function applyPresenceMessage(presences: RemotePresences, node: string, diff: PresenceDiff, replace: boolean): PresenceDiff {
  if (replace) {
    const next: RemotePresences = new Map([[node, new Map()]])
    for (const [key, { metas }] of Object.entries(diff.joins)) for (const meta of metas) next.get(node)!.set(meta.phx_ref, { key, meta })
    const before: RemotePresences = new Map(presences.has(node) ? [[node, presences.get(node)!]] : [])
    const change = presenceDifference(before, next) ?? { joins: Object.create(null) as PresenceDiff['joins'], leaves: Object.create(null) as PresenceDiff['leaves'] }
    if (next.get(node)!.size > 0) presences.set(node, next.get(node)!)
    else presences.delete(node)
    return change
  }
  let refs = presences.get(node)
  if (!refs) presences.set(node, (refs = new Map()))
  for (const { metas } of Object.values(diff.leaves)) for (const meta of metas) refs.delete(meta.phx_ref)
  for (const [key, { metas }] of Object.entries(diff.joins)) for (const meta of metas) refs.set(meta.phx_ref, { key, meta })
  if (refs.size === 0) presences.delete(node)
  return diff
}

/** What changed from `before` to `after` (by presence ref), or null when nothing did. */
function presenceDifference(before: RemotePresences, after: RemotePresences): PresenceDiff | null {
  const diff: PresenceDiff = { joins: Object.create(null) as PresenceDiff['joins'], leaves: Object.create(null) as PresenceDiff['leaves'] }
  let changed = false
  const add = (group: PresenceDiff['joins'], key: string, meta: PresenceMeta) => {
    ;(group[key] ??= { metas: [] }).metas.push(meta)
    changed = true
  }
  for (const [node, refs] of before) for (const [ref, { key, meta }] of refs) if (!after.get(node)?.has(ref)) add(diff.leaves, key, meta)
  for (const [node, refs] of after) for (const [ref, { key, meta }] of refs) if (!before.get(node)?.has(ref)) add(diff.joins, key, meta)
  return changed ? diff : null
}

/**
 * A candidate for a new epoch, used by Redis only when it has none (it lost the log). Sent with
 * every append, so it is cheap: a random tag per process (epochs of different processes never
 * meet) and a counter (two resets seen by one process never share one). Random bytes per append
 * were 2 % of a busy node's CPU.
 */
function newEpoch(): string {
  return `${PROCESS_EPOCH_TAG}.${(epochCandidates++).toString(36)}`
}
const PROCESS_EPOCH_TAG = randomBytes(6).toString('base64url')
let epochCandidates = 0
