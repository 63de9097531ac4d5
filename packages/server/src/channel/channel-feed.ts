/**
 * A channel's cursor into the tenant log: where its stream starts, what it is owed from the log
 * before it is live, and the order its positioned frames leave in.
 *
 *   joined ──(bindings ready)──▶ go live: take P = log position, register every binding at P,
 *     │                           read the log from the start point up to P (one synchronous step)
 *     │ frames after P are held                      │
 *     ▼                                              ▼
 *   replay: the log's entries the channel matches and may see ──▶ status (Fresh / Resumed / Gap)
 *     ──▶ release held frames after P, in position order ──▶ live
 *
 * The start point is the client's resume point, or, for a fresh join that asked for positions,
 * the log position at its join reply: the join reply and "live" are two moments, and whatever
 * was committed between them is replayed, so nothing committed after the join can be lost.
 *
 * Live, a channel that receives both broadcasts and changes also holds a broadcast while a
 * change positioned before it is still being authorized (TenantHub.changesPendingBefore), so
 * its frames leave in position order: a client that resumes from the newest position it saw
 * then cannot skip a change still in flight.
 *
 * Everything held is bounded (MAX_HELD_FRAMES): past it, a catching-up channel gets a Gap
 * (overflow) and a live one is shut down (the client resumes from its last position).
 */
import { ErrorCode, ResumeCode, RESUME_STATUS_MESSAGES, type GapReason, type LostKind, type ResumeCode as ResumeCodeType, type ResumeStatus, type ResumePoint } from '@switchboard/protocol'
import type { Change } from '../cdc/change.js'
import type { SinceResult, LogEntry } from '../hub/delivery-log.js'
import { withMarkMeta, withMarkMetadata, type LogMessage, type Mark } from '../hub/log-entry.js'
import type { OrderedSubscriber } from '../hub/tenant-hub.js'
import type { OutFrame } from '../socket/outbound-queue.js'
import type { ChannelPort } from './channel-port.js'

/** Frames held while catching up or waiting for earlier changes; more and the channel gives up. */
export const MAX_HELD_FRAMES = 10_000
/** How long a resume from an earlier epoch waits for the log to be rebuilt from the slot. */
export const REBUILD_WAIT_MS = 10_000

interface HeldFrame {
  frame: OutFrame
  position: number
}

/** Where a channel's stream starts. */
export type FeedStart =
  | { kind: 'none' } // no positions asked: live delivery only, as Supabase
  | { kind: 'join'; position: number } // fresh join: from the log position at the join reply
  | { kind: 'resume'; point: ResumePoint } // the client's resume point

export class ChannelFeed implements OrderedSubscriber {
  readonly #port: ChannelPort
  readonly #start: FeedStart
  /** Held frames; null when frames go straight to the socket. */
  #held: HeldFrame[] | null = null
  #catchingUp: boolean
  /** Also orders broadcasts behind changes in flight (positions asked and bindings registered). */
  #ordersChanges = false
  /** More frames arrived while catching up than may be held: the replay ends in a Gap. */
  #overflowed = false

  constructor(port: ChannelPort, start: FeedStart) {
    this.#port = port
    this.#start = start
    // Positioned frames that arrive before the replay are held from the join reply on.
    this.#catchingUp = start.kind !== 'none'
    if (this.#catchingUp) this.#held = []
  }

  /** Whether the start point is from an earlier epoch (the caller waits for the rebuilt log). */
  get resumesAcrossEpochs(): boolean {
    return this.#start.kind === 'resume' && this.#start.point.epoch !== this.#port.tenant.hub.log.epoch
  }

  /** A positioned broadcast (or an unpositioned push, mark null) for this channel. */
  enqueue(frame: OutFrame, mark: Mark | null): void {
    if (mark === null) return this.#port.send(frame)
    if (this.#held === null && this.#ordersChanges && this.#port.tenant.hub.changesPendingBefore(mark.position)) {
      this.#held = []
      this.#port.tenant.hub.waitForChanges(this)
    }
    this.#emit(frame, mark.position)
  }

  /** A change for this channel: changes are dispatched in position order, so they only queue behind what is held. */
  enqueueChange(frame: OutFrame, position: number): void {
    this.#emit(frame, position)
  }

  #emit(frame: OutFrame, position: number): void {
    const held = this.#held
    if (held === null) return this.#port.send(frame)
    if (held.length < MAX_HELD_FRAMES) {
      held.push({ frame, position })
      return
    }
    if (this.#catchingUp) {
      this.#held = [] // the replay ends in a Gap (overflow); nothing held is sent
      this.#overflowed = true
      return
    }
    this.#port.tenant.metrics.countError(ErrorCode.ChangesBacklogOverflow)
    this.#port.shutdown('Too many messages waiting for earlier changes; rejoin to resume')
  }

  /**
   * Goes live: `register` registers the channel's bindings at the position given, in the same
   * synchronous step as the log is read, then the log's entries owed are replayed and the status
   * pushed. `hasBindings`: the channel has postgres_changes bindings (its broadcasts are ordered
   * behind changes in flight from now on).
   */
  async goLive(register: (cursor: number) => void, hasBindings: boolean): Promise<void> {
    const { hub } = this.#port.tenant
    const log = hub.log
    const cursor = log.lastSeq
    register(cursor)
    this.#ordersChanges = hasBindings && this.#start.kind !== 'none'
    if (this.#start.kind === 'none') return
    // Asked now, answered while the replay is authorized: it is one more query to wait for.
    const lostAcrossEpochs = this.#lostAcrossEpochs()
    const snapshot = await this.#read()
    let code: ResumeCodeType = this.#start.kind === 'join' ? ResumeCode.fresh : ResumeCode.resumed
    let reason: GapReason | undefined
    let frames: HeldFrame[] = []
    if (!snapshot.ok) {
      code = ResumeCode.gap
      reason = snapshot.reason
    } else {
      try {
        frames = await this.#replayFrames(snapshot.entries)
      } catch (error) {
        this.#port.tenant.logger.error({ err: error, topic: this.#port.topic }, 'replay failed')
        code = ResumeCode.gap
        reason = 'error'
      }
    }
    if (!this.#port.isJoined) return // left while replaying
    if (this.#overflowed) {
      code = ResumeCode.gap
      reason = 'overflow'
      frames = []
    }
    for (const { frame } of frames) this.#port.send(frame)
    const lost = code === ResumeCode.resumed ? await lostAcrossEpochs : undefined
    if (!this.#port.isJoined) return
    this.#pushStatus(code, cursor, snapshot.ok ? snapshot.point : log.headPoint, { replayed: code === ResumeCode.gap ? undefined : frames.length, reason, lost })
    hub.tracing.current?.caughtUp(this.#port, { code, from: this.#startPosition(), cursor, replayed: frames.map((f) => f.position), ...(reason ? { reason } : {}) })
    this.#catchingUp = false
    // Held frames at or before the cursor were replayed (or precede the start): drop them.
    if (this.#held) this.#held = this.#held.filter((h) => h.position > cursor)
    this.releaseHeld()
  }

  /**
   * A resume into a new epoch replayed every change and stored broadcast from the slot; the old
   * epoch's ephemeral broadcasts on this topic, if it had any, are gone.
   */
  async #lostAcrossEpochs(): Promise<LostKind[] | undefined> {
    if (!this.resumesAcrossEpochs || !this.#port.read.broadcast || this.#start.kind !== 'resume') return undefined
    return (await this.#port.tenant.hub.marks.marked(this.#start.point.epoch, this.#port.topicKey)) ? ['broadcast'] : undefined
  }

  /** Sends what is held, in position order, up to the first change still being authorized. */
  releaseHeld(): void {
    const held = this.#held
    if (held === null || this.#catchingUp || !this.#port.isJoined) return
    held.sort((a, b) => a.position - b.position)
    const { hub } = this.#port.tenant
    let sent = 0
    while (sent < held.length && !hub.changesPendingBefore(held[sent]!.position)) {
      this.#port.send(held[sent]!.frame)
      sent++
    }
    if (sent === held.length) {
      this.#held = null
      return
    }
    this.#held = held.slice(sent)
    hub.waitForChanges(this)
  }

  /** The log position the stream starts after, when it is one of this epoch (the inspector's gap range). */
  #startPosition(): number | null {
    const start = this.#start
    if (start.kind === 'join') return start.position
    if (start.kind === 'resume' && start.point.epoch === this.#port.tenant.hub.log.epoch) return start.point.position
    return null
  }

  /** Reads what is owed: the local part synchronously (with the registration), the shared log's after. */
  #read(): SinceResult<LogMessage> | Promise<SinceResult<LogMessage>> {
    const start = this.#start
    const { hub } = this.#port.tenant
    const log = hub.log
    if (start.kind === 'join') return hub.readSince(log.epoch, start.position, this.#port.topicKey)
    if (start.kind === 'resume') {
      if (start.point.epoch === log.epoch) return hub.readSince(start.point.epoch, start.point.position, this.#port.topicKey)
      if (start.point.lsn !== undefined) return log.sinceStreamPoint(start.point.lsn)
      return { ok: false, reason: 'epoch' }
    }
    return { ok: false, reason: 'epoch' }
  }

  #pushStatus(code: ResumeCodeType, position: number, point: string, extra: { replayed?: number; reason?: GapReason; lost?: LostKind[] }): void {
    const status: ResumeStatus = {
      extension: 'switchboard',
      status: code === ResumeCode.gap ? 'error' : 'ok',
      code,
      message: RESUME_STATUS_MESSAGES[code],
      channel: this.#port.subTopic,
      epoch: this.#port.tenant.hub.log.epoch,
      position,
      lsn: point,
    }
    if (extra.replayed !== undefined) status.replayed = extra.replayed
    if (extra.reason !== undefined) status.reason = extra.reason
    if (extra.lost !== undefined) status.lost = extra.lost
    this.#port.push('system', status)
  }

  /** The log's entries this channel matches and may see, as frames in position order. */
  async #replayFrames(entries: readonly LogEntry<LogMessage>[]): Promise<HeldFrame[]> {
    const port = this.#port
    const out: { position: number; frame: OutFrame | null }[] = []
    const changes: Change[] = []
    const changeSlots = new Map<number, number>() // position → index in `out`
    for (const entry of entries) {
      const value = entry.value
      if (value.kind === 'change') {
        if (!port.hasChangeBindings) continue
        changes.push(value.change)
        changeSlots.set(entry.seq, out.length)
        out.push({ position: entry.seq, frame: null })
        continue
      }
      if (value.topicKey !== port.topicKey || !port.read.broadcast) continue
      if (value.senderSession !== null && value.senderSession === port.session) continue
      const mark = { position: entry.seq, point: entry.point }
      // Shared with the other channels replaying this entry (hub/replay-frames.ts).
      const frame = port.tenant.hub.replayFrames.frame(entry, port.serializer, port.topic, () =>
        value.kind === 'broadcast-json'
          ? port.serializer.encode(null, null, port.topic, 'broadcast', withMarkMeta(value.payload, mark))
          : port.serializer.encodeUserBroadcast(port.topic, { ...value.broadcast, metadataJson: withMarkMetadata(value.broadcast.metadataJson, mark) }))
      if (frame) out.push({ position: entry.seq, frame })
    }
    const engine = port.tenant.postgresChanges
    if (changes.length > 0 && engine) {
      const extra: HeldFrame[] = []
      for (const replayed of await engine.replay(port.changeSubscriber, changes)) {
        const frame = port.changeFrame(replayed.ids, replayed.data)
        const seq = replayed.data.position.seq
        const slot = changeSlots.get(seq)
        if (slot !== undefined && out[slot]!.frame === null) out[slot]!.frame = frame
        else extra.push({ position: seq, frame }) // several payload variants of one change
      }
      for (const item of extra) {
        const at = out.findIndex((o) => o.position > item.position)
        out.splice(at === -1 ? out.length : at, 0, item)
      }
    }
    return out.filter((o): o is HeldFrame => o.frame !== null)
  }
}
