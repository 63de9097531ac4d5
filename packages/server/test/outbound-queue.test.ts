import { describe, expect, test } from 'vitest'
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import { FlushScheduler, OutboundQueue, type OutFrame } from '../src/socket/outbound-queue.js'
import { ManualClock } from './support/manual-clock.js'

/** RFC 6455 §5.2 server frame (FIN, no mask), written out by hand to check the queue's bytes. */
function rfcFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length
  const header = n < 126 ? Buffer.from([0x80 | opcode, n]) : n < 65536 ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 0xff]) : Buffer.alloc(10)
  if (n >= 65536) {
    header[0] = 0x80 | opcode
    header[1] = 127
    header.writeUInt32BE(n, 6)
  }
  return Buffer.concat([header, payload])
}

function fakeSocket() {
  const writes: Buffer[] = []
  const ws = { readyState: 1, OPEN: 1, bufferedAmount: 0 } as unknown as WebSocket
  const raw = { write: (chunk: Buffer) => (writes.push(chunk), true), cork() {}, uncork() {} } as unknown as Duplex
  return { ws, raw, writes }
}

const flushTurn = () => new Promise((resolve) => setImmediate(resolve))

describe('OutboundQueue', () => {
  test('writes all frames of a turn with one write, byte-identical to RFC framing', async () => {
    const scheduler = new FlushScheduler()
    const { ws, raw, writes } = fakeSocket()
    const queue = new OutboundQueue(ws, raw, scheduler, 1 << 24, () => {})
    const text = 'x'.repeat(5)
    const medium = Buffer.alloc(200, 7)
    const large = Buffer.alloc(70_000, 9)
    queue.push({ data: text, binary: false })
    queue.push({ data: medium, binary: true })
    queue.push({ data: large, binary: true })
    await flushTurn()
    expect(writes).toHaveLength(1)
    expect(writes[0]).toEqual(Buffer.concat([rfcFrame(1, Buffer.from(text)), rfcFrame(2, medium), rfcFrame(2, large)]))
    expect(scheduler.framesWritten).toBe(3)
    expect(scheduler.bytesWritten).toBe(5 + 200 + 70_000)
  })

  test('a fan-out frame is framed once; sockets with the same frames share one Buffer', async () => {
    const scheduler = new FlushScheduler()
    const a = fakeSocket()
    const b = fakeSocket()
    const qa = new OutboundQueue(a.ws, a.raw, scheduler, 1 << 24, () => {})
    const qb = new OutboundQueue(b.ws, b.raw, scheduler, 1 << 24, () => {})
    const one: OutFrame = { data: Buffer.from('{"a":1}'), binary: false }
    const two: OutFrame = { data: Buffer.from([4, 1, 2]), binary: true }
    for (const q of [qa, qb]) {
      q.push(one)
      q.push(two)
    }
    await flushTurn()
    expect(a.writes[0]).toBe(b.writes[0])
    expect(a.writes[0]).toEqual(Buffer.concat([rfcFrame(1, one.data as Buffer), rfcFrame(2, two.data as Buffer)]))
    // Different frames are never shared.
    qa.push(one)
    qb.push(two)
    await flushTurn()
    expect(a.writes[1]).toEqual(rfcFrame(1, one.data as Buffer))
    expect(b.writes[1]).toEqual(rfcFrame(2, two.data as Buffer))
  })

  test('lists reused round after round: every socket gets exactly its frames, in order, once (shared writes, a direct flush between rounds, a 1,000-frame round)', async () => {
    const scheduler = new FlushScheduler()
    const sockets = Array.from({ length: 4 }, () => fakeSocket())
    const queues = sockets.map((s) => new OutboundQueue(s.ws, s.raw, scheduler, 1 << 30, () => {}))
    const expected: Buffer[][] = sockets.map(() => [])
    const frames = Array.from({ length: 6 }, (_, i): OutFrame => ({ data: Buffer.from(`{"n":${i}}`), binary: false }))
    let seed = 7
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n)
    for (let round = 0; round < 60; round++) {
      // Sockets 0 and 1 get the same frames (a room: one shared Buffer), 2 and 3 their own.
      const roomFrames = Array.from({ length: random(4) }, () => frames[random(frames.length)]!)
      for (let s = 0; s < 4; s++) {
        const own = s < 2 ? roomFrames : Array.from({ length: round === 30 && s === 3 ? 1_000 : random(4) }, () => frames[random(frames.length)]!)
        for (const frame of own) {
          queues[s]!.push(frame)
          expected[s]!.push(rfcFrame(1, frame.data as Buffer))
        }
      }
      // Now and then a socket is flushed outside a round (a close flushes what is queued), then gets more.
      if (round % 7 === 3) {
        queues[2]!.flush()
        queues[2]!.push(frames[0]!)
        expected[2]!.push(rfcFrame(1, frames[0]!.data as Buffer))
      }
      await flushTurn()
    }
    sockets.forEach((s, i) => expect(Buffer.concat(s.writes)).toEqual(Buffer.concat(expected[i]!)))
  })

  test('nothing is written to a socket that is no longer open or to a closed queue', async () => {
    const scheduler = new FlushScheduler()
    const s = fakeSocket()
    const queue = new OutboundQueue(s.ws, s.raw, scheduler, 1 << 24, () => {})
    queue.push({ data: 'a', binary: false })
    ;(s.ws as unknown as { readyState: number }).readyState = 2
    await flushTurn()
    expect(s.writes).toHaveLength(0)
    queue.close()
    queue.push({ data: 'b', binary: false })
    await flushTurn()
    expect(s.writes).toHaveLength(0)
  })

  test('a slow reader overflows: frames dropped, onOverflow called once', () => {
    const scheduler = new FlushScheduler()
    const s = fakeSocket()
    let overflows = 0
    const queue = new OutboundQueue(s.ws, s.raw, scheduler, 10, () => overflows++)
    queue.push({ data: 'x'.repeat(8), binary: false })
    queue.push({ data: 'x'.repeat(8), binary: false })
    queue.push({ data: 'x'.repeat(8), binary: false })
    expect(overflows).toBe(1)
  })

  /** `count` sockets whose writes each take `msPerWrite` of the clock, as socket writes under load would. */
  function slowFleet(clock: ManualClock, scheduler: FlushScheduler, count: number, msPerWrite: number) {
    return Array.from({ length: count }, () => {
      const s = fakeSocket()
      const write = s.raw.write.bind(s.raw)
      s.raw.write = ((chunk: Buffer) => { clock.time += msPerWrite; return write(chunk) }) as Duplex['write']
      return { ...s, queue: new OutboundQueue(s.ws, s.raw, scheduler, 1 << 24, () => {}) }
    })
  }
  const frame = (text: string): OutFrame => ({ data: text, binary: false })

  test('write rounds of many sockets are paced while the loop is busy: after a round of 10 ms the next starts 20 ms after it began, and takes what came meanwhile in one write', async () => {
    const clock = new ManualClock(1_000)
    const scheduler = new FlushScheduler(clock, () => 0.95, () => clock.time)
    // 64 sockets of 10/64 ms each: a round of all of them takes 10 ms.
    const fleet = slowFleet(clock, scheduler, 64, 10 / 64)
    const [a, b] = [fleet[0]!, fleet[1]!]
    // First round: nothing before it, so on the next turn (t 1000 → 1010).
    for (const s of fleet) s.queue.push(frame('f1'))
    await flushTurn()
    expect(fleet.every((s) => s.writes.length === 1)).toBe(true)
    // More frames at once: they wait for the round at 1000 + 2 × 10, and go in one write per socket.
    for (const s of fleet) s.queue.push(frame('f2'))
    a.queue.push(frame('f3'))
    await flushTurn()
    expect(a.writes).toHaveLength(1)
    clock.advance(9)
    await flushTurn()
    expect(a.writes).toHaveLength(1)
    clock.advance(1)
    expect(a.writes).toHaveLength(2)
    expect(a.writes[1]).toEqual(Buffer.concat([rfcFrame(1, Buffer.from('f2')), rfcFrame(1, Buffer.from('f3'))]))
    expect(b.writes[1]).toEqual(rfcFrame(1, Buffer.from('f2')))
    // A round of under 2 ms (one socket, its write takes no time) is not paced: the next one runs on the next turn.
    const fast = fakeSocket()
    const qf = new OutboundQueue(fast.ws, fast.raw, scheduler, 1 << 24, () => {})
    clock.advance(100)
    qf.push(frame('f4'))
    await flushTurn()
    qf.push(frame('f5'))
    await flushTurn()
    expect(fast.writes).toHaveLength(2)
    expect(clock.pending).toBe(0)
  })

  test('a round is paced by what it cost: 60 ms of wall time of which 10 ms of CPU (the process lost its core) is followed 10 ms after it ended, not 60', async () => {
    const clock = new ManualClock(1_000)
    let cpuMs = 0
    const scheduler = new FlushScheduler(clock, () => 0.95, () => cpuMs)
    const fleet = Array.from({ length: 64 }, () => {
      const s = fakeSocket()
      const write = s.raw.write.bind(s.raw)
      s.raw.write = ((chunk: Buffer) => {
        clock.time += 60 / 64
        cpuMs += 10 / 64
        return write(chunk)
      }) as Duplex['write']
      return { ...s, queue: new OutboundQueue(s.ws, s.raw, scheduler, 1 << 24, () => {}) }
    })
    const a = fleet[0]!
    for (const s of fleet) s.queue.push(frame('f1'))
    await flushTurn() // the round runs 1000 → 1060, 10 ms of it on the CPU
    a.queue.push(frame('f2'))
    await flushTurn()
    clock.advance(9)
    await flushTurn()
    expect(a.writes).toHaveLength(1)
    clock.advance(1)
    expect(a.writes).toHaveLength(2)
  })

  test('a paced wait ends once the writes are full: 16 frames per waiting socket on average start the next round after the turn, with every frame in one write', async () => {
    const clock = new ManualClock(1_000)
    const scheduler = new FlushScheduler(clock, () => 0.95, () => clock.time)
    const fleet = slowFleet(clock, scheduler, 64, 10 / 64)
    for (const s of fleet) s.queue.push(frame('f1'))
    await flushTurn() // a round of 10 ms: the next waits until 1,020
    // 15 frames per socket: the wait goes on.
    for (let i = 0; i < 15; i++) for (const s of fleet) s.queue.push(frame(`a${i}`))
    await flushTurn()
    expect(fleet[0]!.writes).toHaveLength(1)
    expect(clock.pending).toBe(1)
    // Half the sockets get one more each: 992 frames, under 64 x 16.
    for (const s of fleet.slice(0, 32)) s.queue.push(frame('b'))
    await flushTurn()
    expect(fleet[0]!.writes).toHaveLength(1)
    // The other half: 1,024 frames, 16 per socket. Every frame pushed in this turn still goes in the round.
    for (const s of fleet.slice(32)) s.queue.push(frame('b'))
    fleet[0]!.queue.push(frame('c'))
    expect(fleet[63]!.writes).toHaveLength(1) // not within the turn
    await flushTurn()
    expect(clock.time).toBe(1_020) // the round ran 1,010 to 1,020, not from 1,020 when the wait would have ended
    expect(clock.pending).toBe(0) // the wait's timer is gone
    for (const s of fleet) expect(s.writes).toHaveLength(2)
    expect(fleet[0]!.writes[1]).toEqual(Buffer.concat([...Array.from({ length: 15 }, (_, i) => `a${i}`), 'b', 'c'].map((t) => rfcFrame(1, Buffer.from(t)))))
    // That round cost 10 ms as well: the next wait starts afresh, and its count with it.
    for (let i = 0; i < 15; i++) for (const s of fleet) s.queue.push(frame(`d${i}`))
    await flushTurn()
    expect(fleet[0]!.writes).toHaveLength(2)
    clock.advance(9)
    expect(fleet[0]!.writes).toHaveLength(2)
    clock.advance(1) // 1,010 + 2 x 10
    expect(fleet[0]!.writes).toHaveLength(3)
  })

  test('a round of fewer than 64 writes is not paced, however long it took (its time is bytes)', async () => {
    const clock = new ManualClock(1_000)
    const scheduler = new FlushScheduler(clock, () => 1, () => clock.time)
    const fleet = slowFleet(clock, scheduler, 20, 5) // a round of 100 ms
    for (const s of fleet) s.queue.push(frame('a'))
    await flushTurn()
    for (const s of fleet) s.queue.push(frame('b'))
    await flushTurn()
    expect(fleet.every((s) => s.writes.length === 2)).toBe(true)
    expect(clock.pending).toBe(0)
  })

  test('rounds are paced only while the loop is busy: on over 0.9, off under 0.6', async () => {
    const clock = new ManualClock(1_000)
    let load = 0.5
    const scheduler = new FlushScheduler(clock, () => load, () => clock.time)
    // Every round writes 64 sockets and takes 10 ms: long and wide enough to be paced.
    const fleet = slowFleet(clock, scheduler, 64, 10 / 64)
    const s = fleet[0]!
    /** Pushes a frame to every socket; whether the first was written on the next turn (else it waits for a paced round). */
    const pushWrittenAtOnce = async () => {
      const before = s.writes.length
      for (const f of fleet) f.queue.push(frame('x'))
      await flushTurn()
      return s.writes.length > before
    }
    expect(await pushWrittenAtOnce()).toBe(true) // the first round: nothing before it
    expect(await pushWrittenAtOnce()).toBe(true) // the loop was not busy: no pacing
    load = 0.95
    expect(await pushWrittenAtOnce()).toBe(true) // this round ends with the loop busy: pacing starts
    expect(await pushWrittenAtOnce()).toBe(false) // 20 ms after the last round began
    clock.advance(9)
    expect(s.writes).toHaveLength(3)
    clock.advance(1)
    expect(s.writes).toHaveLength(4)
    // (advance ends at the time it was asked for: that round began at 1,040, and the clock reads 1,040.)
    load = 0.7 // between the bounds: still paced
    expect(await pushWrittenAtOnce()).toBe(false)
    clock.advance(19)
    expect(s.writes).toHaveLength(4)
    clock.advance(1)
    expect(s.writes).toHaveLength(5)
    load = 0.5 // under the lower bound: the round that follows ends the pacing
    expect(await pushWrittenAtOnce()).toBe(false)
    clock.advance(20)
    expect(s.writes).toHaveLength(6)
    expect(await pushWrittenAtOnce()).toBe(true)
    expect(clock.pending).toBe(0)
  })
})
