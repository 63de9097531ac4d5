/**
 * Reconnect delays: exponential backoff with **full jitter**.
 *
 *   delay(attempt) = random() * min(maxDelayMs, baseDelayMs * 2^(attempt - 1))
 *
 * Full jitter spreads a crowd of clients that lost the same server over the whole window instead
 * of bunching them at the same instants (neither realtime-js default has any jitter).
 * Algorithm: https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 * (centrifuge-js `utils.ts backoff` does the same).
 */

/** Settings of one retry policy. */
export interface BackoffPolicy {
  /** Window of the first retry, in ms (default 3000, the issue's `reconnectDelay`). */
  baseDelayMs: number
  /** Upper bound of any window, in ms (default 30 000). */
  maxDelayMs: number
  /** Failed attempts after which the state becomes `error` (default 5). */
  maxAttempts: number
}

export const DEFAULT_BACKOFF: Readonly<BackoffPolicy> = Object.freeze({
  baseDelayMs: 3000,
  maxDelayMs: 30_000,
  maxAttempts: 5,
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
