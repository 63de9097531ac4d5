/**
 * The inspector's views of a tenant's channels and connections, read from the hub's registries
 * (topics, presence) and the sockets when asked: the searchable channel list, one channel in
 * detail (its subscribers, presence state, recent messages) and the connection list. Nothing is
 * kept here; every call reads the live state (bounded by `limit`).
 */
import type { Channel } from '../channel/channel.js'
import type { Connection } from '../socket/connection.js'
import type { Tenant } from '../tenant/tenant.js'
import type { ChangeSubscriber } from '../cdc/postgres-changes-service.js'
import type { ExplainableBinding } from './filter-explain.js'
import { redactValue } from './payload-preview.js'
import type { ChannelDetail, ChannelSummary, ConnectionView, MessageSummary } from './api-types.js'
import { channelOf, subscriberView } from './subscriber-view.js'
import type { TopicRates } from './topic-rates.js'
import type { TraceRecorder } from './trace-recorder.js'
import { watchKeyOf } from './traced-message.js'
import { messageSummary } from './verdicts.js'

/** The Postgres Changes engine's registrations, read to explain why a change did not match. */
export interface ChangeRegistrations {
  registration(subscriber: ChangeSubscriber): { cursor: number; bindings: readonly ExplainableBinding[]; quarantined: boolean } | undefined
}

export function describeBinding(binding: Readonly<Record<string, unknown>>): string {
  const event = String(binding.event ?? '*')
  const table = `${String(binding.schema ?? 'public')}.${String(binding.table ?? '*')}`
  return typeof binding.filter === 'string' && binding.filter !== '' ? `${event} ${table} ${binding.filter}` : `${event} ${table}`
}

function boundTables(channel: Channel): string[] {
  return channel.config.postgresChanges.map((b) => `${String(b.schema ?? 'public')}.${String(b.table ?? '*')}`)
}

export class ChannelViews {
  constructor(
    private readonly tenant: Tenant,
    private readonly recorder: TraceRecorder,
    private readonly rates: TopicRates,
    private readonly connections: () => Iterable<Connection>,
    private readonly registrations: ChangeRegistrations | null,
  ) {}

  /** Channels whose name contains `query` (case-insensitive), most subscribers first. */
  list(query = '', limit = 200): { total: number; channels: ChannelSummary[] } {
    const needle = query.toLowerCase()
    const out: ChannelSummary[] = []
    let total = 0
    for (const [key, subscribers] of this.tenant.hub.topics.entries()) {
      if (needle && !key.toLowerCase().includes(needle)) continue
      total++
      out.push(this.#summary(key, subscribers))
    }
    out.sort((a, b) => b.subscribers - a.subscribers || a.key.localeCompare(b.key))
    return { total, channels: out.slice(0, limit) }
  }

  /** One channel by topic key, or null when nobody is subscribed to it on this node. */
  detail(key: string, recentLimit = 50): ChannelDetail | null {
    const subscribers = this.tenant.hub.topics.subscribers(key)
    if (!subscribers) return null
    const channels = [...subscribers].map(channelOf).filter((c): c is Channel => c !== null)
    const tables = new Set(channels.flatMap(boundTables).map((t) => `table:${t}`))
    const recent: MessageSummary[] = []
    for (const message of this.recorder.ring.newestFirst()) {
      if (recent.length >= recentLimit) break
      const watchKey = watchKeyOf(message)
      if (watchKey === key || tables.has(watchKey) || (message.kind === 'change' && [...tables].some((t) => wildcardCovers(t, message.table)))) recent.push(messageSummary(message))
    }
    return {
      ...this.#summary(key, subscribers),
      members: channels.map((channel) => ({
        ...subscriberView(channel),
        presenceKey: channel.config.presence.enabled ? channel.presenceKey : null,
        bindings: channel.config.postgresChanges.map(describeBinding),
        broadcast: { self: channel.config.broadcast.self, ack: channel.config.broadcast.ack },
        positions: channel.wantsPositions,
        read: { ...channel.read },
      })),
      presence: redactValue(this.tenant.hub.presence.state(key)) as ChannelDetail['presence'],
      recent,
    }
  }

  /** The tenant's sockets, newest first. */
  listConnections(limit = 500): { total: number; connections: ConnectionView[] } {
    const out: ConnectionView[] = []
    for (const connection of this.connections()) {
      if (connection.tenant !== this.tenant) continue
      out.push({
        id: connection.id,
        connectedAt: new Date(connection.connectedAt).toISOString(),
        client: [`vsn ${connection.client.vsn}`, connection.client.agent].filter(Boolean).join(' · '),
        remoteAddress: connection.client.remoteAddress,
        channels: [...connection.channels.values()].map((c) => c.topicKey),
        queuedBytes: connection.closedAt === null ? connection.queuedBytes : 0,
        closing: connection.closedAt !== null,
      })
    }
    out.sort((a, b) => b.id - a.id)
    return { total: out.length, connections: out.slice(0, limit) }
  }

  /** The channels subscribed to changes now, with their registration (for the verdicts' filter explanations). */
  *changeSubscribers(): IterableIterator<{ channel: Channel; cursor: number; bindings: readonly ExplainableBinding[]; quarantined: boolean }> {
    const engine = this.registrations
    if (!engine) return
    for (const [, subscribers] of this.tenant.hub.topics.entries()) {
      for (const subscriber of subscribers) {
        const channel = channelOf(subscriber)
        if (!channel?.hasChangeBindings) continue
        const registration = engine.registration(channel)
        if (registration) yield { channel, ...registration }
      }
    }
  }

  #summary(key: string, subscribers: ReadonlySet<unknown>): ChannelSummary {
    const bindings = new Set<string>()
    const tables = new Set<string>()
    let isPrivate = key.startsWith('private:')
    for (const subscriber of subscribers) {
      const channel = channelOf(subscriber)
      if (!channel) continue
      isPrivate = channel.isPrivate
      for (const binding of channel.config.postgresChanges) bindings.add(describeBinding(binding))
      for (const table of boundTables(channel)) tables.add(table)
    }
    let changesPerSecond: number | null = null
    for (const table of tables) {
      const rate = this.rates.rate(`table:${table}`)
      if (rate !== null) changesPerSecond = (changesPerSecond ?? 0) + rate
    }
    return {
      key,
      topic: key.slice(key.indexOf(':') + 1),
      private: isPrivate,
      subscribers: subscribers.size,
      presences: this.tenant.hub.presence.sizeOf(key),
      bindings: [...bindings].sort(),
      messagesPerSecond: this.rates.rate(key),
      changesPerSecond,
    }
  }
}

/** `table:public.*` covers `public.calls`. */
function wildcardCovers(watchKey: string, table: string): boolean {
  const [schema, name] = watchKey.slice('table:'.length).split('.')
  const [s, t] = table.split('.')
  return (schema === '*' || schema === s) && (name === '*' || name === t)
}
