import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../../test-support/database.js'
import { silentLogger } from '../../src/logger.js'
import { connectDatabase } from '../../src/db/connect.js'
import { MIGRATIONS, migrate, pruneMessages } from '../../src/db/migrations.js'

let db: TestDatabase
let sql: postgres.Sql

beforeAll(async () => {
  db = await createTestDatabase('migr')
  sql = await connectDatabase(db.url, { logger: silentLogger })
})

afterAll(async () => {
  await sql?.end()
  await db?.drop()
})

/** Runs `body` as `role` with the given claims, the way the server sets them, then rolls back. */
async function asRole<T>(role: string, claims: Record<string, unknown>, body: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
  let out: T | undefined
  await sql
    .begin(async (tx) => {
      await tx`select set_config('role', ${role}, true),
                      set_config('request.jwt.claims', ${JSON.stringify(claims)}, true),
                      set_config('request.jwt.claim.sub', ${String(claims.sub ?? '')}, true)`
      out = await body(tx)
      throw new Error('rollback')
    })
    .catch((error: Error) => {
      if (error.message !== 'rollback') throw error
    })
  return out as T
}

describe('migrate', () => {
  it('is idempotent and safe to run concurrently', async () => {
    // Several pools so the runs really overlap on different connections.
    const pools = await Promise.all([1, 2, 3].map(() => connectDatabase(db.url, { logger: silentLogger, max: 1 })))
    try {
      await Promise.all(pools.map((pool) => migrate(pool, silentLogger)))
      await migrate(sql, silentLogger)
    } finally {
      await Promise.all(pools.map((pool) => pool.end()))
    }
    const versions = await sql`select version from realtime.switchboard_migrations order by version`
    expect(versions.map((row) => row.version)).toEqual(MIGRATIONS.map((m) => m.version))

    const roles = await sql`select rolname, rolbypassrls, rolcanlogin from pg_roles
                            where rolname in ('anon', 'authenticated', 'service_role') order by rolname`
    expect(roles.map((r) => [r.rolname, r.rolbypassrls, r.rolcanlogin])).toEqual([
      ['anon', false, false],
      ['authenticated', false, false],
      ['service_role', true, false],
    ])
    const pubs = await sql`select pubname, pubinsert, pubupdate, pubdelete from pg_publication order by pubname`
    expect(pubs.map((p) => [p.pubname, p.pubinsert, p.pubupdate, p.pubdelete])).toEqual([
      ['supabase_realtime', true, true, true],
      ['switchboard_messages', true, false, false],
    ])
    const published = await sql`select schemaname, tablename from pg_publication_tables where pubname = 'switchboard_messages'`
    expect([...published]).toEqual([{ schemaname: 'realtime', tablename: 'messages' }])
    const [rls] = await sql`select relrowsecurity from pg_class where oid = 'realtime.messages'::regclass`
    expect(rls?.relrowsecurity).toBe(true)
  })

  it('lets authenticated read a table created afterwards, under an RLS policy using auth.uid() and auth.jwt()', async () => {
    await sql.unsafe(`
      create table public.notes (id serial primary key, owner uuid not null, team text not null, body text);
      alter table public.notes enable row level security;
      create policy own_or_team on public.notes for select to authenticated
        using (owner = auth.uid() or team = auth.jwt() ->> 'team');
      insert into public.notes (owner, team, body) values
        ('11111111-1111-1111-1111-111111111111', 'red', 'mine'),
        ('22222222-2222-2222-2222-222222222222', 'blue', 'team'),
        ('33333333-3333-3333-3333-333333333333', 'green', 'other');
    `).simple()
    const claims = { role: 'authenticated', sub: '11111111-1111-1111-1111-111111111111', team: 'blue' }
    const rows = await asRole('authenticated', claims, (tx) => tx`select body, auth.role() as role from public.notes order by id`)
    expect(rows.map((r) => r.body)).toEqual(['mine', 'team'])
    expect(rows[0]?.role).toBe('authenticated')
    const anon = await asRole('anon', { role: 'anon' }, (tx) => tx`select body from public.notes`.catch((e: { code: string }) => e.code))
    expect(anon).toEqual([]) // granted by default privileges, filtered to nothing by RLS
  })

  it('realtime.send inserts a broadcast row and adds the id to the payload', async () => {
    await sql`select realtime.send('{"text":"hi"}'::jsonb, 'chat', 'room-send', false)`
    await sql`select realtime.send('{"id":"mine","text":"yo"}'::jsonb, 'chat', 'room-send')`
    const rows = await sql`select id::text, topic, extension, event, private, payload from realtime.messages
                           where topic = 'room-send' order by inserted_at, payload->>'text'`
    expect(rows).toHaveLength(2)
    const [first, second] = rows
    expect(first).toMatchObject({ topic: 'room-send', extension: 'broadcast', event: 'chat', private: false })
    expect(first?.payload).toEqual({ text: 'hi', id: first?.id })
    expect(second).toMatchObject({ private: true, payload: { id: 'mine', text: 'yo' } })
  })

  it('realtime.send turns a refused insert into a warning instead of failing the caller', async () => {
    const notices: string[] = []
    const pool = postgres(db.url, { max: 1, onnotice: (n) => notices.push(String(n.message)) })
    try {
      // No INSERT policy on realtime.messages: authenticated is refused by RLS.
      await pool.begin(async (tx) => {
        await tx`select set_config('role', 'authenticated', true)`
        await tx`select realtime.send('{}'::jsonb, 'e', 'room-refused')`
      })
    } finally {
      await pool.end()
    }
    expect(notices.some((n) => n.startsWith('WarnSendingBroadcastMessage:'))).toBe(true)
    const [count] = await sql`select count(*)::int as n from realtime.messages where topic = 'room-refused'`
    expect(count?.n).toBe(0)
  })

  it('realtime.broadcast_changes builds the Supabase payload from a row trigger', async () => {
    await sql.unsafe(`
      create table public.todos (id int primary key, title text);
      create function public.todos_broadcast() returns trigger language plpgsql as $$
      begin
        perform realtime.broadcast_changes('todos:' || coalesce(new.id, old.id), tg_op, tg_op,
                                           tg_table_name, tg_table_schema, new, old);
        return null;
      end $$;
      create trigger todos_broadcast after insert or update or delete on public.todos
        for each row execute function public.todos_broadcast();
      insert into public.todos values (1, 'milk');
      update public.todos set title = 'oat milk' where id = 1;
      delete from public.todos where id = 1;
    `).simple()
    const rows = await sql`select id::text, event, private, payload from realtime.messages where topic = 'todos:1'
                           order by inserted_at, case event when 'INSERT' then 0 when 'UPDATE' then 1 else 2 end`
    expect(rows.map((r) => r.event)).toEqual(['INSERT', 'UPDATE', 'DELETE'])
    expect(rows.every((r) => r.private === true)).toBe(true)
    expect(rows[0]?.payload).toEqual({
      id: rows[0]?.id, operation: 'INSERT', schema: 'public', table: 'todos', record: { id: 1, title: 'milk' }, old_record: null,
    })
    expect(rows[1]?.payload).toMatchObject({ record: { title: 'oat milk' }, old_record: { title: 'milk' } })
    expect(rows[2]?.payload).toMatchObject({ record: null, old_record: { id: 1 } })
  })

  it('prunes old messages', async () => {
    await sql`insert into realtime.messages (topic, extension, inserted_at) values ('old', 'broadcast', now() - interval '4 days')`
    const deleted = await pruneMessages(sql, 72 * 3600_000)
    expect(deleted).toBe(1)
    const [left] = await sql`select count(*)::int as n from realtime.messages where topic = 'room-send'`
    expect(left?.n).toBe(2)
  })
})

describe('migrate on a database that already has Supabase objects', () => {
  let other: TestDatabase
  let otherSql: postgres.Sql
  beforeAll(async () => {
    other = await createTestDatabase('migr_custom')
    otherSql = await connectDatabase(other.url, { logger: silentLogger })
  })
  afterAll(async () => {
    await otherSql?.end()
    await other?.drop()
  })

  it('keeps an existing auth.uid()', async () => {
    await otherSql.unsafe(`
      create schema auth;
      create function auth.uid() returns uuid language sql stable
        as $$ select '99999999-9999-9999-9999-999999999999'::uuid $$;
    `).simple()
    await migrate(otherSql, silentLogger)
    const [row] = await otherSql`select auth.uid()::text as uid, to_regprocedure('auth.jwt()') is not null as has_jwt`
    expect(row).toEqual({ uid: '99999999-9999-9999-9999-999999999999', has_jwt: true })
  })
})
