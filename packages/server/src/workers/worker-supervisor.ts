/**
 * The primary of `switchboard start --workers N`: keeps N worker processes (each a whole
 * Switchboard node on the shared port) running, restarts one that dies, and stops them all.
 *
 *   pool:    starting ──all N listening──► running ──stop()/give up──► stopping ──all exited──► stopped
 *               │                                                          ▲
 *               └──a worker exits before it ever listened, or stop()───────┘
 *
 *   worker:  starting ──listening──► listening ──exit──► backoff ──delay──► starting
 *               │                        (restart policy: restart-policy.ts; past its bound
 *               └──exit────────────────►  the pool gives up and stops)
 *
 * Why a worker that exits during the first start stops the pool instead of being retried: at
 * that point the cause is almost always the configuration (database unreachable, port taken),
 * which the worker has already printed on one line; retrying would bury that line under
 * restart logs and delay the non-zero exit an operator or a script waits for. Later crashes
 * are the process's own (a bug, out of memory) and are restarted.
 *
 * Processes are reached through {@link WorkerProcess}, so the state machine is tested with
 * fake workers and a fake clock; `node:cluster` is wired in by the CLI (workers-cli.ts).
 */
import type { Clock, ClockTimer } from '../clock.js'
import type { Logger } from '../logger.js'
import { decideRestart, DEFAULT_RESTART_POLICY, type RestartPolicy } from './restart-policy.js'

/** One forked worker process, as the supervisor sees it. */
export interface WorkerProcess {
  readonly pid: number | undefined
  /** Sends a signal (no-op once the process has exited). */
  kill(signal: NodeJS.Signals): void
  /** The worker's server is listening on the shared port (called at most once). */
  onListening(listener: (address: ListenAddress) => void): void
  /** The process has exited (called once). */
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void
}

export interface ListenAddress {
  address: string
  port: number
}

export interface WorkerSupervisorOptions {
  /** How many workers (at least 1). */
  count: number
  /** Starts worker `index` (1…count); a restarted worker keeps its index. */
  fork: (index: number) => WorkerProcess
  clock: Clock
  logger: Logger
  policy?: RestartPolicy
  /** After a stop is asked, workers still running this long later are killed. Default 30 s. */
  shutdownTimeoutMs?: number
}

/** How the pool ended: exit code for the primary, and why (for its last log line). */
export interface PoolOutcome {
  code: 0 | 1
  reason: string
}

export const POOL_STATES = { starting: 'starting', running: 'running', stopping: 'stopping', stopped: 'stopped' } as const
export type PoolState = (typeof POOL_STATES)[keyof typeof POOL_STATES]

export const WORKER_STATES = { starting: 'starting', listening: 'listening', backoff: 'backoff', exited: 'exited' } as const
export type WorkerState = (typeof WORKER_STATES)[keyof typeof WORKER_STATES]

/** A worker slot as reported by {@link WorkerSupervisor.workers}. */
export interface WorkerView {
  index: number
  pid: number | undefined
  state: WorkerState
  restarts: number
}

interface Slot {
  index: number
  state: WorkerState
  process: WorkerProcess | null
  /** Crash times within the policy's window. */
  crashes: number[]
  restarts: number
  timer: ClockTimer | null
}

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000

export class WorkerSupervisor {
  readonly #options: WorkerSupervisorOptions
  readonly #policy: RestartPolicy
  readonly #slots: Slot[]
  #state: PoolState = POOL_STATES.starting
  #outcome: PoolOutcome | null = null
  #forwarded: NodeJS.Signals | null = null
  #shutdownTimer: ClockTimer | null = null
  #address: ListenAddress | null = null
  #forked = false
  readonly #started: { promise: Promise<ListenAddress>; resolve: (address: ListenAddress) => void; reject: (error: Error) => void }
  readonly #done: { promise: Promise<PoolOutcome>; resolve: (outcome: PoolOutcome) => void }

  constructor(options: WorkerSupervisorOptions) {
    if (!Number.isInteger(options.count) || options.count < 1) throw new RangeError('count must be a positive integer')
    this.#options = options
    this.#policy = options.policy ?? DEFAULT_RESTART_POLICY
    this.#slots = Array.from({ length: options.count }, (_, i) => ({ index: i + 1, state: WORKER_STATES.starting, process: null, crashes: [], restarts: 0, timer: null }))
    let resolveStarted!: (address: ListenAddress) => void
    let rejectStarted!: (error: Error) => void
    const started = new Promise<ListenAddress>((resolve, reject) => {
      resolveStarted = resolve
      rejectStarted = reject
    })
    started.catch(() => {}) // a caller that only awaits `done` must not see an unhandled rejection
    this.#started = { promise: started, resolve: resolveStarted, reject: rejectStarted }
    let resolveDone!: (outcome: PoolOutcome) => void
    this.#done = { promise: new Promise<PoolOutcome>((resolve) => (resolveDone = resolve)), resolve: resolveDone }
  }

  get state(): PoolState {
    return this.#state
  }

  /** Resolves with the pool's outcome once every worker has exited after a stop or a give-up. */
  get done(): Promise<PoolOutcome> {
    return this.#done.promise
  }

  workers(): WorkerView[] {
    return this.#slots.map(({ index, process, state, restarts }) => ({ index, pid: process?.pid, state, restarts }))
  }

  /**
   * Forks every worker; resolves with the shared address once all of them listen. Rejects when
   * the pool stops first (a worker exited before it listened, or {@link stop} was called).
   */
  start(): Promise<ListenAddress> {
    if (!this.#forked && this.#state === POOL_STATES.starting) {
      this.#forked = true
      for (const slot of this.#slots) this.#fork(slot)
    }
    return this.#started.promise
  }

  /**
   * Forwards `signal` to every worker (each drains its sockets and exits), cancels pending
   * restarts, and kills what is still running after the shutdown timeout. Idempotent.
   */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<PoolOutcome> {
    this.#beginStop(signal, { code: 0, reason: `stopped by ${signal}` })
    return this.#done.promise
  }

  #fork(slot: Slot): void {
    slot.state = WORKER_STATES.starting
    slot.timer = null
    const worker = this.#options.fork(slot.index)
    slot.process = worker
    worker.onListening((address) => this.#onListening(slot, worker, address))
    worker.onExit((code, signal) => this.#onExit(slot, worker, code, signal))
  }

  #onListening(slot: Slot, worker: WorkerProcess, address: ListenAddress): void {
    if (slot.process !== worker || slot.state !== WORKER_STATES.starting) return
    slot.state = WORKER_STATES.listening
    this.#options.logger.info({ worker: slot.index, pid: worker.pid, restarts: slot.restarts }, 'worker listening')
    if (this.#state === POOL_STATES.starting && this.#slots.every((s) => s.state === WORKER_STATES.listening)) {
      this.#state = POOL_STATES.running
      this.#address = address
      this.#started.resolve(address)
    }
  }

  #onExit(slot: Slot, worker: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.process !== worker) return
    const listened = slot.state === WORKER_STATES.listening
    slot.process = null
    slot.state = WORKER_STATES.exited
    const { logger, clock } = this.#options
    const how = signal ? `signal ${signal}` : `code ${code}`

    if (this.#state === POOL_STATES.stopping) {
      // A worker stopped by the signal we forwarded exits 0 (graceful close) or, if it had
      // not installed its handler yet (still starting), by the signal itself: both are clean.
      const clean = code === 0 || (signal !== null && signal === this.#forwarded)
      if (!clean && this.#outcome?.code === 0) this.#outcome = { code: 1, reason: `worker ${slot.index} exited with ${how} while stopping` }
      logger.info({ worker: slot.index, pid: worker.pid, code, signal }, 'worker exited')
      this.#finishIfAllExited()
      return
    }

    if (this.#state === POOL_STATES.starting && !listened && slot.restarts === 0) {
      logger.error({ worker: slot.index, pid: worker.pid, code, signal }, 'worker exited before it listened; stopping the pool')
      this.#beginStop('SIGTERM', { code: 1, reason: `worker ${slot.index} exited with ${how} before it listened` })
      return
    }

    const decision = decideRestart(slot.crashes, clock.now(), this.#policy)
    slot.crashes = decision.crashes
    if (decision.action === 'give-up') {
      const reason = `worker ${slot.index} crashed ${decision.crashes.length} times within ${this.#policy.windowMs / 1000} s`
      logger.error({ worker: slot.index, pid: worker.pid, code, signal }, `${reason}; giving up and stopping the pool`)
      this.#beginStop('SIGTERM', { code: 1, reason })
      return
    }
    logger.warn({ worker: slot.index, pid: worker.pid, code, signal, restartInMs: decision.delayMs }, 'worker died unexpectedly; restarting it')
    slot.state = WORKER_STATES.backoff
    slot.timer = clock.setTimeout(() => {
      if (this.#state === POOL_STATES.stopping || this.#state === POOL_STATES.stopped) return
      slot.restarts += 1
      this.#fork(slot)
    }, decision.delayMs)
  }

  #beginStop(signal: NodeJS.Signals, outcome: PoolOutcome): void {
    if (this.#state === POOL_STATES.stopping || this.#state === POOL_STATES.stopped) return
    const wasStarting = this.#state === POOL_STATES.starting
    this.#state = POOL_STATES.stopping
    this.#outcome = outcome
    this.#forwarded = signal
    if (wasStarting) this.#started.reject(new Error(outcome.reason))
    const { clock, logger } = this.#options
    for (const slot of this.#slots) {
      if (slot.timer) clock.clearTimeout(slot.timer)
      slot.timer = null
      if (slot.process) slot.process.kill(signal)
      else slot.state = WORKER_STATES.exited
    }
    const timeoutMs = this.#options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS
    this.#shutdownTimer = clock.setTimeout(() => {
      const left = this.#slots.filter((slot) => slot.process !== null)
      logger.error({ workers: left.map((slot) => slot.index) }, `workers still running ${timeoutMs} ms after ${signal}; killing them`)
      if (this.#outcome?.code === 0) this.#outcome = { code: 1, reason: `workers did not stop within ${timeoutMs} ms` }
      for (const slot of left) slot.process?.kill('SIGKILL')
    }, timeoutMs)
    this.#finishIfAllExited()
  }

  #finishIfAllExited(): void {
    if (this.#state !== POOL_STATES.stopping || this.#slots.some((slot) => slot.process !== null)) return
    this.#state = POOL_STATES.stopped
    if (this.#shutdownTimer) this.#options.clock.clearTimeout(this.#shutdownTimer)
    this.#done.resolve(this.#outcome ?? { code: 0, reason: 'stopped' })
  }

  /** The shared address, once every worker has listened. */
  get address(): ListenAddress | null {
    return this.#address
  }
}
