import { describe, expect, test } from 'vitest'
import { PresenceTopic, nextPresenceRef } from '../src/presence/presence-topic.js'

const plain = (value: unknown) => JSON.parse(JSON.stringify(value))

describe('PresenceTopic: presence state and diffs (pure)', () => {
  test('a track joins under its key', () => {
    const topic = new PresenceTopic<string>()
    const diff = topic.track('chan-1', 'ann', { online: true }, 'r1')
    expect(plain(diff)).toEqual({ joins: { ann: { metas: [{ online: true, phx_ref: 'r1' }] } }, leaves: {} })
    expect(plain(topic.state())).toEqual({ ann: { metas: [{ online: true, phx_ref: 'r1' }] } })
  })

  test('re-tracking a new payload is an update: new meta joins with phx_ref_prev, old leaves', () => {
    const topic = new PresenceTopic<string>()
    topic.track('chan-1', 'ann', { status: 'here' }, 'r1')
    const diff = topic.track('chan-1', 'ann', { status: 'away' }, 'r2')
    expect(plain(diff)).toEqual({
      joins: { ann: { metas: [{ status: 'away', phx_ref: 'r2', phx_ref_prev: 'r1' }] } },
      leaves: { ann: { metas: [{ status: 'here', phx_ref: 'r1' }] } },
    })
    expect(plain(topic.state()).ann.metas).toHaveLength(1)
  })

  test('re-tracking an identical payload changes nothing', () => {
    const topic = new PresenceTopic<string>()
    topic.track('chan-1', 'ann', { a: 1 }, 'r1')
    expect(topic.track('chan-1', 'ann', { a: 1 }, 'r2')).toBeNull()
  })

  test('two joins under one key give that key two metas; untrack removes only its own', () => {
    const topic = new PresenceTopic<string>()
    topic.track('chan-1', 'ann', { tab: 1 }, 'r1')
    topic.track('chan-2', 'ann', { tab: 2 }, 'r2')
    expect(plain(topic.state()).ann.metas).toHaveLength(2)
    expect(plain(topic.untrack('chan-1'))).toEqual({ joins: {}, leaves: { ann: { metas: [{ tab: 1, phx_ref: 'r1' }] } } })
    expect(plain(topic.state())).toEqual({ ann: { metas: [{ tab: 2, phx_ref: 'r2' }] } })
    expect(topic.untrack('chan-1')).toBeNull()
  })

  test('keys chosen by clients cannot reach Object.prototype', () => {
    const topic = new PresenceTopic<string>()
    topic.track('chan-1', '__proto__', { x: 1 }, 'r1')
    const state = topic.state()
    expect(Object.getPrototypeOf(state)).toBeNull()
    expect(Object.keys(state)).toEqual(['__proto__'])
    expect(({} as Record<string, unknown>).x).toBeUndefined()
  })

  test('presence refs are unique', () => {
    const refs = new Set(Array.from({ length: 10_000 }, nextPresenceRef))
    expect(refs.size).toBe(10_000)
  })
})
