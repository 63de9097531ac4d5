/**
 * The set-based policy check (policy-inline.ts) against Postgres's own RLS: the same requests
 * are authorized with the compiled policy and without it (the check function, which runs the
 * query under the subscriber's role and claims), and must give the same rows, context by
 * context. Then 1,000 users through the whole service, each owning its own rows.
 */
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../../test-support/database.js'
import { createAuthContext, type AuthContext } from '../../src/auth/auth-context.js'
import { Catalog, type TableFacts } from '../../src/cdc/catalog.js'
import { Change, type RelationInfo } from '../../src/cdc/change.js'
import { RlsAuthorizer, type VisibilityRequest } from '../../src/cdc/rls-authorizer.js'
import { systemClock } from '../../src/clock.js'
import { migrate } from '../../src/db/migrations.js'
import { silentLogger } from '../../src/logger.js'
import { createHarness, sleep, subscribe, user, type Harness } from './cdc-harness.js'

// Role names are cluster-wide: a suffix keeps parallel runs apart.
const SUFFIX = Math.random().toString(36).slice(2, 8)
const MEMBER = `sb_inline_member_${SUFFIX}`
const GROUP = `sb_inline_group_${SUFFIX}`
const OTHER = `sb_inline_other_${SUFFIX}`

const COLUMNS = 'id int primary key, owner text, org text, uid uuid, shared boolean not null default false, level int'
/** Table name → policies (and whether they should compile). */
const TABLES: Record<string, { policies: string; inline: boolean }> = {
  per_user: { inline: true, policies: `create policy p on %t for select to authenticated using (owner = (auth.jwt() ->> 'sub'))` },
  or_and: {
    inline: true,
    policies: `create policy p1 on %t for select to authenticated using (owner = (auth.jwt() ->> 'sub'));
      create policy p2 on %t for all to public using (shared);
      create policy r1 on %t as restrictive for select to authenticated using (org = ((auth.jwt() -> 'app_metadata') ->> 'org'));
      create policy r2 on %t as restrictive for select to ${OTHER} using (false)`,
  },
  by_role: {
    inline: true,
    policies: `create policy p1 on %t for select to ${GROUP} using (level >= ((auth.jwt() ->> 'level')::int));
      create policy p2 on %t for select to ${OTHER} using (true);
      create policy p3 on %t for select to authenticated using (auth.role() = 'authenticated' and shared)`,
  },
  by_uid: { inline: true, policies: `create policy p on %t for select to authenticated using (uid = auth.uid() or uid = (select auth.uid()))` },
  uid_text: { inline: true, policies: `create policy p on %t for select to authenticated using (owner = (auth.uid())::text or coalesce(org, '') in ('a', 'b'))` },
  current_user: { inline: false, policies: `create policy p on %t for select to authenticated using (owner = (auth.jwt() ->> 'sub') and current_user = 'authenticated')` },
  restrictive_only: { inline: false, policies: `create policy r on %t as restrictive for select to authenticated using (owner = (auth.jwt() ->> 'sub'))` },
  user_function: { inline: false, policies: `create policy p on %t for select to authenticated using (public.sb_inline_is_owner_${SUFFIX}(owner))` },
}

const relation: RelationInfo = {
  id: 1, schema: 'public', table: 'x', replicaIdentity: 'd',
  columns: [{ name: 'id', isKey: true, type: { oid: 23, name: 'int4', kind: 'number', element: null, delimiter: ',' } }],
  columnIndex: new Map([['id', 0]]),
}
const change = (id: number) => new Change(relation, 'INSERT', [String(id)], null, null, 'ts', { lsn: 1n, index: id, seq: id }, 10, 0)

const UUIDS = ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003']
const ROWS: [number, string | null, string | null, string | null, boolean, number | null][] = []
for (let i = 1; i <= 40; i++) {
  const owner = i % 7 === 0 ? null : i % 5 === 0 ? UUIDS[i % 3]! : `u${i % 6}`
  ROWS.push([i, owner, i % 4 === 0 ? null : ['a', 'b', 'c'][i % 3]!, i % 6 === 0 ? null : UUIDS[i % 3]!, i % 3 === 0, i % 9 === 0 ? null : i % 5])
}

/** Contexts with claims of every shape the policies read: present, missing, wrong type, nested. */
function contexts(role: string): AuthContext[] {
  const out: AuthContext[] = []
  for (let i = 0; i < 6; i++) {
    out.push(createAuthContext({ role, sub: `u${i}`, exp: 4e9, level: i % 5, app_metadata: { org: ['a', 'b', 'c'][i % 3] } }))
  }
  out.push(createAuthContext({ role, sub: UUIDS[0], exp: 4e9, app_metadata: 'not an object', level: '2' }))
  out.push(createAuthContext({ role, sub: UUIDS[1], exp: 4e9, app_metadata: { org: 'a', other: { deep: 1 } } }))
  out.push(createAuthContext({ role, exp: 4e9 })) // no sub
  out.push(createAuthContext({ role, sub: 42, exp: 4e9, app_metadata: { org: null } })) // non-string sub
  return out
}

describe('set-based RLS check vs Postgres', () => {
  let db: TestDatabase
  let sql: postgres.Sql
  beforeAll(async () => {
    db = await createTestDatabase('inline')
    sql = postgres(db.url, { max: 4, onnotice: () => {} })
    await migrate(sql, silentLogger)
    await sql.unsafe(`
      create role ${GROUP} nologin; create role ${MEMBER} nologin in role ${GROUP}; create role ${OTHER} nologin;
      grant usage on schema auth to ${MEMBER}, ${OTHER};
      create function public.sb_inline_is_owner_${SUFFIX}(o text) returns boolean language sql stable as $$ select o = (auth.jwt() ->> 'sub') $$;`).simple()
    for (const [name, { policies }] of Object.entries(TABLES)) {
      await sql.unsafe(`
        create table public.${name} (${COLUMNS});
        alter table public.${name} enable row level security;
        ${policies.replace(/%t/g, `public.${name}`)};
        grant select on public.${name} to authenticated, ${MEMBER}, ${OTHER};`).simple()
      await sql`insert into ${sql(name)} ${sql(ROWS.map(([id, owner, org, uid, shared, level]) => ({ id, owner, org, uid, shared, level })))}`
    }
  })
  afterAll(async () => {
    await sql?.unsafe(`drop owned by ${GROUP}, ${MEMBER}, ${OTHER}; drop role if exists ${MEMBER}; drop role if exists ${GROUP}; drop role if exists ${OTHER}`).simple().catch(() => {})
    await sql?.end()
    await db?.drop()
  })

  /** Visible row ids per context, or 'failed' where the check raised. */
  async function check(authorizer: RlsAuthorizer, table: TableFacts, ctxs: AuthContext[], inline: VisibilityRequest['inline']) {
    // Two keys whose rows do not exist (deleted since the change): visible to nobody.
    const changes = [...ROWS.map(([id]) => change(id)), change(98), change(99)]
    // Contexts ask for different rows too (slices): the first half all, the rest every other row.
    const requests = ctxs.map((context, n) => ({ context, table, current: n < ctxs.length / 2 ? changes : changes.filter((_, i) => i % 2 === 0), old: [], inline }))
    const results = await authorizer.authorize(requests)
    return requests.map((r) => {
      const result = results.get(r)!
      return result.failure ? 'failed' : [...result.current].map((c) => Number(c.value('id'))).sort((a, b) => a - b)
    })
  }

  for (const [name, { inline: compiles }] of Object.entries(TABLES)) {
    for (const role of ['authenticated', MEMBER, OTHER]) {
      it(`${name}, role ${role.replace(SUFFIX, '…')}: ${compiles ? 'the same rows as Postgres' : 'not compiled'}`, async () => {
        const catalog = new Catalog(sql, systemClock)
        const table = (await catalog.table('public', name))!
        const policy = await catalog.inlinePolicy(role, table)
        if (!compiles) {
          expect(policy).toBeNull()
          return
        }
        if (name !== 'by_role' && role !== 'authenticated') {
          // Only PUBLIC policies apply to these roles; or_and's PUBLIC one compiles, the others have none permissive.
          if (name !== 'or_and') { expect(policy).toBeNull(); return }
        }
        expect(policy).not.toBeNull()
        const authorizer = new RlsAuthorizer(sql, silentLogger)
        const ctxs = contexts(role)
        const viaPostgres = await check(authorizer, table, ctxs, null)
        const setBased = await check(authorizer, table, ctxs, policy)
        // by_uid with a non-uuid sub raises in both: the whole batch is retried per context, and
        // only the contexts whose check raises fail.
        expect(setBased).toEqual(viaPostgres)
        // The comparison is not vacuous: some rows are visible, and not all of them to everyone.
        const counts = viaPostgres.map((v) => (v === 'failed' ? -1 : v.length))
        if (name === 'or_and' && role === OTHER) {
          // Its restrictive `false` policy hides everything the PUBLIC one shows.
          expect(Math.max(...counts)).toBe(0)
          return
        }
        expect(Math.max(...counts)).toBeGreaterThan(0)
        if (name !== 'by_role' || role !== OTHER) expect(new Set(counts).size).toBeGreaterThan(1)
      })
    }
  }
})

describe('through the service', () => {
  let h: Harness
  beforeAll(async () => {
    h = await createHarness(`
      create table public.owned (id int primary key, owner text not null);
      alter table public.owned enable row level security;
      create policy "own" on public.owned for select to authenticated using (owner = (auth.jwt() ->> 'sub'));
      grant select on public.owned to authenticated;
      create role ${GROUP}_s nologin; create role ${MEMBER}_s nologin in role ${GROUP}_s;
      grant usage on schema auth to ${MEMBER}_s;
      create table public.owned_by_group (id int primary key, owner text not null);
      alter table public.owned_by_group enable row level security;
      create policy "own" on public.owned_by_group for select to ${GROUP}_s using (owner = (auth.jwt() ->> 'sub'));
      grant select on public.owned_by_group to ${MEMBER}_s;
      alter publication supabase_realtime add table public.owned, public.owned_by_group;`)
    await h.service.start()
  })
  afterAll(async () => {
    await h.sql.unsafe(`drop owned by ${MEMBER}_s, ${GROUP}_s; drop role if exists ${MEMBER}_s; drop role if exists ${GROUP}_s`).simple().catch(() => {})
    await h.close()
  })

  it('a policy that applies through role membership tells users apart (no shared check)', async () => {
    const binding = [{ event: 'INSERT', schema: 'public', table: 'owned_by_group' }]
    const subs = await Promise.all(['g1', 'g2'].map((sub) => subscribe(h, binding, createAuthContext({ role: `${MEMBER}_s`, sub, exp: 4e9 }))))
    await h.sql`insert into owned_by_group values (1, 'g1'), (2, 'g2'), (3, 'g1')`
    await subs[0]!.changeCount(2)
    await subs[1]!.changeCount(1)
    await sleep(200)
    expect(subs.map((s) => s.changes.map((c) => c.data.record!.id))).toEqual([[1, 3], [2]])
    for (const s of subs) h.service.unsubscribe(s)
  })

  it('each of 1,000 users gets exactly its rows, in one batch', { timeout: 60_000 }, async () => {
    const USERS = 1000
    const subs = await Promise.all(Array.from({ length: USERS }, (_, i) => subscribe(h, [{ event: 'INSERT', schema: 'public', table: 'owned' }], user(`user-${i}`))))
    // Two rows per user and a few nobody sees, in one transaction (one batch).
    await h.sql`insert into owned select g, case when g > ${2 * USERS} then 'nobody' else 'user-' || (g % ${USERS}) end from generate_series(1, ${2 * USERS + 5}) g`
    for (const s of subs) await s.changeCount(2, 20_000)
    await sleep(300)
    subs.forEach((s, i) => {
      expect(s.changes.map((c) => c.data.record!.id).sort((a, b) => (a as number) - (b as number))).toEqual([i || USERS, (i || USERS) + USERS])
    })
    for (const s of subs) h.service.unsubscribe(s)
  })
})
