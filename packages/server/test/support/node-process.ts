/**
 * One Switchboard node as a child process, for cluster tests: the built command
 * (`packages/server/bin/switchboard.js start`, the bundle built by `npm test`), so a kill is a real SIGKILL (no
 * drain, no goodbye to Redis or Postgres) and a restart is a new process with a new pid.
 * Modelled on `ServerProcess` in packages/client/test/chaos-scenario.ts.
 *
 *   const node = await NodeProcess.start({ databaseUrl, redisUrl, nodeId: 'a' })
 *   node.url            http://127.0.0.1:<port>; the port is kept across restarts
 *   await node.kill()   SIGKILL, resolves once the process is gone
 *   await node.restart()  kill, then start again on the same port
 *   await node.stop()   SIGTERM (graceful: sockets drained with 1012), resolves with the exit code
 *
 * Startup waits for the banner's "listening on"; a node that exits or stays silent for
 * `startTimeoutMs` rejects with the last 4 kB of its output, which is what says why.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../src/db/free-port.js'

const CLI = fileURLToPath(new URL('../../bin/switchboard.js', import.meta.url))

/** The secret nodes sign and verify JWTs with unless told otherwise. */
export const NODE_JWT_SECRET = 'switchboard-cluster-test-secret-at-least-32-chars'

const OUTPUT_BYTES = 4_000

export interface NodeProcessOptions {
  databaseUrl: string
  /** Default: a free port, chosen once and kept across restarts. */
  port?: number
  /** Default {@link NODE_JWT_SECRET}. */
  jwtSecret?: string
  redisUrl?: string
  nodeId?: string
  /** Default `warn`: the banner still prints, logs stay quiet. */
  logLevel?: string
  /** More `switchboard start` arguments (e.g. `--no-postgres-changes`). */
  args?: string[]
  /** More environment (the cluster variables of the test's own environment are not passed on). */
  env?: Record<string, string>
  /** Default 30 s. */
  startTimeoutMs?: number
}

export class NodeProcess {
  #child: ChildProcess | null = null
  #exited: Promise<number | null> = Promise.resolve(null)
  #output = ''

  private constructor(
    readonly port: number,
    private readonly options: NodeProcessOptions,
  ) {}

  /** Picks the port (unless given) and starts the node. */
  static async start(options: NodeProcessOptions): Promise<NodeProcess> {
    const node = new NodeProcess(options.port ?? (await freePort()), options)
    await node.start()
    return node
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  get jwtSecret(): string {
    return this.options.jwtSecret ?? NODE_JWT_SECRET
  }

  /** The running process's pid (undefined when not running). */
  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined
  }

  get running(): boolean {
    return this.#child !== null && this.#child.exitCode === null && this.#child.signalCode === null
  }

  /** The last 4 kB of stdout and stderr, across restarts. */
  get output(): string {
    return this.#output
  }

  /** Starts the node (no-op while it runs); resolves once it listens. */
  start(): Promise<void> {
    if (this.running) return Promise.resolve()
    const o = this.options
    const args = [CLI, 'start', '--port', String(this.port), '--database-url', o.databaseUrl, '--jwt-secret', this.jwtSecret, '--log-level', o.logLevel ?? 'warn']
    if (o.redisUrl) args.push('--redis-url', o.redisUrl)
    if (o.nodeId) args.push('--node-id', o.nodeId)
    args.push(...(o.args ?? []))
    // A WORKERS or REDIS_URL set where the tests run would change what this node is.
    const { REDIS_URL: _r, NODE_ID: _n, WORKERS: _w, DATABASE_URL: _d, POSTGRES_CHANGES: _p, ...inherited } = process.env
    const child = spawn(process.execPath, args, { env: { ...inherited, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    this.#child = child
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
    const timeoutMs = o.startTimeoutMs ?? 30_000
    if (this.#output) this.#output += `\n[node restarted at ${new Date().toISOString()}]\n`
    return new Promise((resolve, reject) => {
      let listening = false
      let fresh = '' // this start's output: the previous run's banner must not count
      const fail = (reason: string) => {
        clearTimeout(timer)
        reject(new Error(`node ${o.nodeId ?? this.port} ${reason}; its output:\n${this.#output}`))
      }
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        fail(`did not listen within ${timeoutMs} ms`)
      }, timeoutMs)
      const collect = (chunk: Buffer) => {
        this.#output = (this.#output + chunk.toString()).slice(-OUTPUT_BYTES)
        fresh = (fresh + chunk.toString()).slice(-OUTPUT_BYTES)
        if (!listening && fresh.includes('listening on')) {
          listening = true
          clearTimeout(timer)
          resolve()
        }
      }
      child.stdout!.on('data', collect)
      child.stderr!.on('data', collect)
      child.once('exit', (code, signal) => {
        if (!listening) fail(`exited (${signal ?? `code ${code}`}) before listening`)
      })
    })
  }

  /** SIGKILL: the node dies without draining anything. Resolves once the process is gone. */
  async kill(): Promise<void> {
    if (!this.running) return
    this.#child!.kill('SIGKILL')
    await this.#exited
  }

  /** SIGTERM: a graceful stop. Resolves with the exit code (0 when it went well). */
  async stop(): Promise<number | null> {
    if (this.running) this.#child!.kill('SIGTERM')
    return this.#exited
  }

  /** Kills the node and starts it again on the same port. */
  async restart(): Promise<void> {
    await this.kill()
    await this.start()
  }
}
