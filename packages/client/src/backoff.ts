/**
 * Retry delays: exponential backoff with **full jitter**.
 *
 *   delay(attempt) = random() * min(maxDelayMs, baseDelayMs * 2^(attempt - 1))
 *
 * Full jitter spreads a crowd of clients that lost the same server over the whole window instead
 * of bunching them at the same instants (neither realtime-js default has any jitter).
 * Algorithm: https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 * (centrifuge-js `utils.ts backoff` does the same).
 *
 * Two policies use it:
 * - the **socket** ({@link DEFAULT_CONNECTION_RETRY}): after a drop the first attempts come
 *   within tens of milliseconds, because most drops are short (a network switch, a proxy
 *   restart) and every second spent waiting is a second of missed updates; the window doubles
 *   only while attempts keep failing and starts over after a connection that lasted. For the
 *   first `quickRetry.forMs` after an open socket was lost the window stops growing at
 *   `quickRetry.maxDelayMs`: a client that
 *   comes back from a 2 s outage must not sit out a 1.6 s window it drew while the network was
 *   still down (the chaos bench's catch-up p99 was 3 s with plain doubling);
 * - a **channel** whose join the server refused ({@link DEFAULT_BACKOFF}, the seed's
 *   `reconnectDelay` and `maxReconnectAttempts`): a refusal (bad token, policy, rate limit)
 *   rarely clears within milliseconds, so it waits seconds.
 */

/** Settings of one retry policy. */
export interface BackoffPolicy {
  /** Window of the first retry, in ms. */
  baseDelayMs: number
  /** Upper bound of any window, in ms. */
  maxDelayMs: number
  /** Failed attempts after which the state becomes `error`. */
  maxAttempts: number
  /** The first `forMs` after a lost connection: windows of at most `maxDelayMs`. */
  quickRetry?: { forMs: number; maxDelayMs: number }
}

/** Channel rejoins after a refused or timed-out join: the seed's `reconnectDelay` (3000) and `maxReconnectAttempts` (5). */
export const DEFAULT_BACKOFF: Readonly<BackoffPolicy> = Object.freeze({
  baseDelayMs: 3000,
  maxDelayMs: 30_000,
  maxAttempts: 5,
})

/**
 * Socket reconnects: windows of 50, 100, 200, then 250 ms for the first 5 s after a lost
 * connection (about 40 attempts, as Phoenix's own `reconnectAfterMs` starts 10, 50, 100, 150,
 * 200, 250 ms), then growing to 5 s; `error` after 60 failed attempts in a row (about 50 s on
 * average, 195 s at most). The quick window was 500 ms until 2026-12-02: after a server restart
 * the wait from "the server listens again" to the socket's open was uniform over it, so half a
 * second of the chaos bench's catch-up p99 (< 1 s wanted) was this window alone.
 */
export const DEFAULT_CONNECTION_RETRY: Readonly<BackoffPolicy> = Object.freeze({
  baseDelayMs: 50,
  maxDelayMs: 5000,
  maxAttempts: 60,
  quickRetry: Object.freeze({ forMs: 5000, maxDelayMs: 250 }),
})

/** The upper bound of the jitter window for `attempt` (1-based). Pure, for tests and docs. */
export function backoffCeiling(attempt: number, policy: Pick<BackoffPolicy, 'baseDelayMs' | 'maxDelayMs'>): number {
  const exp = Math.min(30, Math.max(0, attempt - 1)) // 2^30 is far past any sane cap; avoids Infinity
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exp)
}

/** The delay before retry number `attempt` (1-based); `random` returns a number in [0, 1). */
export function fullJitterDelay(
  attempt: number,
  policy: Pick<BackoffPolicy, 'baseDelayMs' | 'maxDelayMs'>,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * backoffCeiling(attempt, policy))
}
