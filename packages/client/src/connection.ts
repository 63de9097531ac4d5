/**
 * The socket under every channel: one realtime-js client, driven by our status machine.
 *
 * realtime-js (Phoenix) would reconnect on its own with fixed steps, no jitter, no attempt cap,
 * no re-auth on the visibility path and no reconnect while the page is hidden. This class takes
 * that over: it parks Phoenix's reconnect timer, retries with full-jitter backoff through the
 * injected clock, gives up after `maxAttempts` (status `error`), refreshes the token through the
 * `accessToken` callback and `setAuth` **before** announcing `ready` (which is what makes channels
 * rejoin), and listens to browser signals (online/offline, visibility, pageshow).
 *
 * It tells the manager (`notify`): `ready` (socket open and token fresh), `down` (an open socket
 * was lost), `failed` (connect attempt number `attempt` failed; at the policy's cap the status is
 * `error`). Status snapshots go to {@link Connection.store}.
 */
import type { RealtimeClient } from '@supabase/realtime-js'
import { fullJitterDelay, type BackoffPolicy } from './backoff.js'
import { Timer, type Clock } from './clock.js'
import { createError, normalizeError } from './errors.js'
import type { Logger } from './logger.js'
import type { Signal, SignalSource } from './signals.js'
import { onSocketEvent, probe } from './socket-events.js'
import type { Status} from './status.js';
import { isLive, isTerminal, transition, type StatusEvent } from './status.js'
import { Store } from './store.js'

/** The connection as UI code sees it. */
export interface ConnectionSnapshot {
  status: Status
  /** Consecutive failed attempts since the last successful open. */
  attempt: number
  /** The last error (connect failure, auth failure, give-up). */
  lastError: Error | undefined
  /** `clock.now()` of the last status change. */
  since: number
}

export type AccessTokenFn = () => Promise<string | null> | string | null

export type ConnectionEvent = 'ready' | 'down' | 'failed'

export interface ConnectionOptions {
  client: RealtimeClient
  accessToken: AccessTokenFn | undefined
  clock: Clock
  random: () => number
  logger: Logger
  /** The policy to use right now (the manager derives it from the live channels). */
  policy: () => BackoffPolicy
  connectTimeoutMs: number
  signals: SignalSource | undefined
  notify(event: ConnectionEvent, error?: Error, attempt?: number): void
}

const ignore = (): undefined => undefined

export class Connection {
  readonly store: Store<ConnectionSnapshot>
  /** Successful reopens after a loss (stats). */
  reconnects = 0

  readonly #o: ConnectionOptions
  /** The next attempt (backoff, or a short poll while the old socket closes). */
  readonly #retry: Timer
  readonly #connectTimeout: Timer
  readonly #offs: Array<() => void>
  #ready = false
  #everReady = false
  #auth: Promise<void> | undefined
  #offline: boolean
  #destroyed = false

  constructor(options: ConnectionOptions) {
    const { client, clock, signals } = options
    this.#o = options
    this.store = new Store<ConnectionSnapshot>(
      { status: 'disconnected', attempt: 0, lastError: undefined, since: clock.now() },
      (a, b) => a.status === b.status && a.attempt === b.attempt && a.lastError === b.lastError,
    )
    this.#retry = new Timer(clock)
    this.#connectTimeout = new Timer(clock)
    this.#offline = signals?.isOnline?.() === false
    this.#offs = [onSocketEvent(client, 'open', () => this.#onOpen()), onSocketEvent(client, 'close', (event) => this.#onClose(event))]
    if (signals) this.#offs.push(signals.subscribe((signal) => this.#onSignal(signal)))
    // An adopted client may already be connected.
    if (client.isConnected()) {
      this.#update('start')
      this.#onOpen()
    }
  }

  get status(): Status {
    return this.store.getSnapshot().status
  }

  /** `true` once the socket is open and the token was refreshed for this connection. */
  get ready(): boolean {
    return this.#ready
  }

  /** Asks for a connection (idempotent). Leaves `error`/`disconnected` for a fresh set of attempts. */
  ensureConnected(): void {
    if (this.#destroyed || !isTerminal(this.status)) return
    this.#update('start', { attempt: 0 })
    this.#attempt()
  }

  /** Retries now with a fresh attempt budget (manual retry, `online`, page shown again). */
  reconnectNow(reason: string): void {
    if (this.#destroyed || this.status === 'disconnected' || (this.#ready && this.#o.client.isConnected())) return
    this.#o.logger.info('reconnecting now', { reason })
    this.#update('start', { attempt: 0 })
    this.#attempt()
  }

  /** Closes the socket on purpose (no leases left, cleanup). Status `disconnected`. */
  disconnect(): void {
    this.#retry.cancel()
    this.#connectTimeout.cancel()
    this.#ready = false
    this.#update('stop')
    if (this.#o.client.connectionState() !== 'closed') void this.#o.client.disconnect().catch(ignore)
  }

  /**
   * Fetches a token from the `accessToken` callback and hands it to `setAuth` (which updates the
   * join payload of every channel and pushes `access_token` to joined ones). Concurrent callers
   * share one call. Never throws: a failing callback is logged and the cached token stays.
   */
  refreshAuth(): Promise<void> {
    this.#auth ??= this.#doRefreshAuth().finally(() => {
      this.#auth = undefined
    })
    return this.#auth
  }

  async #doRefreshAuth(): Promise<void> {
    const { client, accessToken, logger } = this.#o
    try {
      const token = accessToken ? await accessToken() : undefined
      if (accessToken && !token) throw new Error('the accessToken callback returned no token')
      await client.setAuth(token)
    } catch (err) {
      const error = createError('AUTH_FAILED', 'token refresh failed', { cause: err })
      logger.error(error.message, { error: err })
      this.#update(undefined, { lastError: error })
    }
  }

  destroy(): void {
    this.#destroyed = true
    this.disconnect()
    for (const off of this.#offs) off()
    this.#offs.length = 0
    this.store.listeners.clear()
  }

  #update(event: StatusEvent | undefined, patch?: Partial<ConnectionSnapshot>): void {
    const current = this.store.getSnapshot()
    const status = event ? transition(current.status, event) : current.status
    this.store.set({ ...current, ...patch, status, since: status === current.status ? current.since : this.#o.clock.now() })
  }

  #attempt(): void {
    const { client, connectTimeoutMs } = this.#o
    this.#retry.cancel()
    if (this.#destroyed || !isLive(this.status) || this.#offline) return // `online` resumes
    const state = client.connectionState()
    if (state === 'open') return this.#onOpen()
    // realtime-js ignores connect() while the old socket closes; look again shortly.
    if (state === 'closing') return this.#retry.start(() => this.#attempt(), 50)
    this.#connectTimeout.start(() => {
      // Closing the half-open socket; the failure is counted here, its late close event is stale.
      void client.disconnect().catch(ignore)
      this.#onClose('connect timeout')
    }, connectTimeoutMs)
    try {
      // Phoenix keeps the dead socket object after a close and connect() is a no-op while it
      // exists; disconnect() on a closed socket drops it synchronously (as Phoenix's teardown).
      if (state === 'closed') void client.disconnect().catch(ignore)
      client.connect()
    } catch (err) {
      this.#connectTimeout.cancel()
      this.#onClose(err)
    }
  }

  #onOpen(): void {
    this.#connectTimeout.cancel()
    this.#retry.cancel()
    if (this.#destroyed || this.status === 'disconnected') return // opened by someone else after we let go
    const reopened = this.#everReady
    void this.refreshAuth().then(() => {
      if (this.#destroyed || !this.#o.client.isConnected() || this.status === 'disconnected') return
      this.#ready = this.#everReady = true
      if (reopened) this.reconnects++
      this.#update('up', { attempt: 0 })
      this.#o.logger.info('connected', { reopened })
      this.#o.notify('ready')
    })
  }

  #onClose(event: unknown): void {
    const { client, logger, notify } = this.#o
    // Phoenix scheduled its own reconnect just before calling us; we own retries.
    client.reconnectTimer?.reset()
    this.#connectTimeout.cancel()
    const wasReady = this.#ready
    this.#ready = false
    if (this.#destroyed || !isLive(this.status)) return
    const reason = normalizeError(event)
    if (wasReady) {
      logger.warn('connection lost', { reason: reason.message })
      this.#update('down', { lastError: reason })
      notify('down', reason)
      return this.#schedule(1)
    }
    if (this.#retry.pending) return // a stale close of an attempt already counted
    const attempt = this.store.getSnapshot().attempt + 1
    const exhausted = attempt >= this.#o.policy().maxAttempts
    const error = createError('RECONNECT_EXHAUSTED', `could not connect after ${attempt} attempts: ${reason.message}`, { cause: reason })
    this.#update(exhausted ? 'exhausted' : undefined, { attempt, lastError: exhausted ? error : reason })
    notify('failed', error, attempt)
    if (exhausted) logger.error(error.message)
    else this.#schedule(attempt + 1)
  }

  #schedule(attempt: number): void {
    this.#retry.start(() => this.#attempt(), fullJitterDelay(attempt, this.#o.policy(), this.#o.random))
  }

  #onSignal(signal: Signal): void {
    const { client } = this.#o
    if (signal === 'offline') {
      this.#offline = true
      probe(client) // the socket may be dead without knowing it: a heartbeat finds out quickly
    } else if (signal === 'online') {
      this.#offline = false
      this.reconnectNow(signal)
    } else if (signal !== 'hidden') {
      // Visible again or restored from the back-forward cache: the tab may have slept past the
      // token's expiry. Refresh and probe a live socket; reconnect a dead one.
      if (this.#ready && client.isConnected()) void this.refreshAuth().then(() => probe(client))
      else this.reconnectNow(signal)
    }
  }
}
