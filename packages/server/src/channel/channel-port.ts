/**
 * The narrow view of a channel its features (broadcast, presence, postgres_changes, the feed)
 * work through. Features own their state; they read the channel's identity and permissions
 * here and act only through these methods, never by writing channel fields.
 */
import type { JoinConfig, Serializer } from '@switchboard/protocol'
import type { AuthContext } from '../auth/auth-context.js'
import type { FanoutSubscriber } from '../broadcast/topic-registry.js'
import type { ChangeData } from '../cdc/change-payload.js'
import type { ChangeSubscriber } from '../cdc/postgres-changes-service.js'
import type { OutFrame } from '../socket/outbound-queue.js'
import type { Tenant } from '../tenant/tenant.js'

/** Read permissions of a private channel; public channels can read everything. */
export interface ReadPermissions {
  broadcast: boolean
  presence: boolean
}

export interface ChannelPort {
  readonly topic: string
  readonly subTopic: string
  readonly topicKey: string
  readonly config: JoinConfig
  readonly tenant: Tenant
  readonly serializer: Serializer
  readonly isPrivate: boolean
  /** The client's resume session (its own broadcasts are not replayed to it when `self` is off). */
  readonly session: string | null
  readonly presenceKey: string
  /** Joined and not closed: replies and pushes still reach the client. */
  readonly isJoined: boolean
  readonly read: Readonly<ReadPermissions>
  /** The identity of the channel's current token (set once the join is authorized). */
  readonly auth: AuthContext
  readonly hasChangeBindings: boolean
  /** The channel as the topic registry and presence know it (fan-out target, `self: false` exclusion). */
  readonly fanout: FanoutSubscriber
  /** The channel as the Postgres Changes engine knows it. */
  readonly changeSubscriber: ChangeSubscriber

  /** A `postgres_changes` frame for this channel (with its mark when positions were asked). */
  changeFrame(ids: readonly number[], data: ChangeData): OutFrame
  /** A reply to a client push (`phx_reply`). */
  reply(ref: string | null, status: 'ok' | 'error', response: unknown): void
  /** A server push on this channel. */
  push(event: string, payload: unknown): void
  /** A frame straight to the socket. */
  send(frame: OutFrame): void
  /** Server-side end: a `system` error with the message, then `phx_close`. */
  shutdown(message: string): void
  /** Write permission for a private channel (RLS INSERT on realtime.messages), cached per token. */
  writeAllowed(extension: 'broadcast' | 'presence'): boolean | Promise<boolean>
  /** Presence-read decided after the join (first track on a channel joined with presence off). */
  grantPresenceRead(granted: boolean): void
}
