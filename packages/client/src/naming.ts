/**
 * Channel names and subscription specs: pure functions, no I/O.
 *
 *   tenant:<tenantId>:<kind>:<entityType>:<entityId>     with a tenant
 *   <kind>:<entityType>:<entityId>                      without
 *
 * realtime-js adds the `realtime:` prefix to form the wire topic. A name starts with either
 * `tenant:` or a kind, and `tenantId`/`entityType` may not contain `:`, so two different triples
 * never produce the same name (the entity id is the last segment and may contain anything).
 *
 * Names isolate tenants **on the client only**: anyone can join any name. Server-side isolation is
 * private channels (RLS on `realtime.messages`) and RLS on the tables behind postgres_changes.
 */
import { createError } from './errors.js'

export const ChannelKinds = { subscription: 'subscription', presence: 'presence' } as const
/** `subscription` channels carry postgres_changes and broadcast; `presence` channels carry presence. */
export type ChannelKind = (typeof ChannelKinds)[keyof typeof ChannelKinds]

/** The three coordinates of a channel besides its kind. */
export interface EntityRef {
  entityType: string
  entityId: string
  /** Prefixes the name with `tenant:<tenantId>:` (client-side isolation only, see the README). */
  tenantId?: string | undefined
}

/** Topics longer than this do not fit the binary broadcast frame (255 bytes with `realtime:`). */
export const MAX_NAME_LENGTH = 200

/** One name segment: a non-empty string; `:` only where it is the last segment (the entity id). */
function segment(label: string, value: unknown, allowColon = false): string {
  if (typeof value !== 'string' || !value || (!allowColon && value.includes(':'))) {
    throw createError('INVALID_ARGUMENT', `${label} must be non-empty and may not contain ':' (got ${JSON.stringify(value)})`)
  }
  return value
}

/**
 * The channel name of an entity.
 *
 * @example
 * ```ts
 * channelName('presence', { entityType: 'contact', entityId: '123', tenantId: 'tenant-abc' })
 * // 'tenant:tenant-abc:presence:contact:123'
 * ```
 */
export function channelName(kind: ChannelKind, ref: EntityRef): string {
  if (kind !== 'subscription' && kind !== 'presence') throw createError('INVALID_ARGUMENT', `unknown channel kind ${String(kind)}`)
  let name = `${kind}:${segment('entityType', ref.entityType)}:${segment('entityId', ref.entityId, true)}`
  if (ref.tenantId != null) name = `tenant:${segment('tenantId', ref.tenantId)}:${name}`
  if (name.length > MAX_NAME_LENGTH) throw createError('INVALID_ARGUMENT', `channel name longer than ${MAX_NAME_LENGTH} characters`)
  return name
}

export type PostgresEvent = '*' | 'INSERT' | 'UPDATE' | 'DELETE'

/** One postgres_changes binding, in the exact shape sent in `phx_join`. */
export interface PostgresSpec {
  event: PostgresEvent
  schema: string
  table: string
  filter?: string
}

/** Inputs of {@link postgresSpecFor}; mirrors the `subscribeToEntity` options. */
export interface PostgresSpecInput {
  entityType: string
  entityId: string
  table?: string | undefined
  schema?: string | undefined
  event?: PostgresEvent | undefined
  /** Column compared with the entity id (default `id`). */
  idColumn?: string | undefined
  /** An explicit filter replaces `<idColumn>=eq.<entityId>`; `null` subscribes to the whole table. */
  filter?: string | null | undefined
}

const EVENTS: ReadonlySet<string> = new Set(['*', 'INSERT', 'UPDATE', 'DELETE'])

/** Quotes a filter value PostgREST-style when it contains a reserved character. */
export function quoteFilterValue(value: string): string {
  return /[,()"\\\s]/.test(value) ? `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"` : value
}

/**
 * The postgres_changes binding of `subscribeToEntity`: table `entityType + 's'`, schema `public`,
 * event `*`, filter `id=eq.<entityId>`.
 */
export function postgresSpecFor(input: PostgresSpecInput): PostgresSpec {
  const event = input.event ?? '*'
  if (!EVENTS.has(event)) throw createError('INVALID_ARGUMENT', 'event must be one of *, INSERT, UPDATE, DELETE')
  const spec: PostgresSpec = {
    event,
    schema: segment('schema', input.schema ?? 'public', true),
    table: segment('table', input.table ?? `${segment('entityType', input.entityType)}s`, true),
  }
  const filter = input.filter === undefined ? `${input.idColumn ?? 'id'}=eq.${quoteFilterValue(segment('entityId', input.entityId, true))}` : input.filter
  if (filter !== null) spec.filter = filter
  return spec
}

/** A stable identity for a spec (the same spec always gives the same key). */
export function postgresSpecKey(spec: PostgresSpec): string {
  return JSON.stringify([spec.event, spec.schema, spec.table, spec.filter ?? null])
}
