/**
 * What tabs and the leader's host say to each other over one `BroadcastChannel` per origin
 * and name. Plain structured-cloneable objects; every message of a host carries its id `h`
 * (and the time it started leading, `since`, on `leader`), every request names the host it is
 * for, so a host that lost the lead (a frozen tab thawing) is ignored and ignores.
 *
 *   tab  → host   who · ping · connect · open · close · track · send
 *   host → tabs   leader · pong · conn · ack · reply · fail · done · ev (one per channel event)
 *
 * Every tab receives every message of the host, numbered `n` (1, 2, 3, … per host): a tab that
 * finds a number missing lost messages (a paused or frozen tab may) and rejoins everything.
 *
 * A tab's channel instance is a **member** of the host's channel of the same name (`m`, unique
 * per tab and instance). Channel-wide events (`ev`) are posted once, whatever the number of
 * members: every tab routes them to its members of that channel.
 * @internal
 */
import type { MessageMark, ResumePoint, ResumeStatus } from '@switchboard/protocol'
import type { PostgresSpec } from '../naming.js'
import type { PresenceUser } from '../presence.js'

/** Settings of a member's wire config, as the tab's realtime-js instance would have joined with. */
export interface MemberConfig {
  private: boolean
  self: boolean
  presenceKey: string
}

export type TabMessage =
  | { k: 'who' }
  | { k: 'ping'; h: string }
  | { k: 'connect'; h: string; tab: string }
  | { k: 'open'; h: string; tab: string; m: string; name: string; cfg: MemberConfig; specs: PostgresSpec[]; resume: ResumePoint | null }
  | { k: 'close'; h: string; m: string }
  | { k: 'track'; h: string; m: string; id: number; payload: Record<string, unknown> | null }
  | { k: 'send'; h: string; m: string; id: number; event: string; payload: unknown }

export type ChannelEvent =
  | { e: 'change'; key: string; payload: unknown; mark: MessageMark | undefined }
  | { e: 'bcast'; event: string; payload: unknown; meta: Record<string, unknown> | undefined; mark: MessageMark | undefined; except?: string }
  | { e: 'presence'; users: PresenceUser[] }

export type HostMessage =
  | { k: 'leader'; h: string; since: number; session: string }
  | { k: 'pong'; h: string }
  | { k: 'conn'; h: string; ready: boolean; failed: boolean }
  /** The member is registered: what follows for its channel is for it (buffered until `reply`). */
  | { k: 'ack'; h: string; m: string }
  /** The member's channel is live: join reply (with the epoch of a server that speaks positions), then the live status. */
  | { k: 'reply'; h: string; m: string; epoch: string | undefined; status: ResumeStatus | undefined; users: PresenceUser[] | undefined }
  /** A status for a live member (a gap found by a rejoin the member did not see). */
  | { k: 'status'; h: string; m: string; status: ResumeStatus }
  | { k: 'fail'; h: string; m: string; message: string }
  | { k: 'done'; h: string; m: string; id: number; result: 'ok' | 'error' }
  | ({ k: 'ev'; h: string; ch: string } & ChannelEvent)

export type AnyMessage = TabMessage | HostMessage

/** The parts of the Web Locks API used here (`navigator.locks`). */
export interface Locks {
  request(name: string, options: { steal?: boolean; signal?: AbortSignal }, callback: () => Promise<void>): Promise<void>
}

/** The parts of `BroadcastChannel` used here. */
export interface Channel {
  postMessage(message: unknown): void
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
  close(): void
}

const HOST_KINDS: ReadonlySet<string> = new Set(['leader', 'pong', 'conn', 'ack', 'reply', 'status', 'fail', 'done', 'ev'])

/** A message of a host (not a tab's request). */
export const fromHost = (message: AnyMessage): message is HostMessage => HOST_KINDS.has(message.k)

/** A random id. */
export const randomId = (): string => globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
