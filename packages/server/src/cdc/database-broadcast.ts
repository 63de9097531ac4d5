/**
 * Inserts into `realtime.messages` (written by `realtime.send`, `realtime.broadcast_changes`)
 * arrive on the same replication stream and become broadcasts to the row's topic
 * (supabase-protocol.md §3.6). Pure: turns the decoded row into a DatabaseBroadcast.
 */
import type { ChangePosition, RelationInfo } from './change.js'
import type { TupleValue } from './pgoutput-decoder.js'

export interface DatabaseBroadcast {
  topic: string
  event: string
  private: boolean
  /** The row's uuid: the message's `meta.id`. */
  id: string
  /** The `payload` jsonb as JSON text, or null for a binary message. */
  payloadJson: string | null
  binaryPayload: Buffer | null
  position: ChangePosition
}

/** `realtime.messages` or one of its partitions (`messages_2025_03_01`), as Supabase matches it. */
export function isMessagesRelation(relation: RelationInfo): boolean {
  return relation.schema === 'realtime' && relation.table.startsWith('messages')
}

export function databaseBroadcastFrom(relation: RelationInfo, tuple: TupleValue[], position: ChangePosition): DatabaseBroadcast | null {
  const get = (name: string): string | null | undefined => {
    const i = relation.columnIndex.get(name)
    return i === undefined ? undefined : tuple[i]
  }
  const extension = get('extension')
  if (extension !== undefined && extension !== null && extension !== 'broadcast') return null
  const topic = get('topic')
  const id = get('id')
  if (!topic || !id) return null
  const binary = get('binary_payload')
  return {
    topic,
    event: get('event') ?? '',
    private: get('private') === 't',
    id,
    payloadJson: get('payload') ?? null,
    binaryPayload: typeof binary === 'string' ? Buffer.from(binary.replace(/^\\x/, ''), 'hex') : null,
    position,
  }
}
