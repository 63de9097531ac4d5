import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { anon, createHarness, sleep, subscribe, user, type Harness } from './cdc-harness.js'

const SETUP = `
  create table public.calls (id int primary key, tenant_id text not null, status text, secret text);
  alter table public.calls enable row level security;
  create policy "own tenant" on public.calls for select to authenticated
    using (tenant_id = (auth.jwt() ->> 'tenant_id'));
  grant select on public.calls to authenticated, anon;
  revoke select on public.calls from authenticated;
  grant select (id, tenant_id, status) on public.calls to authenticated;
  create table public.calls_full (like public.calls including all);
  alter table public.calls_full replica identity full;
  alter table public.calls_full enable row level security;
  create policy "own tenant" on public.calls_full for select to authenticated
    using (tenant_id = (auth.jwt() ->> 'tenant_id'));
  grant select on public.calls_full to authenticated;
  create table public.notes (id int primary key, owner text not null);
  alter table public.notes enable row level security;
  create policy "own notes" on public.notes for select to authenticated using (owner = (auth.jwt() ->> 'sub'));
  grant select on public.notes to authenticated;
  create table public.notes_init (id int primary key, owner text not null, shared boolean not null default false);
  alter table public.notes_init enable row level security;
  create policy "own or shared" on public.notes_init for select to authenticated
    using (owner = (select auth.jwt() ->> 'sub') or shared);
  grant select on public.notes_init to authenticated;
  create table public.notes_multi (a int, b text, owner text not null, primary key (a, b));
  alter table public.notes_multi enable row level security;
  create policy "own" on public.notes_multi for select to authenticated using (owner = (select auth.jwt() ->> 'sub'));
  grant select on public.notes_multi to authenticated;
  -- CURRENT_USER cannot be evaluated set-based (policy-inline.ts): this table keeps the check function.
  create table public.notes_fn (id int primary key, owner text not null);
  alter table public.notes_fn enable row level security;
  create policy "own, by role" on public.notes_fn for select to authenticated using (owner = (auth.jwt() ->> 'sub') and current_user = 'authenticated');
  grant select on public.notes_fn to authenticated;
  alter publication supabase_realtime add table public.calls, public.calls_full, public.notes, public.notes_init, public.notes_multi, public.notes_fn;
`

describe('PostgresChangesService: row-level security per auth context', () => {
  let h: Harness
  beforeAll(async () => {
    h = await createHarness(SETUP)
    await h.service.start()
  })
  afterAll(async () => { await h.close() })

  const t1 = user('u1', { tenant_id: 't1' })
  const t1b = user('u1b', { tenant_id: 't1' })
  const t2 = user('u2', { tenant_id: 't2' })
  const binding = (table: string) => [{ event: '*', schema: 'public', table }]

  it('INSERT and UPDATE: each tenant sees its rows; a row moved away is not shown with its new values', async () => {
    const [a, a2, b, nobody] = await Promise.all([
      subscribe(h, binding('calls'), t1), subscribe(h, binding('calls'), t1b), subscribe(h, binding('calls'), t2), subscribe(h, binding('calls'), anon),
    ])
    await h.sql`insert into calls values (1, 't1', 'open', 's1'), (2, 't2', 'open', 's2')`
    // Visibility is checked on the row as it is when the batch is authorized (as Supabase), so
    // let the insert be delivered before moving the row.
    await a.changeCount(1)
    await h.sql`update calls set tenant_id = 't2', status = 'moved' where id = 1`
    await b.changeCount(2)
    await a.changeCount(1)
    await sleep(200)
    expect(a.changes.map((c) => [c.data.type, c.data.record])).toEqual([['INSERT', { id: 1, tenant_id: 't1', status: 'open' }]])
    expect(a2.changes.map((c) => c.data.record!.id)).toEqual([1])
    // Column privileges: `secret` is not selectable by authenticated.
    expect(a.changes[0]!.data.columns).toEqual([{ name: 'id', type: 'int4' }, { name: 'tenant_id', type: 'text' }, { name: 'status', type: 'text' }])
    expect(b.changes.map((c) => [c.data.type, c.data.record!.id])).toEqual([['INSERT', 2], ['UPDATE', 1]])
    expect(b.changes[1]!.data.record).toEqual({ id: 1, tenant_id: 't2', status: 'moved' })
    // anon has SELECT but no policy: nothing.
    expect(nobody.changes).toEqual([])
    // Two subscribers of one tenant share one encoded payload.
    expect(a.changes[0]!.json).toBe(a2.changes[0]!.json)
    for (const s of [a, a2, b, nobody]) h.service.unsubscribe(s)
  })

  it('DELETE with DEFAULT identity: delivered as Supabase does, primary key only', async () => {
    const [a, b] = await Promise.all([subscribe(h, binding('calls'), t1), subscribe(h, binding('calls'), t2)])
    await h.sql`insert into calls values (10, 't1', 'open', 'x')`
    await a.changeCount(1)
    await h.sql`delete from calls where id = 10`
    await a.changeCount(2)
    await b.changeCount(1)
    expect(a.changes[1]!.data.old_record).toEqual({ id: 10 })
    expect(b.changes.map((c) => [c.data.type, c.data.old_record])).toEqual([['DELETE', { id: 10 }]])
    h.service.unsubscribe(a)
    h.service.unsubscribe(b)
  })

  it('DELETE with REPLICA IDENTITY FULL: only contexts whose policies saw the old row', async () => {
    const [a, b] = await Promise.all([subscribe(h, binding('calls_full'), t1), subscribe(h, binding('calls_full'), t2)])
    await h.sql`insert into calls_full values (20, 't1', 'open', 'x'), (21, 't2', 'open', 'y')`
    await a.changeCount(1)
    await b.changeCount(1)
    await h.sql`delete from calls_full where id in (20, 21)`
    await a.changeCount(2)
    await b.changeCount(2)
    await sleep(200)
    expect(a.changes.map((c) => [c.data.type, c.data.type === 'DELETE' ? c.data.old_record : c.data.record!.id]))
      .toEqual([['INSERT', 20], ['DELETE', { id: 20, tenant_id: 't1', status: 'open', secret: 'x' }]])
    expect(b.changes.map((c) => [c.data.type, c.data.type === 'DELETE' ? c.data.old_record!.id : c.data.record!.id]))
      .toEqual([['INSERT', 21], ['DELETE', 21]])
    h.service.unsubscribe(a)
    h.service.unsubscribe(b)
  })

  it('UPDATE with FULL identity: old_record whole only when the old row was visible', async () => {
    const [a, b] = await Promise.all([subscribe(h, binding('calls_full'), t1), subscribe(h, binding('calls_full'), t2)])
    await h.sql`insert into calls_full values (30, 't1', 'open', 'x')`
    await a.changeCount(1)
    await h.sql`update calls_full set tenant_id = 't2' where id = 30`
    await b.changeCount(1)
    await sleep(200)
    expect(a.changes.map((c) => c.data.type)).toEqual(['INSERT'])
    expect(b.changes[0]!.data.old_record).toEqual({ id: 30 })
    expect(b.changes[0]!.data.record).toMatchObject({ id: 30, tenant_id: 't2' })
    h.service.unsubscribe(a)
    h.service.unsubscribe(b)
  })

  // The policy reads `sub`, so nothing is grouped: one check per context. `notes` is checked
  // set-based (policy-inline.ts); `notes_fn`'s policy reads CURRENT_USER, which cannot be, so it
  // takes the check function, contexts one after another in one simple-protocol message (one
  // implicit transaction, rls-authorizer.ts).
  it.each([
    { table: 'notes', how: 'set-based', prefix: 'n' },
    { table: 'notes_fn', how: 'through the check function', prefix: 'f' },
  ])('a per-user policy checked $how: contexts of one batch each see only their rows', async ({ table, prefix }) => {
    const users = [1, 2, 3].map((n) => `${prefix}${n}`) as [string, string, string]
    const subs = await Promise.all(users.map((sub) => subscribe(h, binding(table), user(sub))))
    await h.sql`insert into ${h.sql(table)} values (1, ${users[0]}), (2, ${users[1]}), (3, ${users[2]}), (4, ${users[0]}), (5, 'nobody')`
    await subs[0]!.changeCount(2)
    await subs[1]!.changeCount(1)
    await subs[2]!.changeCount(1)
    await sleep(200)
    expect(subs.map((s) => s.changes.map((c) => c.data.record!.id))).toEqual([[1, 4], [2], [3]])
    for (const s of subs) h.service.unsubscribe(s)
  })

  it('a per-user policy with an initPlan `(select auth.jwt() ->> \'sub\')`: evaluated per context, in one batch', async () => {
    // One check-function call runs the contexts one after another (rls-authorizer.ts); each
    // iteration is a new execution, so the initPlan reads each context's own claims. Users
    // with distinct filters ask for distinct keys in the same call.
    const users = ['m1', 'm2', 'm3', 'm4'].map((sub) => user(sub))
    const subs = await Promise.all(users.map((u) => subscribe(h, binding('notes_init'), u)))
    const filtered = await subscribe(h, [{ event: 'INSERT', schema: 'public', table: 'notes_init', filter: 'id=in.(5,6)' }], user('m5'))
    await h.sql`insert into notes_init values (1, 'm1', false), (2, 'm2', false), (3, 'm3', false), (4, 'm1', false), (5, 'nobody', false), (6, 'nobody', true), (7, 'm4', false)`
    await subs[0]!.changeCount(3)
    await subs[1]!.changeCount(2)
    await subs[2]!.changeCount(2)
    await subs[3]!.changeCount(2)
    await filtered.changeCount(1)
    await sleep(200)
    expect(subs.map((s) => s.changes.map((c) => c.data.record!.id))).toEqual([[1, 4, 6], [2, 6], [3, 6], [6, 7]])
    expect(filtered.changes.map((c) => c.data.record!.id)).toEqual([6])
    // An UPDATE that moves a row to another user, in the same batch as a new row.
    await h.sql.begin(async (tx) => {
      await tx`update notes_init set owner = 'm3' where id = 1`
      await tx`insert into notes_init values (8, 'm2', false)`
    })
    await subs[2]!.changeCount(3)
    await subs[1]!.changeCount(3)
    await sleep(200)
    expect(subs.map((s) => s.changes.slice(-1).map((c) => [c.data.type, c.data.record!.id]))).toEqual([[['INSERT', 6]], [['INSERT', 8]], [['UPDATE', 1]], [['INSERT', 7]]])
    for (const s of [...subs, filtered]) h.service.unsubscribe(s)
  })

  it('a per-user policy on a composite primary key: each user sees only their rows', async () => {
    const users = ['k1', 'k2', 'k3'].map((sub) => user(sub))
    const subs = await Promise.all(users.map((u) => subscribe(h, binding('notes_multi'), u)))
    await h.sql`insert into notes_multi values (1, 'x', 'k1'), (1, 'y', 'k2'), (2, 'x', 'k3'), (2, 'y', 'k1')`
    await subs[0]!.changeCount(2)
    await subs[1]!.changeCount(1)
    await subs[2]!.changeCount(1)
    await sleep(200)
    expect(subs.map((s) => s.changes.map((c) => [c.data.record!.a, c.data.record!.b]))).toEqual([[[1, 'x'], [2, 'y']], [[1, 'y']], [[2, 'x']]])
    for (const s of subs) h.service.unsubscribe(s)
  })

  it('a check function is created once per table, revoked from PUBLIC, and a dropped one is recreated', async () => {
    const fns = await h.sql<{ name: string; acl: string | null }[]>`
      select p.proname as name, p.proacl::text as acl from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'realtime' and p.proname like 'switchboard_rls_%'`
    expect(fns.length).toBeGreaterThan(0)
    for (const fn of fns) expect(fn.acl ?? '').not.toMatch(/(^|[{,])=X/)
    // Drop them behind the server's back: the next batch fails, is retried with per-context
    // queries (still correct), and the function comes back after that.
    for (const fn of fns) await h.sql.unsafe(`drop function realtime."${fn.name}"`)
    const users = ['d1', 'd2', 'd3'].map((sub) => user(sub))
    const subs = await Promise.all(users.map((u) => subscribe(h, binding('notes_fn'), u)))
    await h.sql`insert into notes_fn values (101, 'd1'), (102, 'd2'), (103, 'd3')`
    for (const s of subs) await s.changeCount(1)
    await h.sql`insert into notes_fn values (104, 'd1'), (105, 'd2'), (106, 'd3')`
    for (const s of subs) await s.changeCount(2)
    await sleep(200)
    expect(subs.map((s) => s.changes.map((c) => c.data.record!.id))).toEqual([[101, 104], [102, 105], [103, 106]])
    const [functions] = await h.sql<{ count: number }[]>`
      select count(*)::int as count from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'realtime' and p.proname like 'switchboard_rls_%'`
    expect(functions?.count).toBeGreaterThan(0)
    for (const s of subs) h.service.unsubscribe(s)
  })

  it('token refresh moves a subscriber to its new context', async () => {
    const a = await subscribe(h, binding('calls'), t1)
    await h.sql`insert into calls values (40, 't2', 'open', 'x')`
    await sleep(200)
    expect(a.changes).toEqual([])
    h.service.updateAuth(a, t2)
    await h.sql`insert into calls values (41, 't2', 'open', 'x')`
    const [c] = await a.changeCount(1)
    expect(c!.data.record!.id).toBe(41)
    h.service.unsubscribe(a)
  })
})
