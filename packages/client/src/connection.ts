/**
 * The socket under every channel: one realtime-js client, driven by our status machine.
 *
 * realtime-js (Phoenix) would reconnect on its own with fixed steps, no jitter, no attempt cap,
 * no re-auth on the visibility path and no reconnect while the page is hidden. This class takes
 * that over: it parks Phoenix's reconnect timer, retries on its own schedule through the injected
 * clock, gives up after `maxAttempts` (status `error`), and refreshes the token through the
 * `accessToken` callback and `setAuth` **before** announcing `ready` (which is what makes channels
 * rejoin). Browser signals (online/offline, visibility, pageshow) reach it through the opt-in
 * plug-in of `lifecycle.ts`, by the {@link ConnectionPort} it implements.
 *
 * The schedule (`backoff.ts`, {@link DEFAULT_CONNECTION_RETRY}): after an open socket is lost the
 * first attempt comes within `baseDelayMs` (50 ms, full jitter) and each failed attempt doubles
 * the window up to `maxDelayMs`. A connection that lasted {@link STABLE_MS} starts the next
 * series from the first window again; one that died sooner continues the series, so a server
 * that accepts and closes at once is not hammered every few milliseconds.
 *
 *   ready ──(close / heartbeat timeout / failed probe)──▶ down ─▶ retry in [0, 50) ms
 *     ▲                                                              │ fails
 *     └──────────── open + token refreshed ◀── retry in [0, 100), [0, 200) … [0, 5000) ms
 *                                                                    │ 60 failures in a row
 *                                                                    ▼
 *                                                           error (RECONNECT_EXHAUSTED)
 *
 * It tells the manager (`notify`): `ready` (socket open and token fresh), `down` (an open socket
 * was lost), `failed` (the policy gave up; status `error`). Status snapshots go to
 * {@link Connection.store}.
 */
import type { RealtimeClient } from '@supabase/realtime-js'
import { fullJitterDelay, type BackoffPolicy } from './backoff.js'
import { Timer, type Clock } from './clock.js'
import { createError, normalizeError } from './errors.js'
import { dropSocket, onSocketEvent } from './socket-events.js'
import { isLive, isTerminal, transition, type Status, type StatusEvent } from './status.js'
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
  /** `clock.now()` at which the next attempt is scheduled (`undefined`: none scheduled), for "retrying in 3 s" UIs. */
  retryAt: number | undefined
}

export type AccessTokenFn = () => Promise<string | null> | string | null

export type ConnectionEvent = 'ready' | 'down' | 'failed'

/** What plug-ins (`lifecycle.ts`) may do to the connection. */
export interface ConnectionPort {
  /** `true` once the socket is open and the token was refreshed for this connection. */
  readonly ready: boolean
  /** While `true` no attempt is made (the browser says it is offline); `reconnectNow` resumes. */
  offline: boolean
  /** Retries now with a fresh attempt budget. */
  reconnectNow(reason: string): void
  /** The socket is dead whatever it says: drop it and reconnect. */
  lost(reason: string): void
  refreshAuth(): Promise<void>
}

export interface ConnectionOptions {
  client: RealtimeClient
  accessToken: AccessTokenFn | undefined
  clock: Clock
  random: () => number
  /** The socket's retry policy. */
  policy: BackoffPolicy
  connectTimeoutMs: number
  notify(event: ConnectionEvent, error?: Error): void
}

/** A connection that stayed open this long was a success: the next drop retries from the first window. */
export const STABLE_MS = 1000

const ignore = (): undefined => undefined

export class Connection implements ConnectionPort {
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
  #destroyed = false
  /** Dropping a socket that was not in use (closing, or an attempt in flight): its close is no failure. */
  #dropping = false
  /** When the current socket became ready, and the failed attempts before it (see {@link STABLE_MS}). */
  #openedAt = 0
  #failuresBeforeOpen = 0
  /** When an open socket was last lost (null: none yet; see `quickRetry` in backoff.ts). */
  #lostAt: number | null = null
  offline = false

  constructor(options: ConnectionOptions) {
    const { client, clock } = options
    this.#o = options
    this.store = new Store<ConnectionSnapshot>(
      { status: 'disconnected', attempt: 0, lastError: undefined, since: clock.now(), retryAt: undefined },
      (a, b) => a.status === b.status && a.attempt === b.attempt && a.lastError === b.lastError && a.retryAt === b.retryAt,
    )
    this.#retry = new Timer(clock)
    this.#connectTimeout = new Timer(clock)
    this.#offs = [onSocketEvent(client, 'open', () => this.#onOpen()), onSocketEvent(client, 'close', (event) => this.#onClose(event))]
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

  /** Retries now with a fresh attempt budget (manual retry; `online` and page shown again, by the lifecycle plug-in). */
  reconnectNow(reason: string): void {
    if (this.#destroyed || this.status === 'disconnected' || (this.#ready && this.#o.client.isConnected())) return
    // Ready, yet the socket is gone (forgotten without a close event): report the loss first.
    if (this.#ready) this.#onClose(reason)
    this.#update('start', { attempt: 0 })
    // An attempt in flight may hang on the network that just went away (until connectTimeoutMs): start over.
    if (this.#o.client.connectionState() === 'connecting') this.#drop(reason)
    this.#attempt()
  }

  /**
   * The socket is dead whatever it says (a heartbeat went unanswered): drop it and reconnect.
   * Phoenix's own heartbeat timeout closes the socket by a handshake that a dead network never
   * completes, and may then forget the socket without a `close` event; this does not wait.
   */
  lost(reason: string): void {
    if (!this.#ready) return
    // Without Phoenix's internals, close the usual way and let its close event arrive.
    if (!dropSocket(this.#o.client, reason)) void this.#o.client.disconnect().catch(ignore)
    if (this.#ready) this.#onClose(reason)
  }

  /** Closes the socket on purpose (no leases left, cleanup). Status `disconnected`. */
  disconnect(): void {
    this.#retry.cancel()
    this.#connectTimeout.cancel()
    this.#ready = false
    this.#update('stop', { retryAt: undefined })
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
    const { client, accessToken } = this.#o
    try {
      const token = accessToken ? await accessToken() : undefined
      if (accessToken && !token) throw new Error('the accessToken callback returned no token')
      await client.setAuth(token)
    } catch (err) {
      this.#update(undefined, { lastError: createError('AUTH_FAILED', 'token refresh failed', { cause: err }) })
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
    if (this.#destroyed || !isLive(this.status) || this.offline) return // `online` resumes
    this.#update(undefined, { retryAt: undefined })
    let state = client.connectionState()
    if (state === 'open') return this.#onOpen()
    // realtime-js ignores connect() while the old socket closes (Phoenix waits for the close
    // handshake, seconds on a dead network): drop it, or look again shortly where we cannot.
    if (state === 'closing' && this.#drop('reconnecting')) state = client.connectionState()
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

  #drop(reason: string): boolean {
    this.#dropping = true
    try {
      return dropSocket(this.#o.client, reason)
    } finally {
      this.#dropping = false
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
      this.#openedAt = this.#o.clock.now()
      this.#failuresBeforeOpen = this.store.getSnapshot().attempt
      if (reopened) this.reconnects++
      this.#update('up', { attempt: 0, retryAt: undefined })
      this.#lostAt = null
      this.#o.notify('ready')
    })
  }

  #onClose(event: unknown): void {
    const { client, clock, notify } = this.#o
    // Phoenix scheduled its own reconnect just before calling us; we own retries.
    client.reconnectTimer?.reset()
    if (this.#dropping) return
    this.#connectTimeout.cancel()
    const wasReady = this.#ready
    this.#ready = false
    if (this.#destroyed || !isLive(this.status)) return
    const reason = normalizeError(event)
    if (wasReady) {
      // A connection that did not last continues the series of failures (see STABLE_MS).
      const failures = clock.now() - this.#openedAt < STABLE_MS ? this.#failuresBeforeOpen : 0
      this.#lostAt = clock.now()
      this.#update('down', { lastError: reason, attempt: failures })
      notify('down', reason)
      return this.#schedule(failures + 1)
    }
    if (this.#retry.pending) return // a stale close of an attempt already counted
    const attempt = this.store.getSnapshot().attempt + 1
    const exhausted = attempt >= this.#o.policy.maxAttempts
    if (!exhausted) {
      this.#update(undefined, { attempt, lastError: reason })
      return this.#schedule(attempt + 1)
    }
    const error = createError('RECONNECT_EXHAUSTED', `could not connect after ${attempt} attempts: ${reason.message}`, { cause: reason })
    this.#update('exhausted', { attempt, lastError: error })
    notify('failed', error)
  }

  /** Within `quickRetry.forMs` of losing an open socket (see backoff.ts). */
  #inQuickPhase(): boolean {
    const quick = this.#o.policy.quickRetry
    return quick !== undefined && this.#lostAt !== null && this.#o.clock.now() - this.#lostAt < quick.forMs
  }

  #schedule(attempt: number): void {
    const { policy } = this.#o
    const window = this.#inQuickPhase() ? { baseDelayMs: policy.baseDelayMs, maxDelayMs: Math.min(policy.maxDelayMs, policy.quickRetry!.maxDelayMs) } : policy
    const delay = fullJitterDelay(attempt, window, this.#o.random)
    this.#update(undefined, { retryAt: this.#o.clock.now() + delay })
    this.#retry.start(() => this.#attempt(), delay)
  }
}
