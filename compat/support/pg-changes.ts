/**
 * Helpers for the Postgres Changes conformance files: a listener that joins a channel with
 * `postgres_changes` bindings through the official client and waits for the server's verdict
 * (the `system` "Subscribed to PostgreSQL" or an error), and a commit-order barrier.
 *
 * Proving that something did NOT arrive: changes are dispatched strictly in commit order and a
 * socket's frames keep their order, so once a later change (a "tick" on a table without RLS)
 * has reached the same client, every earlier change that was going to reach it has too.
 */
import type { RealtimeChannel, SupabaseClient } from '@supabase/supabase-js'
import type postgres from 'postgres'
import { expect } from 'vitest'
import { subscribe, waitFor } from './harness.js'

export interface ChangeBinding {
  event: '*' | 'INSERT' | 'UPDATE' | 'DELETE'
  schema?: string
  table?: string
  filter?: string
}

/** What the official client hands a `postgres_changes` callback. */
export interface ClientChange {
  eventType: 'INSERT' | 'UPDATE' | 'DELETE'
  schema: string
  table: string
  commit_timestamp: string
  new: Record<string, unknown>
  old: Record<string, unknown>
  errors: string[] | null
}

export interface Listener {
  channel: RealtimeChannel
  /** All changes, in arrival order (every binding's callback pushes here). */
  changes: ClientChange[]
  /** Changes per binding, by the binding's position in `bindings`. */
  byBinding: ClientChange[][]
  /** `system` payloads of extension postgres_changes. */
  system: { status: string; message: string; extension: string }[]
  /** Broadcast payloads received on the channel (`{ event, payload, meta }`). */
  broadcasts: { event: string; payload: Record<string, unknown>; meta?: { id?: string } }[]
}

let topics = 0
export const uniqueTopic = (prefix = 'pgc') => `${prefix}-${++topics}-${Math.random().toString(36).slice(2, 7)}`

/**
 * Joins `topic` with `bindings` and waits for SUBSCRIBED and then for the postgres_changes
 * `system` message; `expect: 'ok'` (default) asserts "Subscribed to PostgreSQL".
 */
export async function listen(
  client: SupabaseClient,
  bindings: ChangeBinding[],
  options: { topic?: string; expect?: 'ok' | 'error' | 'any'; config?: Record<string, unknown> } = {},
): Promise<Listener> {
  const channel = client.channel(options.topic ?? uniqueTopic(), options.config ? { config: options.config } : undefined)
  const listener: Listener = { channel, changes: [], byBinding: bindings.map(() => []), system: [], broadcasts: [] }
  bindings.forEach((binding, i) => {
    channel.on('postgres_changes' as never, { schema: 'public', ...binding } as never, (payload: ClientChange) => {
      listener.changes.push(payload)
      listener.byBinding[i]!.push(payload)
    })
  })
  channel.on('system', {}, (payload: { status: string; message: string; extension: string }) => {
    if (payload.extension === 'postgres_changes') listener.system.push(payload)
  })
  channel.on('broadcast', { event: '*' }, (message) => listener.broadcasts.push(message as unknown as Listener['broadcasts'][number]))
  const { status, error } = await subscribe(channel)
  expect(status, error?.message).toBe('SUBSCRIBED')
  if (bindings.length > 0) {
    await waitFor(() => listener.system.length > 0, 10_000, 'postgres_changes system message')
    const want = options.expect ?? 'ok'
    if (want === 'ok') expect(listener.system[0]).toMatchObject({ status: 'ok', message: 'Subscribed to PostgreSQL' })
    if (want === 'error') expect(listener.system[0]!.status).toBe('error')
  }
  return listener
}

/**
 * A commit-order barrier per client: `ticks` (no RLS, in the publication) must exist. `sync()`
 * inserts a tick and waits until this client's tick channel got it.
 */
export async function tickBarrier(client: SupabaseClient, sql: postgres.Sql) {
  const ticks = await listen(client, [{ event: 'INSERT', table: 'ticks' }])
  return {
    async sync(): Promise<void> {
      const [row] = await sql<{ id: number }[]>`insert into ticks default values returning id`
      const id = Number(row!.id)
      await waitFor(() => ticks.changes.some((c) => c.new.id === id), 10_000, `tick ${id}`)
    },
  }
}

export const TICKS_SQL = `
  create table ticks (id bigint generated always as identity primary key, at timestamptz default now());
  grant select on ticks to anon, authenticated;
  alter publication supabase_realtime add table ticks;
`
