import { describe, expect, test } from 'vitest'
import { eventLoopLoad } from '../src/socket/loop-load.js'

// Event-loop utilization is the process's real time: this test spins and waits (0.4 s).
describe('eventLoopLoad', () => {
  test('near 1 after a window of busy loop, low after a window of waiting', async () => {
    const load = eventLoopLoad(100)
    const spin = (ms: number) => { const end = performance.now() + ms; while (performance.now() < end); }
    spin(150)
    expect(load()).toBeGreaterThan(0.8)
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(load()).toBeLessThan(0.5)
    // Within a window the last share is kept (cheap to ask on every round).
    spin(20)
    expect(load()).toBeLessThan(0.5)
  })
})
