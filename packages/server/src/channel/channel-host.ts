/**
 * What a channel needs from the socket it lives on. The connection implements it; the channel
 * never sees the WebSocket itself.
 */
import type { Serializer } from '@switchboard/protocol'
import type { OutFrame } from '../socket/outbound-queue.js'
import type { Tenant } from '../tenant/tenant.js'

export interface ChannelHost {
  readonly serializer: Serializer
  readonly tenant: Tenant
  /** The apikey the socket connected with: the identity of joins that carry no token of their own. */
  readonly connectToken: string
  /** Queues a frame for this socket (coalesced with others in the same event-loop turn). */
  send(frame: OutFrame): void
  /** Counts one client event of `bytes` against the socket's and the tenant's limits; false when over one. */
  allowEvent(bytes?: number): boolean
  /** Called once when the channel reaches `closed`, so the socket forgets it. */
  channelClosed(topic: string, channel: object): void
}
