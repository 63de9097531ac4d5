import type postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../../test-support/database.js'
import { silentLogger } from '../../src/logger.js'
import { connectDatabase } from '../../src/db/connect.js'
import { migrate } from '../../src/db/migrations.js'
import { createAuthContext } from '../../src/auth/auth-context.js'
import { ChannelAuthorizer } from '../../src/auth/channel-authorizer.js'

let db: TestDatabase
let sql: postgres.Sql
let authorizer: ChannelAuthorizer

const ALICE = '11111111-1111-1111-1111-111111111111'
const BOB = '22222222-2222-2222-2222-222222222222'
const exp = Math.floor(Date.now() / 1000) + 3600
const alice = createAuthContext({ role: 'authenticated', sub: ALICE, exp })
const bob = createAuthContext({ role: 'authenticated', sub: BOB, exp })
const anon = createAuthContext({ role: 'anon', exp })

beforeAll(async () => {
  db = await createTestDatabase('chauth')
  sql = await connectDatabase(db.url, { logger: silentLogger })
  await migrate(sql, silentLogger)
  // Policies as a Supabase project would write them: topic via realtime.topic(), feature via
  // `extension`, identity via auth.uid().
  await sql.unsafe(`
    create policy "room1 broadcast read" on realtime.messages for select to authenticated
      using (realtime.topic() = 'room1' and extension = 'broadcast');
    create policy "room1 presence read for alice" on realtime.messages for select to authenticated
      using (realtime.topic() = 'room1' and extension = 'presence' and auth.uid() = '${ALICE}');
    create policy "room1 broadcast write for alice" on realtime.messages for insert to authenticated
      with check (realtime.topic() = 'room1' and extension = 'broadcast' and auth.uid() = '${ALICE}');
    create policy "lobby read for anon" on realtime.messages for select to anon
      using (realtime.topic() = 'lobby');
  `).simple()
  authorizer = new ChannelAuthorizer(sql, silentLogger)
})

afterAll(async () => {
  await sql?.end()
  await db?.drop()
})

describe('ChannelAuthorizer.authorizeRead', () => {
  it('answers broadcast and presence separately, per policy', async () => {
    expect(await authorizer.authorizeRead('room1', alice, ['broadcast', 'presence'])).toEqual({ broadcast: true, presence: true })
    expect(await authorizer.authorizeRead('room1', bob, ['broadcast', 'presence'])).toEqual({ broadcast: true, presence: false })
    expect(await authorizer.authorizeRead('room1', alice, ['broadcast'])).toEqual({ broadcast: true, presence: false })
  })

  it('refuses topics and roles no policy covers', async () => {
    expect(await authorizer.authorizeRead('room2', alice, ['broadcast', 'presence'])).toEqual({ broadcast: false, presence: false })
    expect(await authorizer.authorizeRead('room1', anon, ['broadcast', 'presence'])).toEqual({ broadcast: false, presence: false })
    expect(await authorizer.authorizeRead('lobby', anon, ['broadcast'])).toEqual({ broadcast: true, presence: false })
  })

  it('never leaves probe rows behind', async () => {
    await authorizer.authorizeRead('room1', alice, ['broadcast', 'presence'])
    const [row] = await sql`select count(*)::int as n from realtime.messages where topic in ('room1', 'room2', 'lobby')`
    expect(row?.n).toBe(0)
  })
})

describe('ChannelAuthorizer.authorizeWrite', () => {
  it('allows what the INSERT policy allows and refuses the rest', async () => {
    expect(await authorizer.authorizeWrite('room1', alice, 'broadcast')).toBe(true)
    expect(await authorizer.authorizeWrite('room1', alice, 'presence')).toBe(false)
    expect(await authorizer.authorizeWrite('room1', bob, 'broadcast')).toBe(false)
    expect(await authorizer.authorizeWrite('room2', alice, 'broadcast')).toBe(false)
    expect(await authorizer.authorizeWrite('lobby', anon, 'broadcast')).toBe(false)
    const [row] = await sql`select count(*)::int as n from realtime.messages`
    expect(row?.n).toBe(0)
  })
})

describe('ChannelAuthorizer special identities', () => {
  it('lets service_role do everything without asking the database', async () => {
    const service = createAuthContext({ role: 'service_role', exp })
    // A closed pool would make any query fail: proves no query is made.
    const closed = await connectDatabase(db.url, { logger: silentLogger, max: 1 })
    await closed.end()
    const offline = new ChannelAuthorizer(closed, silentLogger)
    expect(await offline.authorizeRead('anything', service, ['broadcast', 'presence'])).toEqual({ broadcast: true, presence: true })
    expect(await offline.authorizeWrite('anything', service, 'presence')).toBe(true)
  })

  it('refuses a role that does not exist in Postgres, without failing', async () => {
    const ghost = createAuthContext({ role: 'no_such_role', sub: ALICE, exp })
    expect(await authorizer.authorizeRead('room1', ghost, ['broadcast', 'presence'])).toEqual({ broadcast: false, presence: false })
    expect(await authorizer.authorizeWrite('room1', ghost, 'broadcast')).toBe(false)
    // The pool is still healthy afterwards.
    expect(await authorizer.authorizeRead('room1', alice, ['broadcast'])).toEqual({ broadcast: true, presence: false })
  })

  it('reports a broken check as a DatabaseError', async () => {
    const closed = await connectDatabase(db.url, { logger: silentLogger, max: 1 })
    await closed.end()
    const broken = new ChannelAuthorizer(closed, silentLogger)
    await expect(broken.authorizeRead('room1', alice, ['broadcast'])).rejects.toMatchObject({ code: 'DatabaseError' })
    await expect(broken.authorizeWrite('room1', alice, 'broadcast')).rejects.toMatchObject({ code: 'DatabaseError' })
  })
})
