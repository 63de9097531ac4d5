/**
 * Resume after a break (issue: no event lost across a reconnect). A channel that joined with
 * `switchboard.resume = { epoch, position }` first receives, in order, exactly the messages
 * of its topic and bindings logged after `position` that it may still see, then live ones.
 *
 *   join ok ─▶ hold live frames ─▶ Postgres Changes subscribed ─▶ snapshot log (> position)
 *     ─▶ replay snapshot ─▶ system {code: "Resumed", position: P} ─▶ release held frames > P
 *
 * When the position cannot be served (another epoch: the server restarted; or older than the
 * buffer), nothing is replayed and the channel gets `system {code: "Gap"}` instead, so the
 * client refetches: never a partial history, never silence. A channel that asked for
 * positions without a resume point gets `system {code: "Fresh"}` with its starting position.
 */
import type { LogEntry } from '../replay/replay-log.js'
import { withPositionMeta, withPositionMetadata, type ReplayEntry } from '../replay/replay-entry.js'
import { toOutFrame } from '../broadcast/topic-registry.js'
import type { OutFrame } from '../socket/outbound-queue.js'
import type { Channel } from './channel.js'

export const ResumeCode = {
  fresh: 'Fresh',
  resumed: 'Resumed',
  gap: 'Gap',
} as const

/** Live frames held while a resume replays; more than this and the resume becomes a gap. */
export const MAX_HELD_FRAMES = 10_000

export interface HeldFrame {
  frame: OutFrame
  position: number
}

/** The `system` message that tells the client where its stream stands. */
export function pushResumeStatus(
  channel: Channel,
  code: (typeof ResumeCode)[keyof typeof ResumeCode],
  position: number,
  extra: Record<string, unknown> = {},
): void {
  const { replayLog } = channel.tenant
  const message =
    code === ResumeCode.gap
      ? 'Messages since the given position are no longer available; refetch the current state'
      : code === ResumeCode.resumed
        ? 'Resumed from the given position'
        : 'Positions enabled'
  channel.push('system', {
    extension: 'switchboard',
    status: code === ResumeCode.gap ? 'error' : 'ok',
    code,
    message,
    channel: channel.subTopic,
    epoch: replayLog.epoch,
    position,
    ...extra,
  })
}

/**
 * Replays the log to `channel` after `request.position` and releases the frames held since the
 * join. Never throws: a failure becomes a gap.
 */
export async function resume(channel: Channel, request: { epoch: string; position: number }, held: () => HeldFrame[] | 'overflow'): Promise<void> {
  const { tenant } = channel
  if (channel.state !== 'joined') return // left while its Postgres Changes bindings were set up
  const snapshot = tenant.replayLog.since(request.epoch, request.position)
  if (!snapshot.ok) {
    const position = tenant.replayLog.lastSeq
    pushResumeStatus(channel, ResumeCode.gap, position, { reason: snapshot.reason })
    release(channel, held(), position)
    return
  }
  let frames: { position: number; frame: OutFrame }[]
  try {
    frames = await replayFrames(channel, snapshot.entries)
  } catch (error) {
    tenant.logger.error({ err: error, topic: channel.topic }, 'replay failed')
    pushResumeStatus(channel, ResumeCode.gap, tenant.replayLog.lastSeq, { reason: 'error' })
    release(channel, held(), tenant.replayLog.lastSeq)
    return
  }
  if (channel.state !== 'joined') return
  const pending = held()
  if (pending === 'overflow') {
    pushResumeStatus(channel, ResumeCode.gap, tenant.replayLog.lastSeq, { reason: 'overflow' })
    release(channel, [], tenant.replayLog.lastSeq)
    return
  }
  for (const { frame } of frames) channel.host.send(frame)
  pushResumeStatus(channel, ResumeCode.resumed, snapshot.lastSeq, { replayed: frames.length })
  release(channel, pending, snapshot.lastSeq)
}

/** Sends the held frames after `position` (earlier ones were replayed or lie inside the gap). */
function release(channel: Channel, held: HeldFrame[] | 'overflow', position: number): void {
  if (held !== 'overflow') {
    for (const item of held) if (item.position === 0 || item.position > position) channel.host.send(item.frame)
  }
  channel.stopHolding()
}

async function replayFrames(channel: Channel, entries: LogEntry<ReplayEntry>[]): Promise<{ position: number; frame: OutFrame }[]> {
  const out: { position: number; frame: OutFrame | null }[] = []
  const changes: unknown[] = []
  const changeSlots = new Map<number, number>() // position → index in `out`
  for (const entry of entries) {
    const value = entry.value
    if (value.kind === 'change') {
      if (channel.config.postgresChanges.length === 0) continue
      changes.push(value.change)
      changeSlots.set(entry.seq, out.length)
      out.push({ position: entry.seq, frame: null })
      continue
    }
    if (value.topicKey !== channel.topicKey || !channel.read.broadcast) continue
    if (value.senderSession !== null && value.senderSession === channel.session) continue
    const encoded =
      value.kind === 'broadcast-json'
        ? channel.serializer.encode(null, null, channel.topic, 'broadcast', withPositionMeta(value.payload, entry.seq))
        : channel.serializer.encodeUserBroadcast(channel.topic, { ...value.broadcast, metadataJson: withPositionMetadata(value.broadcast.metadataJson, entry.seq) })
    const frame = toOutFrame(encoded)
    if (frame) out.push({ position: entry.seq, frame })
  }
  const engine = channel.tenant.postgresChanges
  if (changes.length > 0 && engine) {
    const extra: { position: number; frame: OutFrame }[] = []
    for (const replayed of await engine.replay(channel, changes)) {
      const frame = channel.changeFrame(replayed.ids, replayed.dataJson, replayed.position.seq)
      const slot = changeSlots.get(replayed.position.seq)
      if (slot !== undefined && out[slot]!.frame === null) out[slot]!.frame = frame
      else extra.push({ position: replayed.position.seq, frame }) // several payload variants of one change
    }
    for (const item of extra) {
      const at = out.findIndex((o) => o.position > item.position)
      out.splice(at === -1 ? out.length : at, 0, item)
    }
  }
  return out.filter((o): o is { position: number; frame: OutFrame } => o.frame !== null)
}
