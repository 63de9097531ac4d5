/**
 * Replay frames (src/hub/replay-frames.ts): a log entry's broadcast frame is encoded once per
 * wire version and shared by every channel that replays it; a different topic text gets its
 * own encoding; nothing is kept past the entry. Pure: no sockets, no database.
 */
import { serializerV1, serializerV2 } from '@switchboard/protocol'
import { expect, test } from 'vitest'
import { ReplayFrames } from '../../src/hub/replay-frames.js'

test('one encoding per entry and wire version, shared by the channels that replay it', () => {
  const frames = new ReplayFrames()
  const entry = {}
  let encodings = 0
  const encode = (text: string) => () => {
    encodings++
    return text
  }
  const first = frames.frame(entry, serializerV2, 'realtime:room', encode('v2'))
  expect(frames.frame(entry, serializerV2, 'realtime:room', encode('v2 again'))).toBe(first)
  expect(encodings).toBe(1)
  expect(first!.data.toString()).toBe('v2')

  const v1 = frames.frame(entry, serializerV1, 'realtime:room', encode('v1'))
  expect(v1).not.toBe(first)
  expect(v1!.data.toString()).toBe('v1')
  expect(encodings).toBe(2)

  // Another entry is another message.
  expect(frames.frame({}, serializerV2, 'realtime:room', encode('other'))!.data.toString()).toBe('other')
})

test('a channel whose topic text differs gets its own encoding, and the first stays cached', () => {
  const frames = new ReplayFrames()
  const entry = {}
  const a = frames.frame(entry, serializerV2, 'realtime:Room', () => 'A')
  const b = frames.frame(entry, serializerV2, 'realtime:room', () => 'B')
  expect(b!.data.toString()).toBe('B')
  expect(frames.frame(entry, serializerV2, 'realtime:Room', () => 'never')).toBe(a)
})

test('an entry that encodes to nothing is remembered as nothing', () => {
  const frames = new ReplayFrames()
  const entry = {}
  let encodings = 0
  const none = () => {
    encodings++
    return null
  }
  expect(frames.frame(entry, serializerV2, 'realtime:room', none)).toBeNull()
  expect(frames.frame(entry, serializerV2, 'realtime:room', none)).toBeNull()
  expect(encodings).toBe(1)
})
