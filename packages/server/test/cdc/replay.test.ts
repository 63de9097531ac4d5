/**
 * Replays that run together (replay-batcher.ts: a crowd of channels resuming at once goes in
 * one pass) give each channel exactly what it gets alone: its own rows under its own policy
 * context, only from its own range, in order.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createHarness, subscribe, user, type Harness } from './cdc-harness.js'
import { TenantHub } from '../../src/hub/tenant-hub.js'
import { DEFAULT_LOG_LIMITS } from '../../src/hub/delivery-log.js'
import { LocalClusterAdapter } from '../../src/cluster/cluster-adapter.js'
import type { Change } from '../../src/cdc/change.js'
import type { ReplayedChange } from '../../src/cdc/postgres-changes-service.js'
import { systemClock } from '../../src/clock.js'
import { silentLogger } from '../../src/logger.js'

const SETUP = `
  create table public.notes (id int primary key, owner text not null);
  alter table public.notes enable row level security;
  create policy own_notes on public.notes for select to authenticated using (owner = auth.jwt() ->> 'sub');
  grant select on public.notes to authenticated;
  alter publication supabase_realtime add table public.notes;
`

let h: Harness
beforeAll(async () => { h = await createHarness(SETUP) })
afterAll(async () => { await h.close() })

it('replays run together give each channel what it gets alone: its rows, its range, in order', async () => {
  const hub = new TenantHub({ limits: DEFAULT_LOG_LIMITS, clock: systemClock, logger: silentLogger, cluster: new LocalClusterAdapter() })
  const service = h.newService({ slotName: 'sb_replay_batch', log: hub })
  await service.start()
  await hub.whenRebuilt()
  const users = ['alice', 'bob', 'carol']
  const binding = [{ event: 'INSERT', schema: 'public', table: 'notes' }]
  const subscribers = await Promise.all(users.map((name) => subscribe(h, binding, user(name), service)))
  await h.sql`insert into notes select i, (array['alice', 'bob', 'carol'])[1 + i % 3] from generate_series(0, 29) i`
  await Promise.all(subscribers.map((s) => s.changeCount(10)))
  const read = hub.log.since(hub.log.epoch, 0)
  if (!read.ok) throw new Error('log unreadable')
  const changes = read.entries.flatMap((e) => (e.value.kind === 'change' ? [e.value.change] : []))
  expect(changes).toHaveLength(30)
  // Alice is owed everything, Bob the last 20, Carol the first 15.
  const ranges: Change[][] = [changes, changes.slice(10), changes.slice(0, 15)]
  const ids = (replayed: ReplayedChange[]) => replayed.map((r) => (JSON.parse(r.data.json) as { record: { id: number } }).record.id)

  const alone: number[][] = []
  for (let i = 0; i < 3; i++) alone.push(ids(await service.replay(subscribers[i]!, ranges[i]!)))
  expect(alone).toEqual([
    [0, 3, 6, 9, 12, 15, 18, 21, 24, 27], // row i belongs to users[i % 3]
    [10, 13, 16, 19, 22, 25, 28],
    [2, 5, 8, 11, 14],
  ])
  // At once: the first starts a pass, the other two wait for it and share the next one.
  const together = await Promise.all(subscribers.map((s, i) => service.replay(s, ranges[i]!)))
  expect(together.map(ids)).toEqual(alone)
  await service.stop()
})
