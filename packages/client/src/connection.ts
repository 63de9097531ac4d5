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
 * Events it emits to the manager: `ready` (socket open and token fresh), `down` (socket lost),
 * `exhausted` (gave up). Status snapshots go to {@link Connection.store}.
 */
import type { RealtimeClient } from '@supabase/realtime-js'
import { fullJitterDelay, type BackoffPolicy } from './backoff.js'
import { Timer, type Clock } from './clock.js'
import { createError, normalizeError } from './errors.js'
import type { Logger } from './logger.js'
import type { Signal, SignalSource } from './signals.js'
import { onSocketEvent, probe } from './socket-events.js'
import { Status, transition, type StatusEvent } from './status.js'
import { Emitter, Store } from './store.js'

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
}

export type ConnectionEvent = { type: 'ready' } | { type: 'down'; reason: Error } | { type: 'exhausted'; error: Error } | { type: 'attempt-failed'; attempt: number; error: Error }

export class Connection {
  readonly store: Store<ConnectionSnapshot>
  readonly events = new Emitter<ConnectionEvent>()
  /** Successful reopen count after a loss (stats). */
  reconnects = 0
  /** Successful opens (stats). */
  opens = 0

  readonly #o: ConnectionOptions
  readonly #retry: Timer
  readonly #connectTimeout: Timer
  readonly #closingPoll: Timer
  readonly #offs: Array<() => void> = []
  #ready = false
  #everReady = false
  #auth: Promise<void> | undefined
  #offline = false
  #destroyed = false

  constructor(options: ConnectionOptions) {
    this.#o = options
    this.#retry = new Timer(options.clock)
    this.#connectTimeout = new Timer(options.clock)
    this.#closingPoll = new Timer(options.clock)
    this.store = new Store<ConnectionSnapshot>({ status: Status.disconnected, attempt: 0, lastError: undefined, since: options.clock.now() })
    const { client } = options
    this.#offs.push(onSocketEvent(client, 'open', () => this.#onOpen()))
    this.#offs.push(onSocketEvent(client, 'close', (event) => this.#onClose(event)))
    this.#offs.push(onSocketEvent(client, 'error', (err) => this.#o.logger.debug('socket error', { error: normalizeError(err) })))
    if (options.signals) {
      this.#offline = options.signals.isOnline?.() === false
      this.#offs.push(options.signals.subscribe((signal) => this.#onSignal(signal)))
    }
    // An adopted client may already be connected.
    if (client.isConnected()) {
      this.#dispatch('start')
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
    if (this.#destroyed) return
    const status = this.status
    if (status === Status.disconnected || status === Status.error) {
      this.#setAttempt(0)
      this.#dispatch('start')
      this.#attempt()
    }
  }

  /** Retries now with a fresh attempt budget (manual retry, `online`, page shown again). */
  reconnectNow(reason: string): void {
    if (this.#destroyed || this.status === Status.disconnected) return
    if (this.#ready && this.#o.client.isConnected()) return
    this.#o.logger.info('reconnecting now', { reason })
    this.#setAttempt(0)
    this.#dispatch('start')
    this.#retry.cancel()
    this.#attempt()
  }

  /** Closes the socket on purpose (no leases left, cleanup). Status `disconnected`. */
  disconnect(): void {
    this.#retry.cancel()
    this.#connectTimeout.cancel()
    this.#closingPoll.cancel()
    this.#ready = false
    this.#dispatch('stop')
    if (this.#o.client.connectionState() !== 'closed') {
      this.#o.logger.debug('disconnecting socket')
      void this.#o.client.disconnect().catch((err: unknown) => this.#o.logger.warn('disconnect failed', { error: normalizeError(err) }))
    }
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
      if (accessToken) {
        const token = await accessToken()
        if (typeof token === 'string' && token) await client.setAuth(token)
        else logger.warn('accessToken callback returned no token')
      } else {
        await client.setAuth()
      }
    } catch (err) {
      const error = createError('AUTH_FAILED', 'the accessToken callback failed', { cause: err })
      logger.error('token refresh failed', { error })
      this.store.update((s) => ({ ...s, lastError: error }))
    }
  }

  destroy(): void {
    this.#destroyed = true
    this.disconnect()
    for (const off of this.#offs.splice(0)) off()
    this.events.clear()
    this.store.clear()
  }

  #dispatch(event: StatusEvent, lastError?: Error): void {
    this.store.update((s) => {
      const status = transition(s.status, event)
      if (status === s.status && lastError === undefined) return s
      return { ...s, status, since: status === s.status ? s.since : this.#o.clock.now(), lastError: lastError ?? s.lastError }
    })
  }

  #setAttempt(attempt: number): void {
    this.store.update((s) => (s.attempt === attempt ? s : { ...s, attempt }))
  }

  #attempt(): void {
    if (this.#destroyed || this.status === Status.disconnected || this.status === Status.error) return
    const { client, logger } = this.#o
    if (this.#offline) {
      logger.debug('offline: waiting for the online signal before reconnecting')
      return
    }
    const state = client.connectionState()
    if (state === 'open') {
      this.#onOpen()
      return
    }
    if (state === 'closing') {
      // realtime-js ignores connect() while the old socket closes; look again shortly.
      this.#closingPoll.start(() => this.#attempt(), 50)
      return
    }
    logger.debug('connecting', { attempt: this.store.getSnapshot().attempt + 1 })
    this.#connectTimeout.start(() => {
      logger.warn('connect timed out', { timeoutMs: this.#o.connectTimeoutMs })
      // Closing the half-open socket produces the close event that counts the failure.
      void client.disconnect().catch(() => undefined)
      this.#onClose({ reason: 'connect timeout' })
    }, this.#o.connectTimeoutMs)
    try {
      if (state === 'closed') {
        // Phoenix keeps the dead socket object after a close, and connect() is a no-op while it
        // exists; disconnect() on a closed socket drops it synchronously (what Phoenix's own
        // reconnect does with teardown()).
        void client.disconnect().catch(() => undefined)
      }
      client.connect()
    } catch (err) {
      this.#connectTimeout.cancel()
      this.#onClose(err)
    }
  }

  #onOpen(): void {
    if (this.#destroyed) return
    this.#connectTimeout.cancel()
    this.#retry.cancel()
    if (this.status === Status.disconnected) return // opened by someone else after we let go
    this.opens++
    const reopened = this.#everReady
    void this.refreshAuth().then(() => {
      if (this.#destroyed || !this.#o.client.isConnected() || this.status === Status.disconnected) return
      this.#ready = true
      this.#everReady = true
      if (reopened) this.reconnects++
      this.#setAttempt(0)
      this.#dispatch('up')
      this.#o.logger.info('connected', { reopened })
      this.events.emit({ type: 'ready' }, (err) => this.#o.logger.error('ready listener threw', { error: normalizeError(err) }))
    })
  }

  #onClose(event: unknown): void {
    if (this.#destroyed) return
    const { client, logger } = this.#o
    // Phoenix scheduled its own reconnect just before calling us; we own retries.
    client.reconnectTimer?.reset()
    this.#connectTimeout.cancel()
    const wasReady = this.#ready
    this.#ready = false
    const status = this.status
    if (status === Status.disconnected || status === Status.error) return
    const reason = normalizeError(event)
    if (wasReady) {
      logger.warn('connection lost', { reason: reason.message })
      this.#dispatch('down', reason)
      this.events.emit({ type: 'down', reason })
      this.#schedule(1)
      return
    }
    if (this.#retry.pending) return // a stale close of an attempt we already counted
    const failures = this.store.getSnapshot().attempt + 1
    this.#setAttempt(failures)
    const policy = this.#o.policy()
    const error = createError('RECONNECT_EXHAUSTED', `could not connect after ${failures} attempts`, { cause: reason })
    this.events.emit({ type: 'attempt-failed', attempt: failures, error })
    if (failures >= policy.maxAttempts) {
      logger.error('giving up reconnecting', { attempts: failures, reason: reason.message })
      this.#dispatch('exhausted', error)
      this.events.emit({ type: 'exhausted', error })
      return
    }
    this.store.update((s) => ({ ...s, lastError: reason }))
    this.#schedule(failures + 1)
  }

  #schedule(attempt: number): void {
    const delay = fullJitterDelay(attempt, this.#o.policy(), this.#o.random)
    this.#o.logger.debug('retry scheduled', { attempt, delayMs: delay })
    this.#retry.start(() => this.#attempt(), delay)
  }

  #onSignal(signal: Signal): void {
    const { logger, client } = this.#o
    logger.debug('browser signal', { signal })
    switch (signal) {
      case 'offline':
        this.#offline = true
        // The socket may be dead without knowing it: a heartbeat finds out quickly.
        probe(client)
        return
      case 'online':
        this.#offline = false
        this.reconnectNow('online')
        return
      case 'visible':
      case 'pageshow':
        if (this.#ready && client.isConnected()) {
          // Woken from sleep: refresh the token (it may have expired) and probe the socket.
          void this.refreshAuth().then(() => probe(client))
        } else {
          this.reconnectNow(signal)
        }
        return
      case 'hidden':
        return
    }
  }
}
