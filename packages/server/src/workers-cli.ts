/**
 * `switchboard start --workers N` (N > 1): N processes on one port, each a whole Switchboard
 * node of the cluster that `--redis-url` makes of them.
 *
 *   primary ──[no --database-url: start the embedded Postgres, once]──► fork N workers
 *      │          (node:cluster: the primary owns the listening socket and hands each new
 *      │           connection to the next worker, round robin: Node's default but on Windows)
 *      ├── SIGTERM/SIGINT ──► forwarded to every worker; exits when they have exited
 *      └── a worker dies ──► restarted after a backoff (restart-policy.ts), logged
 *
 *   worker  = `switchboard start` with the same command line, told by the primary (through the
 *             SWITCHBOARD_WORKER environment variable) its number and the embedded database
 *
 * Why workers re-read the command line instead of receiving options over IPC: node:cluster
 * starts them with the primary's argv and environment anyway, validation is deterministic, and
 * the only things the primary decides (worker number, embedded database URL) fit in one small
 * variable. Why the primary runs the embedded Postgres: one data folder can serve one Postgres,
 * and N workers racing to start it would all but one fail.
 */
import cluster from 'node:cluster'
import { resolve } from 'node:path'
import type { Clock } from './clock.js'
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './db/embedded-postgres.js'
import type { Logger } from './logger.js'
import { redactPassword } from './start-options.js'
import { WorkerSupervisor, type WorkerProcess } from './workers/worker-supervisor.js'

/** The environment variable through which the primary tells a worker who it is. */
export const WORKER_ENV = 'SWITCHBOARD_WORKER'

/** What a worker learns from the primary. */
export interface WorkerIdentity {
  /** 1…count; a restarted worker keeps its number. */
  index: number
  count: number
  /** The embedded Postgres the primary started (absent when the command line names a database). */
  databaseUrl?: string
}

/** This process's worker identity, or null when it is not a worker of `--workers N`. */
export function readWorkerIdentity(env: NodeJS.ProcessEnv): WorkerIdentity | null {
  const text = env[WORKER_ENV]
  if (!cluster.isWorker || text === undefined) return null
  const parsed = JSON.parse(text) as Partial<WorkerIdentity>
  if (!Number.isInteger(parsed.index) || !Number.isInteger(parsed.count)) throw new Error(`${WORKER_ENV} is malformed`)
  return { index: parsed.index!, count: parsed.count!, ...(typeof parsed.databaseUrl === 'string' ? { databaseUrl: parsed.databaseUrl } : {}) }
}

/** The node id of worker `index` when the operator named the node (`--node-id`). */
export function workerNodeId(nodeId: string | undefined, worker: WorkerIdentity | null): string | undefined {
  return nodeId !== undefined && worker ? `${nodeId}-${worker.index}` : nodeId
}

export interface PrimaryOptions {
  workers: number
  host: string
  databaseUrl: string | undefined
  dataDir: string
  redisUrl: string
  logger: Logger
  out: (line: string) => void
  err: (line: string) => void
}

/**
 * Why not the server's systemClock: its timers are unref'd (a server's timers must not keep a
 * stopped server alive), but while every worker is in its restart backoff the primary has
 * nothing else keeping it alive, and would exit in the middle of restarting them.
 */
const primaryClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer),
}

/** Runs the primary until every worker has exited; returns the process's exit code. */
export async function runPrimary(options: PrimaryOptions): Promise<number> {
  const { logger } = options
  let supervisor: WorkerSupervisor | null = null
  let stopRequested = false
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'primary: stopping the workers')
    stopRequested = true
    void supervisor?.stop(signal)
  }
  const onSigterm = () => onSignal('SIGTERM')
  const onSigint = () => onSignal('SIGINT')
  process.on('SIGTERM', onSigterm)
  process.on('SIGINT', onSigint)
  let embedded: EmbeddedPostgresHandle | null = null
  try {
    if (options.databaseUrl === undefined) {
      try {
        embedded = await startEmbeddedPostgres({ dataDir: resolve(options.dataDir), logger })
      } catch (error) {
        options.err(`switchboard: ${(error as Error).message}`)
        return 1
      }
      if (stopRequested) return 0
    }
    const identity = (index: number): WorkerIdentity => ({ index, count: options.workers, ...(embedded ? { databaseUrl: embedded.url } : {}) })
    supervisor = new WorkerSupervisor({
      count: options.workers,
      fork: (index) => forkWorker(identity(index)),
      clock: primaryClock,
      logger,
    })
    const running = supervisor
    try {
      const address = await running.start()
      const host = options.host.includes(':') ? `[${options.host}]` : options.host
      const pids = running.workers().map((worker) => worker.pid).join(', ')
      options.out(`Switchboard: ${options.workers} workers ready on http://${host}:${address.port} (primary pid ${process.pid}, worker pids ${pids}; Redis ${redactPassword(options.redisUrl)})`)
    } catch {
      // The pool stopped before every worker listened; `done` says why.
    }
    const outcome = await running.done
    if (outcome.code !== 0) options.err(`switchboard: ${outcome.reason}`)
    return outcome.code
  } finally {
    process.off('SIGTERM', onSigterm)
    process.off('SIGINT', onSigint)
    await embedded?.stop().catch((error: unknown) => logger.error({ err: error }, 'stopping the embedded Postgres failed'))
  }
}

/** node:cluster's worker, as the supervisor sees it. */
function forkWorker(identity: WorkerIdentity): WorkerProcess {
  const worker = cluster.fork({ [WORKER_ENV]: JSON.stringify(identity) })
  const child = worker.process
  return {
    get pid() {
      return child.pid
    },
    kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    },
    onListening(listener) {
      worker.once('listening', (address) => listener({ address: address.address ?? '', port: address.port ?? 0 }))
    },
    onExit(listener) {
      worker.once('exit', (code, signal) => listener(code, (signal as NodeJS.Signals | null) ?? null))
    },
  }
}
