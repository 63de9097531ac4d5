/**
 * Postgres Changes and authorization, through the real server and the official client:
 * RLS per tenant for INSERT/UPDATE/DELETE (REPLICA IDENTITY FULL and DEFAULT), anon without a
 * policy, invalid bindings answered with a `system` error on a channel that stays healthy, and
 * `realtime.send(…)` from SQL reaching clients as broadcasts (public and private channels).
 *
 * Tokens carry `tenant_id`; the policy is the example:
 *   using (tenant_id = (auth.jwt() ->> 'tenant_id'))
 */
import type { SupabaseClient } from '@supabase/supabase-js'
import type postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { subscribe, startHarness, waitFor, type Harness } from './support/harness.js'
import { expectRoundTrip } from './support/checks.js'
import { listen, tickBarrier, TICKS_SQL, uniqueTopic } from './support/pg-changes.js'

let h: Harness
let sql: postgres.Sql
beforeAll(async () => {
  h = await startHarness()
  sql = h.sql
  await sql.unsafe(`
    ${TICKS_SQL}
    create table calls (id int8 primary key, tenant_id text not null, phone_id text, status text);
    alter table calls replica identity full;
    create table calls_default (like calls including all);
    create table hidden (id int8 primary key, v text);
    create table unpublished (id int8 primary key);
    do $$ declare t text; begin
      foreach t in array array['calls', 'calls_default'] loop
        execute format('alter table %I enable row level security', t);
        execute format($p$create policy "own tenant" on %I for select to authenticated using (tenant_id = (auth.jwt() ->> 'tenant_id'))$p$, t);
      end loop;
    end $$;
    alter table hidden enable row level security; -- and no policy at all
    alter table hidden replica identity full;
    alter publication supabase_realtime add table calls, calls_default, hidden;
  `).simple()
})
afterAll(async () => { await h?.close() })

let subs = 0
/** An official client whose key (and so its join access_token) is a tenant user's JWT. */
async function tenantClient(tenant: string): Promise<SupabaseClient> {
  return h.client({ key: await h.token({ role: 'authenticated', sub: `user-${++subs}`, tenant_id: tenant }) })
}

async function tenants(table: string) {
  const c1 = await tenantClient('1')
  const c2 = await tenantClient('2')
  const t1 = await listen(c1, [{ event: '*', table }])
  const t2 = await listen(c2, [{ event: '*', table }])
  const b1 = await tickBarrier(c1, sql)
  const b2 = await tickBarrier(c2, sql)
  return { t1, t2, sync: async () => { await b1.sync(); await b2.sync() } }
}

const summary = (changes: { eventType: string; new: Record<string, unknown>; old: Record<string, unknown> }[]) =>
  changes.map((c) => ({ type: c.eventType, new: c.new, old: c.old }))

describe('RLS per tenant', () => {
  test('INSERT: each tenant receives only its own rows', async () => {
    const { t1, t2, sync } = await tenants('calls')
    await sql`insert into calls values (1, '1', 'p1', 'ringing'), (2, '2', 'p1', 'ringing'), (3, '1', 'p2', 'idle')`
    await sync()
    expect(t1.changes.map((c) => c.new.id)).toEqual([1, 3])
    expect(t2.changes.map((c) => c.new.id)).toEqual([2])
  })

  test('UPDATE moving a row from tenant 1 to tenant 2: tenant 1 never sees the new values', async () => {
    const { t1, t2, sync } = await tenants('calls')
    await sql`insert into calls values (10, '1', 'p1', 'ringing')`
    await sql`update calls set status = 'answered' where id = 10`
    // INSERT/UPDATE visibility is the row as it is when the batch is checked (as Supabase), so
    // let tenant 1 see the first UPDATE before the row moves away (see the docs' limits).
    await waitFor(() => t1.changes.length === 2, 5_000, 'first update')
    await sql`update calls set tenant_id = '2', status = 'transferred' where id = 10`
    await sync()
    expect(summary(t1.changes)).toEqual([
      { type: 'INSERT', new: { id: 10, tenant_id: '1', phone_id: 'p1', status: 'ringing' }, old: {} },
      // FULL identity and the old row passes tenant 1's policy: the whole old row.
      { type: 'UPDATE', new: { id: 10, tenant_id: '1', phone_id: 'p1', status: 'answered' }, old: { id: 10, tenant_id: '1', phone_id: 'p1', status: 'ringing' } },
    ])
    // Tenant 2 sees the row arrive; its old values (tenant 1's) are cut to the primary key.
    expect(summary(t2.changes)).toEqual([
      { type: 'UPDATE', new: { id: 10, tenant_id: '2', phone_id: 'p1', status: 'transferred' }, old: { id: 10 } },
    ])
  })

  test('DELETE with REPLICA IDENTITY FULL: only contexts whose policies saw the old row, with the whole old row', async () => {
    await sql`insert into calls values (20, '1', 'p9', 'idle'), (21, '2', 'p9', 'idle')`
    const { t1, t2, sync } = await tenants('calls')
    await sql`delete from calls where id in (20, 21)`
    await sync()
    expect(summary(t1.changes)).toEqual([{ type: 'DELETE', new: {}, old: { id: 20, tenant_id: '1', phone_id: 'p9', status: 'idle' } }])
    expect(summary(t2.changes)).toEqual([{ type: 'DELETE', new: {}, old: { id: 21, tenant_id: '2', phone_id: 'p9', status: 'idle' } }])
  })

  test('DELETE with REPLICA IDENTITY DEFAULT: as Supabase, every subscriber gets it, primary key only', async () => {
    await sql`insert into calls_default values (30, '1', 'p1', 'idle')`
    const { t1, t2, sync } = await tenants('calls_default')
    const anon = await listen(h.client(), [{ event: '*', table: 'calls_default' }])
    await sql`update calls_default set status = 'busy' where id = 30`
    await waitFor(() => t1.changes.length === 1, 5_000, 'update') // checked against the row as it is then
    await sql`delete from calls_default where id = 30`
    await sync()
    // UPDATE is still checked against the row as it is now (tenant 1 only); DELETE cannot be.
    expect(summary(t1.changes)).toEqual([
      { type: 'UPDATE', new: { id: 30, tenant_id: '1', phone_id: 'p1', status: 'busy' }, old: { id: 30 } },
      { type: 'DELETE', new: {}, old: { id: 30 } },
    ])
    expect(summary(t2.changes)).toEqual([{ type: 'DELETE', new: {}, old: { id: 30 } }])
    // Even a role without any policy gets the key of a deleted row: only FULL identity prevents it.
    await waitFor(() => anon.changes.length === 1, 5_000, 'anon delete')
    expect(summary(anon.changes)).toEqual([{ type: 'DELETE', new: {}, old: { id: 30 } }])
  })

  test('a filter and RLS together: tenant 1 on phone p1 only', async () => {
    const c1 = await tenantClient('1')
    const l = await listen(c1, [{ event: 'INSERT', table: 'calls', filter: 'phone_id=eq.p1' }])
    const barrier = await tickBarrier(c1, sql)
    await sql`insert into calls values (40, '1', 'p1', 'a'), (41, '1', 'p2', 'b'), (42, '2', 'p1', 'c')`
    await barrier.sync()
    expect(l.changes.map((c) => c.new.id)).toEqual([40])
  })

  test('anon without a policy receives nothing (INSERT, UPDATE, DELETE)', async () => {
    const anon = h.client() // the anon key
    const onCalls = await listen(anon, [{ event: '*', table: 'calls' }])
    const onHidden = await listen(anon, [{ event: '*', table: 'hidden' }])
    const barrier = await tickBarrier(anon, sql)
    const c1 = await tenantClient('1')
    const authed = await listen(c1, [{ event: '*', table: 'hidden' }])
    const barrier1 = await tickBarrier(c1, sql)
    await sql`insert into calls values (50, '1', 'p1', 'x')`
    await sql`update calls set status = 'y' where id = 50`
    await sql`delete from calls where id = 50`
    await sql`insert into hidden values (1, 'secret')`
    await sql`update hidden set v = 'still secret' where id = 1`
    await sql`delete from hidden where id = 1`
    await barrier.sync()
    await barrier1.sync()
    expect(onCalls.changes).toEqual([])
    expect(onHidden.changes).toEqual([])
    // RLS on and no policy: authenticated sees nothing either (FULL identity: DELETEs are checked).
    expect(authed.changes).toEqual([])
  })

  test('a refreshed token (setAuth) moves the subscriber to its new tenant', async () => {
    const client = await tenantClient('1')
    const l = await listen(client, [{ event: 'INSERT', table: 'calls' }])
    const barrier = await tickBarrier(client, sql)
    await sql`insert into calls values (60, '1', 'p', 'x'), (61, '2', 'p', 'x')`
    await barrier.sync()
    await client.realtime.setAuth(await h.token({ role: 'authenticated', sub: 'mover', tenant_id: '2' }))
    await new Promise((r) => setTimeout(r, 200)) // access_token is a push without a reply
    await sql`insert into calls values (62, '1', 'p', 'x'), (63, '2', 'p', 'x')`
    await barrier.sync()
    expect(l.changes.map((c) => c.new.id)).toEqual([60, 63])
  })
})

describe('invalid bindings', () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ['unknown table', { table: 'no_such_table' }, /^Unable to subscribe to changes with given parameters\. Please check Realtime is enabled for the given connect parameters: \[event: \*, schema: public, table: no_such_table/],
    ['bad filter operator', { table: 'calls', filter: 'id=nope.1' }, /^Error parsing `filter` params/],
    ['filter value of the wrong type', { table: 'calls', filter: 'id=eq.abc' }, /^Error parsing `filter` params/],
    ['unknown filter column', { table: 'calls', filter: 'nope=eq.1' }, /^invalid column for filter nope$/],
    ['table not in the publication', { table: 'unpublished' }, /^Unable to subscribe to changes with given parameters/],
  ]

  test.each(cases)('%s: system error, the channel and socket stay healthy', async (_name, binding, message) => {
    const client = await tenantClient('1')
    const good = await listen(client, [{ event: 'INSERT', table: 'calls' }])
    const topic = uniqueTopic('bad')
    const bad = await listen(client, [{ event: '*', ...binding }], { topic, expect: 'error', config: { broadcast: { self: true } } })
    expect(bad.system[0]!.message).toMatch(message)
    expect(bad.channel.state).toBe('joined')
    // A broadcast on the very channel still works…
    expect(await bad.channel.send({ type: 'broadcast', event: 'still-here', payload: { ok: true } })).toBe('ok')
    await waitFor(() => bad.broadcasts.some((b) => b.event === 'still-here'), 5_000, 'self broadcast')
    // …and so do the socket's other postgres_changes channels, and the server at large.
    await sql`insert into calls values (${70 + cases.findIndex(([n]) => n === _name)}, '1', 'p', 'after error')`
    await waitFor(() => good.changes.some((c) => c.new.status === 'after error'), 5_000, 'change after error')
    await expectRoundTrip(h)
  })
})

describe('realtime.send from SQL', () => {
  beforeAll(async () => {
    await sql.unsafe(`
      create policy "tenant 1 reads ops-1" on realtime.messages for select to authenticated
        using (realtime.topic() = 'ops-1' and (auth.jwt() ->> 'tenant_id') = '1');
    `).simple()
  })

  test('public channel: a broadcast with meta.id (the payload gains the same id)', async () => {
    const client = await tenantClient('1')
    const topic = uniqueTopic('news')
    const l = await listen(client, [], { topic })
    await sql`select realtime.send(${sql.json({ headline: 'hi' })}, 'published', ${topic}, false)`
    await waitFor(() => l.broadcasts.length === 1, 5_000, 'database broadcast')
    const [b] = l.broadcasts
    expect(b).toMatchObject({ event: 'published', payload: { headline: 'hi' } })
    expect(b!.meta?.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(b!.payload.id).toBe(b!.meta!.id)
  })

  test('private channel: delivered to readers its realtime.messages policy admits; others cannot join', async () => {
    const reader = await tenantClient('1')
    const outsider = await tenantClient('2')
    const l = await listen(reader, [], { topic: 'ops-1', config: { private: true } })
    const denied = outsider.channel('ops-1', { config: { private: true } })
    expect((await subscribe(denied)).status).toBe('CHANNEL_ERROR')
    // A public channel of the same name is a different topic: it must not get private sends.
    // (Another client: realtime-js hands back the existing channel for a topic it already has.)
    const publicSame = await listen(await tenantClient('2'), [], { topic: 'ops-1' })
    await sql`select realtime.send(${sql.json({ n: 1 })}, 'alert', 'ops-1', true)`
    await sql`select realtime.send(${sql.json({ n: 2 })}, 'alert', 'ops-1', false)`
    await waitFor(() => l.broadcasts.length === 1 && publicSame.broadcasts.length === 1, 5_000, 'both broadcasts')
    expect(l.broadcasts[0]).toMatchObject({ event: 'alert', payload: { n: 1 } })
    expect(l.broadcasts[0]!.meta?.id).toBe(l.broadcasts[0]!.payload.id)
    expect(publicSame.broadcasts[0]).toMatchObject({ event: 'alert', payload: { n: 2 } })
  })
})
