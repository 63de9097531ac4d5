/**
 * The primary's state machine with fake worker processes and a fake clock; the real processes
 * (node:cluster, signals, one port) are tested through the CLI in cli-workers.test.ts.
 */
import { describe, expect, test } from 'vitest'
import { ManualClock } from '../support/manual-clock.js'
import { silentLogger } from '../../src/logger.js'
import { decideRestart, DEFAULT_RESTART_POLICY } from '../../src/workers/restart-policy.js'
import { WorkerSupervisor, type ListenAddress, type WorkerProcess } from '../../src/workers/worker-supervisor.js'

let nextPid = 100

class FakeWorker implements WorkerProcess {
  readonly pid = nextPid++
  signals: NodeJS.Signals[] = []
  exited = false
  #listening: ((address: ListenAddress) => void) | null = null
  #exit: ((code: number | null, signal: NodeJS.Signals | null) => void) | null = null
  constructor(readonly index: number) {}
  kill(signal: NodeJS.Signals): void {
    if (!this.exited) this.signals.push(signal)
  }
  onListening(listener: (address: ListenAddress) => void): void {
    this.#listening = listener
  }
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void {
    this.#exit = listener
  }
  listen(): void {
    this.#listening?.({ address: '127.0.0.1', port: 4000 })
  }
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    this.exited = true
    this.#exit?.(code, signal)
  }
}

function pool(count: number, shutdownTimeoutMs = 30_000) {
  const clock = new ManualClock()
  const forked: FakeWorker[] = []
  const supervisor = new WorkerSupervisor({
    count,
    clock,
    logger: silentLogger,
    shutdownTimeoutMs,
    fork: (index) => {
      const worker = new FakeWorker(index)
      forked.push(worker)
      return worker
    },
  })
  const live = (index: number) => forked.filter((w) => w.index === index).at(-1)!
  return { clock, forked, supervisor, live }
}

async function started(count: number) {
  const p = pool(count)
  const start = p.supervisor.start()
  for (const worker of p.forked) worker.listen()
  await expect(start).resolves.toEqual({ address: '127.0.0.1', port: 4000 })
  return p
}

describe('restart policy', () => {
  test('doubling delays inside the window, give-up past the bound, old crashes forgotten', () => {
    let crashes: number[] = []
    const delays: number[] = []
    for (let i = 0; i < 5; i++) {
      const decision = decideRestart(crashes, i * 1_000)
      expect(decision.action).toBe('restart')
      if (decision.action === 'restart') delays.push(decision.delayMs)
      crashes = decision.crashes
    }
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 8_000])
    expect(decideRestart(crashes, 5_000).action).toBe('give-up')
    // A minute after the first crash it has left the window: room for one more restart.
    expect(decideRestart(crashes, 60_000)).toEqual({ action: 'restart', delayMs: 8_000, crashes: [1_000, 2_000, 3_000, 4_000, 60_000] })
    expect(decideRestart([], 0, { ...DEFAULT_RESTART_POLICY, baseDelayMs: 4_000, maxDelayMs: 5_000 }).action).toBe('restart')
    expect(decideRestart([0, 1], 2, { ...DEFAULT_RESTART_POLICY, baseDelayMs: 4_000, maxDelayMs: 5_000 })).toMatchObject({ delayMs: 5_000 })
  })
})

describe('WorkerSupervisor', () => {
  test('forks N workers and is running once all of them listen', async () => {
    const { supervisor, forked } = await started(3)
    expect(forked.map((w) => w.index)).toEqual([1, 2, 3])
    expect(supervisor.state).toBe('running')
    expect(supervisor.workers().map((w) => w.state)).toEqual(['listening', 'listening', 'listening'])
  })

  test('stop forwards the signal and resolves when every worker has exited', async () => {
    const { supervisor, forked } = await started(2)
    const done = supervisor.stop('SIGINT')
    expect(forked.map((w) => w.signals)).toEqual([['SIGINT'], ['SIGINT']])
    forked[0]!.exit(0)
    expect(supervisor.state).toBe('stopping')
    forked[1]!.exit(0)
    await expect(done).resolves.toEqual({ code: 0, reason: 'stopped by SIGINT' })
    expect(supervisor.state).toBe('stopped')
  })

  test('a worker killed by the forwarded signal (no handler yet) is a clean exit; any other is not', async () => {
    const a = await started(2)
    const doneA = a.supervisor.stop('SIGTERM')
    a.forked[0]!.exit(null, 'SIGTERM')
    a.forked[1]!.exit(0)
    expect((await doneA).code).toBe(0)

    const b = await started(2)
    const doneB = b.supervisor.stop('SIGTERM')
    b.forked[0]!.exit(1)
    b.forked[1]!.exit(0)
    expect(await doneB).toEqual({ code: 1, reason: 'worker 1 exited with code 1 while stopping' })
  })

  test('workers that ignore the signal are killed after the shutdown timeout', async () => {
    const { supervisor, forked, clock } = await started(2)
    const done = supervisor.stop('SIGTERM')
    forked[0]!.exit(0)
    clock.advance(29_999)
    expect(forked[1]!.signals).toEqual(['SIGTERM'])
    clock.advance(1)
    expect(forked[1]!.signals).toEqual(['SIGTERM', 'SIGKILL'])
    forked[1]!.exit(null, 'SIGKILL')
    expect(await done).toEqual({ code: 1, reason: 'workers did not stop within 30000 ms' })
  })

  test('a worker that dies is restarted after a backoff, keeping its number', async () => {
    const { supervisor, forked, clock, live } = await started(2)
    const first = live(2)
    first.exit(null, 'SIGKILL')
    expect(supervisor.workers()[1]).toMatchObject({ index: 2, state: 'backoff', pid: undefined })
    clock.advance(499)
    expect(forked).toHaveLength(2)
    clock.advance(1)
    expect(forked).toHaveLength(3)
    expect(live(2)).not.toBe(first)
    live(2).listen()
    expect(supervisor.workers()[1]).toMatchObject({ index: 2, state: 'listening', pid: live(2).pid, restarts: 1 })
    expect(supervisor.state).toBe('running')
  })

  test('a worker crashing in a loop makes the pool give up and stop the others', async () => {
    const { supervisor, clock, live } = await started(2)
    for (const delay of [500, 1_000, 2_000, 4_000, 8_000]) {
      live(1).exit(1)
      clock.advance(delay)
    }
    const survivor = live(2)
    live(1).exit(1) // the 6th crash within a minute
    expect(survivor.signals).toEqual(['SIGTERM'])
    survivor.exit(0)
    expect(await supervisor.done).toEqual({ code: 1, reason: 'worker 1 crashed 6 times within 60 s' })
  })

  test('a worker that exits before it ever listened fails the start and stops the pool', async () => {
    const { supervisor, forked } = pool(2)
    const start = supervisor.start()
    forked[1]!.listen()
    forked[0]!.exit(1)
    await expect(start).rejects.toThrow('worker 1 exited with code 1 before it listened')
    expect(forked[1]!.signals).toEqual(['SIGTERM'])
    forked[1]!.exit(0)
    expect(await supervisor.done).toEqual({ code: 1, reason: 'worker 1 exited with code 1 before it listened' })
  })

  test('a stop during a restart backoff cancels the restart', async () => {
    const { supervisor, forked, clock, live } = await started(2)
    live(1).exit(1)
    const done = supervisor.stop('SIGTERM')
    live(2).exit(0)
    expect(await done).toEqual({ code: 0, reason: 'stopped by SIGTERM' })
    clock.advance(60_000)
    expect(forked).toHaveLength(2)
  })
})
