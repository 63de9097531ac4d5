/**
 * Persisted broadcasts in `realtime.messages`, the table Supabase keeps database broadcasts in
 * (supabase-protocol.md §3.6):
 *
 * - `persist`: a client (kind-3 metadata `{"persist": true}`) or REST (`?persist=true`) asks for
 *   a broadcast to be stored. The row is inserted; the replication stream brings it back and the
 *   hub delivers it like a `realtime.send` message, with its stream position, so it survives a
 *   restart of the server (the slot keeps it) and a resuming client gets it in order.
 * - `broadcast.replay: { since, limit }` on a private channel: the newest persisted messages of
 *   the topic since `since`, pushed oldest first with `meta.replayed: true` after the join.
 *
 * The insert runs as the server's own role: write permission was already decided by the
 * channel (RLS INSERT policies on realtime.messages for private channels).
 */
import type { Sql } from 'postgres'

export interface PersistedBroadcast {
  id: string
  /** The sub-topic (no `realtime:` prefix). */
  topic: string
  event: string
  private: boolean
  /** JSON text of the payload, or null with `binary`. */
  json: string | null
  binary: Uint8Array | null
}

export interface StoredBroadcast {
  id: string
  event: string
  json: string | null
  binary: Buffer | null
}

export interface BroadcastStore {
  persist(message: PersistedBroadcast): Promise<void>
  /** The newest `limit` broadcasts of a private topic since `sinceMs`, oldest first. */
  recent(topic: string, sinceMs: number, limit: number): Promise<StoredBroadcast[]>
}

export class PostgresBroadcastStore implements BroadcastStore {
  constructor(private readonly sql: Sql) {}

  async persist(message: PersistedBroadcast): Promise<void> {
    const binary = message.binary === null ? null : Buffer.from(message.binary.buffer, message.binary.byteOffset, message.binary.byteLength)
    await this.sql`
      insert into realtime.messages (id, topic, extension, payload, event, private, binary_payload)
      values (${message.id}, ${message.topic}, 'broadcast', ${message.json}::text::jsonb, ${message.event}, ${message.private}, ${binary})`
  }

  async recent(topic: string, sinceMs: number, limit: number): Promise<StoredBroadcast[]> {
    // As Supabase: inserted_at in [since, now + 1 min), newest first, then sent oldest first.
    const rows = await this.sql<{ id: string; event: string | null; json: string | null; binary: Buffer | null }[]>`
      select id::text, event, payload::text as json, binary_payload as binary
      from realtime.messages
      where topic = ${topic} and private = true and extension = 'broadcast'
        and inserted_at >= to_timestamp(${sinceMs / 1000})::timestamp
        and inserted_at < now()::timestamp + interval '1 minute'
      order by inserted_at desc
      limit ${limit}`
    return rows.reverse().map((r) => ({ id: r.id, event: r.event ?? '', json: r.json, binary: r.binary }))
  }
}
