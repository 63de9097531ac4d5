/**
 * The stream tracker on wire fixtures (the raw payloads realtime-js hands its channel's
 * `onMessage` hook): join replies, positioned changes and broadcasts, live statuses.
 */
import { describe, expect, it } from 'vitest'
import { formatStreamPoint, RESUME_KEY } from '@switchboard/protocol'
import { StreamPosition, type RawPayload } from '../src/stream-position.js'

const lsn = (n: number, index = 0) => formatStreamPoint(0x16b3748n + BigInt(n), index)
const reply = (epoch: string): RawPayload => ({ response: { postgres_changes: [], [RESUME_KEY]: { epoch, resuming: false } } })
const change = (position: number, ids: number[], point?: string): RawPayload => ({ ids, switchboard: { position, ...(point && { lsn: point }) } })
const broadcast = (position: number, point?: string): RawPayload => ({ meta: { switchboard: { position, ...(point && { lsn: point }) } } })
const status = (code: string, epoch: string, position: number, point: string, extra: Record<string, unknown> = {}): RawPayload =>
  ({ extension: RESUME_KEY, status: 'ok', code, message: '', channel: 'c', epoch, position, lsn: point, ...extra }) as RawPayload

describe('StreamPosition', () => {
  it('knows from the join reply whether the server speaks positions', () => {
    const s = new StreamPosition()
    expect(s.reply({ response: { postgres_changes: [] } })).toBe(false)
    expect(s.reply(undefined)).toBe(false)
    expect(s.epoch).toBeUndefined()
    expect(s.reply(reply('e1'))).toBe(true)
    expect(s.epoch).toBe('e1')
    expect(s.resumePoint()).toBeNull() // nothing received yet
  })

  it('read(): one join as the channel feeds it (reply, status, messages), and join() starts the next one afresh', () => {
    const s = new StreamPosition()
    expect(s.join()).toBeNull()
    expect(s.read('postgres_changes', change(3, [1]))).toBe(false)
    expect(s.drop).toBe(true) // positioned before the reply: an older join's
    expect(s.read('phx_reply', reply('e1'))).toBe(false)
    expect(s.speaks).toBe(true)
    expect(s.read('system', { extension: 'postgres_changes', status: 'ok', message: 'Subscribed to PostgreSQL' } as RawPayload)).toBe(false)
    expect(s.live).toBeUndefined()
    expect(s.read('system', status('Fresh', 'e1', 10, lsn(1)))).toBe(true)
    expect(s.live).toMatchObject({ code: 'Fresh', position: 10 })
    expect(s.read('postgres_changes', change(11, [1], lsn(2)))).toBe(false)
    expect([s.drop, s.mark]).toEqual([false, { position: 11, lsn: lsn(2) }])
    s.read('postgres_changes', change(11, [1], lsn(2)))
    expect(s.drop).toBe(true) // the same change again
    expect(s.read('broadcast', { event: 'x', payload: {} } as RawPayload)).toBe(false)
    expect(s.drop).toBe(false) // unpositioned: never a duplicate

    expect(s.join()).toEqual({ epoch: 'e1', position: 11, lsn: lsn(2) })
    expect([s.speaks, s.live, s.drop, s.mark]).toEqual([false, undefined, false, undefined])
  })

  it('takes the live status of the resume contract only', () => {
    const s = new StreamPosition()
    s.reply(reply('e1'))
    expect(s.status({ extension: 'postgres_changes', status: 'error', message: 'x' } as RawPayload)).toBeUndefined()
    expect(s.status({ extension: RESUME_KEY } as RawPayload)).toBeUndefined() // no code
    const live = s.status(status('Fresh', 'e1', 10, lsn(1)))
    expect(live).toMatchObject({ code: 'Fresh', position: 10 })
    expect(s.resumePoint()).toEqual({ epoch: 'e1', position: 10, lsn: lsn(1) })
  })

  it('drops messages at or below the last position; one change may come as several messages at one position', () => {
    const s = new StreamPosition()
    s.reply(reply('e1'))
    s.status(status('Fresh', 'e1', 10, lsn(1)))
    expect(s.duplicate('broadcast', broadcast(10))).toBe(true) // at the status position
    expect(s.duplicate('broadcast', broadcast(11))).toBe(false)
    expect(s.duplicate('broadcast', broadcast(11))).toBe(true)
    expect(s.duplicate('postgres_changes', change(12, [1]))).toBe(false)
    expect(s.duplicate('postgres_changes', change(12, [2]))).toBe(false) // another payload variant of change 12
    expect(s.duplicate('postgres_changes', change(12, [1]))).toBe(true)
    expect(s.duplicate('postgres_changes', change(9, [3]))).toBe(true)
    expect(s.duplicate('presence_diff', { joins: {} } as RawPayload)).toBe(false) // not positioned
    expect(s.position).toBe(12)
  })

  it('keeps the newest well-formed stream point, from messages and statuses', () => {
    const s = new StreamPosition()
    s.reply(reply('e1'))
    s.status(status('Fresh', 'e1', 1, lsn(1)))
    s.duplicate('postgres_changes', change(2, [1], lsn(5, 0)))
    s.duplicate('postgres_changes', change(3, [1], lsn(5, 1))) // same commit, next change
    expect(s.lsn).toBe(lsn(5, 1))
    s.duplicate('broadcast', broadcast(4, lsn(5, 1))) // a broadcast carries the newest change's point
    s.duplicate('broadcast', broadcast(5, '0/16B3748')) // malformed (pg_lsn text, not a stream point)
    s.duplicate('broadcast', broadcast(6, lsn(2))) // older: not kept
    expect(s.lsn).toBe(lsn(5, 1))
    expect(s.resumePoint()).toEqual({ epoch: 'e1', position: 6, lsn: lsn(5, 1) })
  })

  it('a status does not move the position back (Fresh gives the join position; replayed messages may be past it)', () => {
    const s = new StreamPosition()
    s.reply(reply('e1'))
    s.duplicate('broadcast', broadcast(7))
    s.status(status('Fresh', 'e1', 5, lsn(0)))
    expect(s.position).toBe(7)
    expect(s.duplicate('broadcast', broadcast(6))).toBe(true)
    s.status(status('Gap', 'e1', 30, lsn(0), { reason: 'evicted' }))
    expect(s.position).toBe(30)
  })

  it('a new epoch restarts deduplication at its reply, and keeps the old point to resume from until the new epoch delivers', () => {
    const s = new StreamPosition()
    s.reply(reply('e1'))
    s.duplicate('broadcast', broadcast(41, lsn(2)))
    expect(s.reply(reply('e2'))).toBe(true) // the server restarted
    expect(s.position).toBe(-1)
    // A break before anything of e2 arrived: resume from e1's point (its lsn lets e2 replay changes).
    expect(s.resumePoint()).toEqual({ epoch: 'e1', position: 41, lsn: lsn(2) })
    expect(s.duplicate('postgres_changes', change(1, [1], lsn(3)))).toBe(false) // replayed before the status
    const live = s.status(status('Resumed', 'e2', 2, lsn(3), { replayed: 1, lost: ['broadcast'] }))
    expect(live).toMatchObject({ code: 'Resumed', lost: ['broadcast'] })
    expect(s.duplicate('broadcast', broadcast(3))).toBe(false)
    expect(s.resumePoint()).toEqual({ epoch: 'e2', position: 3, lsn: lsn(3) })
  })

  it('a status naming another epoch than the reply also restarts deduplication', () => {
    const s = new StreamPosition()
    s.reply(reply('e1'))
    s.duplicate('broadcast', broadcast(50))
    s.status(status('Gap', 'e2', 4, lsn(0), { reason: 'epoch' }))
    expect(s.epoch).toBe('e2')
    expect(s.position).toBe(4)
    expect(s.duplicate('broadcast', broadcast(5))).toBe(false)
  })

  it('a new join drops positioned messages until its reply (an older join of the topic sent them), then takes its replay', () => {
    const s = new StreamPosition()
    s.reply(reply('e1'))
    s.status(status('Fresh', 'e1', 40, lsn(1)))
    expect(s.rewind({ epoch: 'e1', position: 11 })).toBe(true) // another tab resumes from 11
    expect(s.join()).toEqual({ epoch: 'e1', position: 11 })
    expect(s.duplicate('postgres_changes', change(41, [1]))).toBe(true) // queued for the old join, after its leave
    expect(s.duplicate('broadcast', broadcast(42))).toBe(true)
    expect(s.duplicate('presence_diff', { joins: {} } as RawPayload)).toBe(false) // not positioned
    expect(s.position).toBe(11)
    expect(s.reply(reply('e1'))).toBe(true)
    for (let n = 12; n <= 42; n++) expect(s.duplicate('postgres_changes', change(n, [1]))).toBe(false) // the replay
    expect(s.resumePoint()).toEqual({ epoch: 'e1', position: 42 })
  })
})
