/**
 * A real `redis-server` for tests (Debian's package, /usr/bin/redis-server): started on a free
 * loopback port with persistence off, so every test owns an empty Redis and never touches one
 * that may already listen on 6379. `restart()` keeps the port (clients reconnect to the same
 * URL) and, persistence being off, comes back empty: that is how "Redis lost the log" is tested.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createConnection } from 'node:net'
import { freePort } from '../../src/db/free-port.js'

export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server'

export class RedisProcess {
  #child: ChildProcess | null = null

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  static async start(): Promise<RedisProcess> {
    const redis = new RedisProcess(await freePort())
    await redis.#spawn()
    return redis
  }

  async #spawn(): Promise<void> {
    const child = spawn(REDIS_SERVER, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { stdio: 'ignore' })
    this.#child = child
    const deadline = Date.now() + 10_000
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} (is ${REDIS_SERVER} installed?)`)
      if (await answersPing(this.port)) return
      if (Date.now() > deadline) throw new Error('redis-server did not start within 10 s')
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }

  /** Stops Redis (SIGKILL: no goodbye to clients) and waits for the process to exit. */
  async kill(): Promise<void> {
    const child = this.#child
    this.#child = null
    if (!child || child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }

  /** Kills Redis and starts an empty one on the same port. */
  async restart(): Promise<void> {
    await this.kill()
    await this.#spawn()
  }

  async stop(): Promise<void> {
    await this.kill()
  }
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')))
  })
}
