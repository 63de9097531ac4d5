/**
 * The server's shutdown: named steps run one after another, each watched. A step that fails is
 * logged and the next one runs (a half-stopped server must still release its port and its
 * database connections); a step still running after `SLOW_STEP_MS` is logged by name, and again
 * every `SLOW_STEP_MS`, so a shutdown that hangs says where it hangs.
 *
 * ```ts
 * await runShutdown([{ name: 'http', run: () => app.close() }], { logger, clock })
 * ```
 */
import type { Clock } from './clock.js'
import type { Logger } from './logger.js'

export interface ShutdownStep {
  name: string
  run(): Promise<void>
}

/** How long a step may run before the log says it is slow. */
export const SLOW_STEP_MS = 5_000

export async function runShutdown(steps: readonly ShutdownStep[], deps: { logger: Logger; clock: Clock }): Promise<void> {
  for (const step of steps) {
    const started = deps.clock.now()
    let timer = deps.clock.setTimeout(function slow() {
      deps.logger.warn({ step: step.name, runningMs: deps.clock.now() - started }, 'shutdown: step still running')
      timer = deps.clock.setTimeout(slow, SLOW_STEP_MS)
    }, SLOW_STEP_MS)
    try {
      await step.run()
    } catch (error) {
      deps.logger.error({ err: error, step: step.name }, 'shutdown: step failed')
    } finally {
      deps.clock.clearTimeout(timer)
    }
  }
}
