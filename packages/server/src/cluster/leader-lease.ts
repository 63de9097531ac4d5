/**
 * Which node of a cluster is the leader (the one that reads the replication slot): a lease in
 * Redis, held by renewing it, with a fencing token per term.
 *
 *   follower ──acquired (token)──► leader ──renew answered "not yours" (lost)──► follower
 *      ▲  └─ retry every ttl/3     │   └─ renew ok every ttl/3: the local deadline moves
 *      │      (jittered)           ├──local deadline passed (expired)───────────► follower
 *      │                           └──stop() (released: compare-and-DEL)─────────► follower
 *      └────────────────────────────────────────────────────────────────────────────┘
 *   lifecycle: idle ──start()──► running ──stop()──► stopped (final)
 *
 * In Redis: `<key>` holds the leader's nodeId with a TTL (`SET NX PX`, in a script, see
 * ACQUIRE), `<key>:token` the last term's fencing token, raised for every term (like INCR, but
 * never below Redis's clock in µs). Renewal is compare-and-PEXPIRE, release compare-and-DEL, so
 * a node never extends or deletes a lease that is not its own.
 *
 * ──────────────────────────────────────────────────────────────────────────────────────────
 * Why the local deadline: Redis expires the key `ttl` after it *processed* the last renewal,
 * which is after we *sent* it. So counting `ttl` from the send, minus a safety margin (event-loop
 * lag, clock rates), the holder's own view of the lease ends before Redis can give it to anybody
 * else. A leader cut off from Redis therefore steps down on its own, without hearing from
 * anyone, before another node can take over. A late "OK" never restores leadership: after
 * stepping down only a new acquisition (a new term, a new token) does.
 *
 * Reading `role` (or `token`) past the deadline steps down first, even if the expiry timer has
 * not fired yet (a blocked event loop runs timers late; code that asks must not act on a lease
 * that has run out).
 *
 * Why the hold-off on a fresh Redis: without persistence a restarted Redis forgets the lease
 * while the old leader still holds it locally (until its deadline). The token counter being
 * gone is the sign: the first acquisition then only writes an ownerless placeholder for one
 * ttl (Redlock's "delayed restart", https://redis.io/docs/latest/develop/use/patterns/distributed-locks/).
 * A brand-new Redis therefore grants its first lease one ttl late. Tokens are never below
 * Redis's clock in µs, so they keep growing across the loss too.
 * ──────────────────────────────────────────────────────────────────────────────────────────
 *
 * Requirements: nodeIds are unique per process (a lease whose value is our nodeId is ours: it
 * may be reclaimed); Redis runs with `maxmemory-policy noeviction` (an evicted lease key would
 * be a lost lease); in Redis Cluster both keys need one hash slot: use a hash tag, e.g.
 * `switchboard:{cdc}:leader`. An asynchronously replicated Redis that fails over can lose the
 * last SET: the fencing token is the guard for that (the slot itself is exclusive in Postgres).
 */
import { createClient } from '@redis/client'
import { systemClock, type Clock, type ClockTimer } from '../clock.js'
import type { Logger } from '../logger.js'
import { LuaScript, type RedisCommander } from './redis-script.js'

export const LEASE_ROLES = { follower: 'follower', leader: 'leader' } as const
export type LeaseRole = (typeof LEASE_ROLES)[keyof typeof LEASE_ROLES]

export const isLeaderRole = (role: LeaseRole): boolean => role === LEASE_ROLES.leader

/** Why the role changed (logged, and given to handlers). */
export type LeaseChangeReason = 'acquired' | 'lost' | 'expired' | 'stopped'

/** Called on every change of role: the term's fencing token when leader, null when follower. */
export type LeaseChangeHandler = (role: LeaseRole, token: number | null, reason: LeaseChangeReason) => void

export interface LeaderLeaseOptions {
  /**
   * Redis: a URL (the lease opens its own connection, tuned to fail fast, and closes it on
   * stop), or a node-redis client to share (left open on stop). Every command is bounded by
   * `commandTimeoutMs` whatever the client's options.
   */
  redis: string | RedisCommander
  /** The lease's key; the counter of terms is `<key>:token`. */
  key: string
  /** This node's name, stored as the lease's value. Unique per process. */
  nodeId: string
  logger: Logger
  clock?: Clock
  /** Lease time to live, ms. Default 5 000: fail-over after a crash within ttl + ttl/3 (about 6.7 s). */
  ttlMs?: number
  /** How much earlier than Redis the holder considers the lease over, ms. Default ttl/10. At most ttl/3. */
  safetyMarginMs?: number
  /** Longest wait for one Redis answer, ms. Default ttl/3. */
  commandTimeoutMs?: number
  /** Jitter source (tests make it deterministic). Default Math.random. */
  random?: () => number
}

/** Defaults, in one place. */
export const LEASE_DEFAULTS = {
  ttlMs: 5_000,
  /** Fraction of the ttl between renewals and between acquisition attempts. */
  renewFraction: 1 / 3,
  /** Fraction of the ttl kept as safety margin. */
  safetyFraction: 1 / 10,
  /** Shortest ttl accepted: below it timer precision and round trips eat the lease. */
  minTtlMs: 100,
} as const

// KEYS[1] lease, KEYS[2] token counter; ARGV[1] nodeId, ARGV[2] ttl ms.
// Returns the new term's token, 0 (held by another), or -1 (fresh Redis: held off for one ttl).
// SET NX PX and the token in one script: a term never exists without its token. The token is
// max(last + 1, Redis's clock in µs), so it keeps growing even when Redis comes back with an
// older snapshot or none (µs since 1970 stay below 2^53, exact in a double, until 2255).
const ACQUIRE = new LuaScript(`
local owner = redis.call('GET', KEYS[1])
if owner ~= false and owner ~= ARGV[1] then return 0 end
local now = redis.call('TIME')
local us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local last = redis.call('GET', KEYS[2])
if last == false then
  redis.call('SET', KEYS[2], string.format('%d', us))
  redis.call('SET', KEYS[1], '', 'PX', ARGV[2])
  return -1
end
local token = math.max(tonumber(last) + 1, us)
redis.call('SET', KEYS[2], string.format('%d', token))
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return token`)

// KEYS[1] lease; ARGV[1] nodeId, ARGV[2] ttl ms. 1 = renewed, 0 = not ours (any more).
const RENEW = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`)

// KEYS[1] lease; ARGV[1] nodeId. 1 = deleted, 0 = not ours.
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

type Lifecycle = 'idle' | 'running' | 'stopped'

/**
 * A lease on one key. Starts as follower; `start()` begins acquiring, `stop()` releases.
 *
 * @example
 * const lease = new LeaderLease({ redis: 'redis://127.0.0.1:6379', key: 'switchboard:{cdc}:leader', nodeId, logger })
 * lease.onChange((role, token) => (role === 'leader' ? startReading(token!) : stopReading()))
 * await lease.start()
 * // …
 * await lease.stop() // hands over at once
 */
export class LeaderLease {
  readonly #options: LeaderLeaseOptions
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #ttl: number
  readonly #margin: number
  readonly #every: number
  readonly #commandTimeout: number
  readonly #random: () => number
  readonly #handlers = new Set<LeaseChangeHandler>()
  readonly #tokenKey: string
  #redis: RedisCommander | null = null
  /** The lease's own connection (when given a URL), closed on stop. */
  #own: ReturnType<typeof ownConnection> | null = null
  #ownsRedis: boolean
  #lifecycle: Lifecycle = 'idle'
  #role: LeaseRole = LEASE_ROLES.follower
  #token: number | null = null
  /** Clock time at which the holder stops trusting the lease (leader only). */
  #deadline = 0
  #tick: ClockTimer | null = null
  #expiry: ClockTimer | null = null
  /** Bumped by stop(): answers to commands sent before are ignored. */
  #epoch = 0
  /** Failed commands in a row (the first is a warning, the rest debug). */
  #failures = 0

  constructor(options: LeaderLeaseOptions) {
    this.#options = options
    this.#clock = options.clock ?? systemClock
    this.#logger = options.logger
    this.#ttl = options.ttlMs ?? LEASE_DEFAULTS.ttlMs
    if (!Number.isInteger(this.#ttl) || this.#ttl < LEASE_DEFAULTS.minTtlMs) throw new RangeError(`lease ttlMs must be an integer ≥ ${LEASE_DEFAULTS.minTtlMs}`)
    this.#every = Math.floor(this.#ttl * LEASE_DEFAULTS.renewFraction)
    this.#margin = options.safetyMarginMs ?? Math.floor(this.#ttl * LEASE_DEFAULTS.safetyFraction)
    // Past ttl/3 the margin would leave no room for the renewal after next.
    if (!(this.#margin >= 0 && this.#margin <= this.#every)) throw new RangeError('lease safetyMarginMs must be between 0 and ttl/3')
    this.#commandTimeout = options.commandTimeoutMs ?? this.#every
    if (!(this.#commandTimeout > 0)) throw new RangeError('lease commandTimeoutMs must be positive')
    if (options.nodeId === '') throw new RangeError('lease nodeId must not be empty (the empty value marks a fresh Redis)')
    this.#random = options.random ?? Math.random
    this.#tokenKey = `${options.key}:token`
    this.#ownsRedis = typeof options.redis === 'string'
  }

  /** The current role; past the local deadline, reading it steps down first. */
  get role(): LeaseRole {
    this.#checkDeadline()
    return this.#role
  }

  /** The fencing token of the current term while leader, else null. Higher tokens are later terms. */
  get token(): number | null {
    this.#checkDeadline()
    return this.#token
  }

  get isLeader(): boolean {
    return isLeaderRole(this.role)
  }

  /** Calls `handler` on every change of role, until the returned function is called. */
  onChange(handler: LeaseChangeHandler): () => void {
    this.#handlers.add(handler)
    return () => { this.#handlers.delete(handler) }
  }

  /**
   * Starts competing for the lease. Resolves after the first attempt, whatever its outcome
   * (never rejects for Redis: an unreachable Redis just means follower, and retrying).
   */
  async start(): Promise<void> {
    if (this.#lifecycle !== 'idle') throw new Error(`lease: start() on a ${this.#lifecycle} lease`)
    this.#lifecycle = 'running'
    if (typeof this.#options.redis === 'string') {
      const own = (this.#own = ownConnection(this.#options.redis, this.#ttl, this.#every))
      own.on('error', (error: Error) => this.#logger.debug({ err: error }, 'lease: redis connection error'))
      this.#redis = own
      // Wait for the first attempt only: not reachable yet, the attempts below retry (node-redis
      // keeps reconnecting; connect() itself resolves only once it is ready).
      await new Promise<void>((resolve) => {
        const settle = () => {
          own.off('ready', settle).off('error', settle)
          resolve()
        }
        own.once('ready', settle).once('error', settle)
        own.connect().catch(() => {})
      })
    } else this.#redis = this.#options.redis
    await this.#attempt(this.#epoch)
  }

  /**
   * Steps down (handlers hear `follower`, 'stopped') before releasing the lease in Redis, so
   * this node never leads while another does; then closes its own connection. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#lifecycle === 'stopped') return
    const wasRunning = this.#lifecycle === 'running'
    this.#lifecycle = 'stopped'
    this.#epoch++
    this.#clearTimer('tick')
    if (this.#role === LEASE_ROLES.leader) this.#transition(LEASE_ROLES.follower, null, 'stopped')
    this.#clearTimer('expiry')
    const redis = this.#redis
    if (!wasRunning || !redis) return
    // Released even when not leader locally: a late acquisition may have made the key ours.
    try {
      const released = await this.#command(() => RELEASE.run(redis, [this.#options.key], [this.#options.nodeId]))
      if (released === 1) this.#logger.info({ key: this.#options.key }, 'lease: released')
    } catch (error) {
      this.#logger.warn({ err: error, key: this.#options.key }, 'lease: could not release (it expires on its own)')
    }
    if (this.#ownsRedis) {
      // Nothing is pending after the release: closing at once loses nothing.
      if (this.#own?.isOpen) this.#own.destroy()
      this.#own = null
      this.#redis = null
    }
  }

  // ─── the state machine ─────────────────────────────────────────────────────────────────

  /** The one place the role changes. */
  #transition(role: LeaseRole, token: number | null, reason: LeaseChangeReason): void {
    if (role === this.#role) return
    this.#role = role
    this.#token = token
    if (role === LEASE_ROLES.leader) this.#armExpiry()
    else this.#clearTimer('expiry')
    const log = { key: this.#options.key, nodeId: this.#options.nodeId, token, reason }
    if (reason === 'acquired' || reason === 'stopped') this.#logger.info(log, `lease: ${role}`)
    else this.#logger.warn(log, `lease: ${role}`)
    for (const handler of [...this.#handlers]) {
      try {
        handler(role, token, reason)
      } catch (error) {
        this.#logger.error({ err: error }, 'lease: change handler threw')
      }
    }
  }

  #checkDeadline(): void {
    if (this.#role === LEASE_ROLES.leader && this.#clock.now() >= this.#deadline) {
      this.#transition(LEASE_ROLES.follower, null, 'expired')
    }
  }

  #armExpiry(): void {
    this.#clearTimer('expiry')
    this.#expiry = this.#clock.setTimeout(() => {
      this.#expiry = null
      this.#checkDeadline()
      // Woken early (clock granularity): look again at the deadline.
      if (this.#role === LEASE_ROLES.leader) this.#armExpiry()
    }, Math.max(0, this.#deadline - this.#clock.now()))
  }

  #clearTimer(which: 'tick' | 'expiry'): void {
    const timer = which === 'tick' ? this.#tick : this.#expiry
    if (timer) this.#clock.clearTimeout(timer)
    if (which === 'tick') this.#tick = null
    else this.#expiry = null
  }

  // ─── the loop: one command at a time ─────────────────────────────────────────────────────

  /** Renews (leader) or tries to acquire (follower), then schedules the next attempt. */
  async #attempt(epoch: number): Promise<void> {
    if (epoch !== this.#epoch || this.#lifecycle !== 'running') return
    const sentAt = this.#clock.now()
    if (this.role === LEASE_ROLES.leader) await this.#renew(epoch, sentAt)
    else await this.#acquire(epoch, sentAt)
    if (epoch !== this.#epoch) return
    // Renewals keep their cadence from the send; acquisition attempts are jittered (½–1 of
    // the interval) so followers that lost the same leader do not retry in lockstep.
    const delay = this.#role === LEASE_ROLES.leader
      ? Math.max(0, sentAt + this.#every - this.#clock.now())
      : Math.round(this.#every * (0.5 + 0.5 * this.#random()))
    this.#tick = this.#clock.setTimeout(() => {
      this.#tick = null
      void this.#attempt(epoch)
    }, delay)
  }

  async #acquire(epoch: number, sentAt: number): Promise<void> {
    const { key, nodeId } = this.#options
    let result: unknown
    try {
      result = await this.#command(() => ACQUIRE.run(this.#redis!, [key, this.#tokenKey], [nodeId, this.#ttl]))
    } catch (error) {
      if (epoch === this.#epoch) this.#failed(error, 'acquire')
      return
    }
    this.#failures = 0
    if (epoch !== this.#epoch) return
    if (result === -1) {
      this.#logger.warn({ key }, 'lease: Redis has no token counter (new, or it lost its data): nobody leads for one ttl')
      return
    }
    if (typeof result !== 'number' || !Number.isSafeInteger(result) || result < 0) {
      this.#failed(new Error(`unexpected answer ${JSON.stringify(result)}`), 'acquire')
      return
    }
    if (result === 0) return
    const deadline = sentAt + this.#ttl - this.#margin
    // The answer came too late to trust: the key may be ours in Redis, and the next attempt
    // reclaims it (a new term).
    if (this.#clock.now() >= deadline) return
    this.#deadline = deadline
    this.#transition(LEASE_ROLES.leader, result, 'acquired')
  }

  async #renew(epoch: number, sentAt: number): Promise<void> {
    const { key, nodeId } = this.#options
    let result: unknown
    try {
      result = await this.#command(() => RENEW.run(this.#redis!, [key], [nodeId, this.#ttl]))
    } catch (error) {
      // Still leader until the deadline: the next renewal may get through.
      if (epoch === this.#epoch) this.#failed(error, 'renew')
      return
    }
    this.#failures = 0
    // Stopped, or stepped down while waiting: a late OK does not bring leadership back.
    if (epoch !== this.#epoch || this.role !== LEASE_ROLES.leader) return
    if (result === 1) {
      this.#deadline = Math.max(this.#deadline, sentAt + this.#ttl - this.#margin)
      this.#armExpiry()
    } else {
      this.#transition(LEASE_ROLES.follower, null, 'lost')
    }
  }

  #failed(error: unknown, what: string): void {
    const level = this.#failures++ === 0 ? 'warn' : 'debug'
    this.#logger[level]({ err: error, key: this.#options.key, failures: this.#failures }, `lease: ${what} failed`)
  }

  /** One Redis command, bounded by commandTimeoutMs (a hung connection must not stall the loop). */
  #command<T>(run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => reject(new Error(`lease: Redis did not answer within ${this.#commandTimeout} ms`)), this.#commandTimeout)
      let pending: Promise<T>
      try {
        pending = run()
      } catch (error) {
        pending = Promise.reject(error)
      }
      pending.then(
        (value) => { this.#clock.clearTimeout(timer); resolve(value) },
        (error: unknown) => { this.#clock.clearTimeout(timer); reject(error) },
      )
    })
  }
}

/**
 * The lease's own connection: fail at once rather than queue (an answer that comes late is
 * worth nothing here), and reconnect for ever, at most every ttl/3.
 */
function ownConnection(url: string, ttlMs: number, everyMs: number) {
  return createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: ttlMs, reconnectStrategy: (retries: number) => Math.min(50 * (retries + 1), everyMs) },
  })
}
