/**
 * `@switchboard/client/lifecycle`: the browser lifecycle as an opt-in plug-in.
 *
 * A socket can look open long after the network under it died (sleep, a Wi-Fi switch, Chromium's
 * offline emulation), and a tab shown again may have slept past its token's expiry. Phoenix
 * notices a dead socket only at its next heartbeat timeout (`heartbeatIntervalMs`, 25 s later).
 * With this plug-in the connection listens to the browser instead:
 *
 *   offline            → no connect attempt until `online`; a heartbeat is sent (the socket may be dead)
 *   online             → a dead socket reconnects at once (fresh budget); a live one is probed
 *   visible / pageshow → the same, after refreshing the token
 *   probe              → a heartbeat unanswered within `probeTimeoutMs` drops the socket and reconnects
 *
 * Apps that do not import it do not ship it (0.43 kB gzip by `scripts/bundle-size.mjs`); without it the socket is still
 * retried on its schedule, only without the shortcuts above.
 *
 * @example
 * ```ts
 * import { configureRealtime } from '@switchboard/client'
 * import { browserLifecycle } from '@switchboard/client/lifecycle'
 *
 * configureRealtime({ url, apiKey, accessToken, plugins: [browserLifecycle()] })
 * ```
 */
import { Timer } from './clock.js'
import type { RealtimePlugin } from './manager.js'
import { browserSignals, type Signal, type SignalSource } from './signals.js'
import { pendingHeartbeat, probe } from './socket-events.js'

export { browserSignals, manualSignals } from './signals.js'
export type { Signal, SignalSource } from './signals.js'

/** Options of {@link browserLifecycle}. */
export interface LifecycleOptions {
  /** Where signals come from (default: the browser's; none in Node, where the plug-in does nothing). */
  signals?: SignalSource | undefined
  /**
   * On `online` and when the page is shown again, a heartbeat must be answered within this many
   * ms or the socket is dropped and reopened (default 2000).
   */
  probeTimeoutMs?: number | undefined
}

/**
 * The plug-in that drives the connection from browser lifecycle signals (see above). Pass it in
 * `plugins` of `configureRealtime` / `new ChannelManager()`; every manager gets its own listeners.
 */
export function browserLifecycle(options: LifecycleOptions = {}): RealtimePlugin {
  return ({ client, clock, connection }) => {
    const signals = options.signals ?? browserSignals()
    if (!signals) return undefined
    const probeTimeoutMs = options.probeTimeoutMs ?? 2000
    const deadline = new Timer(clock)
    connection.offline = signals.isOnline?.() === false

    /** Sends a heartbeat (or watches the one in flight) and drops the socket if no reply comes within `probeTimeoutMs`. */
    const verify = (reason: string): void => {
      const ref = probe(client)
      if (ref === undefined) return
      deadline.start(() => {
        // Not ready: the socket was lost meanwhile and the connection already retries.
        if (connection.ready && pendingHeartbeat(client) === ref) {
          connection.lost(`${reason}: no heartbeat reply within ${probeTimeoutMs} ms`)
          connection.reconnectNow(reason)
        }
      }, probeTimeoutMs)
    }

    const onSignal = (signal: Signal): void => {
      if (signal === 'offline') {
        connection.offline = true
        probe(client) // the socket may be dead without knowing it: a heartbeat finds out
      } else if (signal !== 'hidden') {
        connection.offline &&= signal !== 'online'
        if (!(connection.ready && client.isConnected())) return connection.reconnectNow(signal)
        // Online again, visible again or restored from the back-forward cache: the socket may be
        // half-dead, and the tab may have slept past the token's expiry. Probe at once (online);
        // refresh the token first otherwise.
        if (signal === 'online') verify(signal)
        else void connection.refreshAuth().then(() => verify(signal))
      }
    }

    const off = signals.subscribe(onSignal)
    return () => {
      off()
      deadline.cancel()
    }
  }
}
