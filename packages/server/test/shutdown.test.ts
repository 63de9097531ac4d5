/**
 * The shutdown runner with a manual clock: steps run in order, a failed step does not stop the
 * ones after it, and a step that hangs is named in the log every five seconds until it ends.
 */
import { Writable } from 'node:stream'
import { expect, test } from 'vitest'
import { createLogger } from '../src/logger.js'
import { runShutdown, SLOW_STEP_MS } from '../src/shutdown.js'
import { ManualClock } from './support/manual-clock.js'

function recordingLogger() {
  const lines: { msg: string; step?: string; runningMs?: number }[] = []
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as (typeof lines)[number])
      done()
    },
  })
  return { logger: createLogger({ level: 'info', destination }), lines }
}

test('steps run in order; a failed step is logged and the next one still runs', async () => {
  const { logger, lines } = recordingLogger()
  const ran: string[] = []
  await runShutdown(
    [
      { name: 'sockets', run: async () => void ran.push('sockets') },
      { name: 'tenants', run: async () => { ran.push('tenants'); throw new Error('slot stop failed') } },
      { name: 'database', run: async () => void ran.push('database') },
    ],
    { logger, clock: new ManualClock() },
  )
  expect(ran).toEqual(['sockets', 'tenants', 'database'])
  expect(lines.filter((l) => l.msg === 'shutdown: step failed').map((l) => l.step)).toEqual(['tenants'])
})

test('a step that hangs is named in the log every five seconds, and only while it runs', async () => {
  const { logger, lines } = recordingLogger()
  const clock = new ManualClock()
  let finish!: () => void
  const done = runShutdown([{ name: 'http', run: () => new Promise<void>((resolve) => (finish = resolve)) }], { logger, clock })
  clock.advance(SLOW_STEP_MS - 1)
  expect(lines).toEqual([])
  clock.advance(1)
  clock.advance(SLOW_STEP_MS)
  expect(lines.map((l) => [l.msg, l.step, l.runningMs])).toEqual([
    ['shutdown: step still running', 'http', SLOW_STEP_MS],
    ['shutdown: step still running', 'http', 2 * SLOW_STEP_MS],
  ])
  finish()
  await done
  expect(clock.pending).toBe(0)
})
