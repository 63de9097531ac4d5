/**
 * When a worker that died unexpectedly is started again (`switchboard start --workers N`): a
 * pure decision over the times of its recent crashes, so the supervisor stays a thin shell and
 * the policy is tested with plain numbers.
 *
 *   crash ──► crashes in the last window < maxPerWindow ? ──yes──► restart after
 *                                                               min(maxDelay, baseDelay·2^crashes)
 *                                                         ──no───► give up (the pool stops)
 *
 * Why a window and not a lifetime count: a worker that crashes once a day should come back
 * at once every time, while one that crashes on start (a bad database URL, a port taken by
 * something else, a bug hit by every request) must not spin a core forever. Why giving up
 * stops everything rather than running on with fewer workers: the workers share one
 * configuration, so a crash loop is almost never one worker's problem, and a process that
 * exits non-zero is what systemd, Kubernetes or a container runtime know how to report and
 * restart (with their own backoff). The delays double like Phoenix's rejoin timer and
 * systemd's RestartSteps; no jitter, since there is one supervisor, not a thundering herd.
 */

export interface RestartPolicy {
  /** Delay before the first restart in a window. */
  baseDelayMs: number
  /** Delays double with each recent crash up to this. */
  maxDelayMs: number
  /** Crashes of one worker within `windowMs` that are still restarted; one more gives up. */
  maxPerWindow: number
  windowMs: number
}

/** 0.5 s, 1 s, 2 s, 4 s, 8 s; the 6th crash of one worker within a minute stops the pool. */
export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  baseDelayMs: 500,
  maxDelayMs: 10_000,
  maxPerWindow: 5,
  windowMs: 60_000,
}

export type RestartDecision =
  /** Start the worker again after `delayMs`; `crashes` is the history to keep (this one included). */
  | { action: 'restart'; delayMs: number; crashes: number[] }
  | { action: 'give-up'; crashes: number[] }

/**
 * Decides what to do about a worker that crashed at `now`, given the times of its earlier
 * crashes (older ones outside the window are dropped from the returned history).
 *
 * @example
 * let crashes: number[] = []
 * const decision = decideRestart(crashes, clock.now(), DEFAULT_RESTART_POLICY)
 * crashes = decision.crashes
 * if (decision.action === 'restart') clock.setTimeout(fork, decision.delayMs)
 */
export function decideRestart(previous: readonly number[], now: number, policy: RestartPolicy = DEFAULT_RESTART_POLICY): RestartDecision {
  const recent = previous.filter((time) => time > now - policy.windowMs)
  if (recent.length >= policy.maxPerWindow) return { action: 'give-up', crashes: [...recent, now] }
  const delayMs = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** recent.length)
  return { action: 'restart', delayMs, crashes: [...recent, now] }
}
