/**
 * How the inspector shows a subscriber (one channel on one socket): which connection, who (user
 * id and role from the token, never the token), which client, how far behind its socket is.
 */
import { hostname } from 'node:os'
import { Channel } from '../channel/channel.js'
import { Connection } from '../socket/connection.js'
import type { SubscriberView } from './api-types.js'

/** This process, as the inspector names nodes (one today; the cluster will have several). */
export const NODE_ID = `${hostname()}:${process.pid}`

/** The subscriber behind a fan-out target or a change sink: the channel, when it is one. */
export function channelOf(subscriber: unknown): Channel | null {
  return subscriber instanceof Channel ? subscriber : null
}

export function connectionOf(channel: Channel): Connection | null {
  return channel.host instanceof Connection ? channel.host : null
}

/** Role and claims of a channel's token, when it was authorized. */
export function authOf(channel: Channel): { role: string; claims: Readonly<Record<string, unknown>>; sub: string | null } | null {
  try {
    return channel.auth
  } catch {
    return null // still joining: not authorized yet
  }
}

export function subscriberView(channel: Channel): SubscriberView {
  const connection = connectionOf(channel)
  const auth = authOf(channel)
  return {
    connection: connection?.id ?? null,
    channel: channel.id,
    topic: channel.subTopic,
    private: channel.isPrivate,
    user: auth?.sub ?? null,
    role: auth?.role ?? null,
    client: connection ? [`vsn ${connection.client.vsn}`, connection.client.agent].filter(Boolean).join(' · ') : null,
    queuedBytes: connection && connection.closedAt === null ? connection.queuedBytes : 0,
    node: NODE_ID,
    state: channel.state,
  }
}

/** A subscriber that is not a channel (a test double of the seam, a replay sink): shown by what is known. */
export function unknownSubscriber(): SubscriberView {
  return { connection: null, channel: 0, topic: '', private: false, user: null, role: null, client: null, queuedBytes: 0, node: NODE_ID, state: 'unknown' }
}
