/** Phoenix event names, topic constants and sub-topic extraction (message.ts). */
import { describe, expect, it } from 'vitest'
import { PHOENIX_TOPIC, PhxEvent, REALTIME_TOPIC_PREFIX, subTopicOf } from '../src/message.js'

describe('PhxEvent', () => {
  it('has the exact Phoenix event names', () => {
    expect(PhxEvent).toEqual({
      join: 'phx_join',
      leave: 'phx_leave',
      reply: 'phx_reply',
      close: 'phx_close',
      error: 'phx_error',
      heartbeat: 'heartbeat',
    })
  })

  it('names the heartbeat topic and the realtime prefix', () => {
    expect(PHOENIX_TOPIC).toBe('phoenix')
    expect(REALTIME_TOPIC_PREFIX).toBe('realtime:')
  })
})

describe('subTopicOf', () => {
  it.each([
    ['realtime:room1', 'room1'],
    ['realtime:', ''],
    ['realtime:a:b:c', 'a:b:c'],
    ['realtime:café', 'café'],
  ])('%s → %s', (topic, expected) => {
    expect(subTopicOf(topic)).toBe(expected)
  })

  it.each([['phoenix'], ['room1'], ['Realtime:room1'], [' realtime:room1'], ['realtime'], ['']])('%j is not a realtime topic', (topic) => {
    expect(subTopicOf(topic)).toBeNull()
  })
})
