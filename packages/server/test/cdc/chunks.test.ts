/**
 * A batch bigger than a chunk (change-dispatcher.ts, "Chunks"): checked and delivered chunk by
 * chunk, the next chunk's check running while one is delivered. Here a chunk is 2 deliveries
 * (one subscriber, so 2 changes), and one transaction of 9 rows is one batch of 5 chunks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHarness, subscribe, user, type Harness } from './cdc-harness.js'

// `visible_item` raises a connection-class error (08006: the database is unavailable, so the
// whole batch fails and is retried) the first time it is asked about a row marked `fail`; a
// sequence counts the times, because it is not rolled back with the failing check.
const SETUP = `
  create table public.items (id int primary key, fail boolean not null default false);
  alter table public.items enable row level security;
  create sequence public.fail_once;
  create function public.visible_item(fail boolean) returns boolean language plpgsql security definer as $$
  begin
    if fail and nextval('public.fail_once') = 1 then
      raise exception 'simulated outage' using errcode = '08006';
    end if;
    return true;
  end $$;
  grant execute on function public.visible_item(boolean) to authenticated;
  create policy "items" on public.items for select to authenticated using (public.visible_item(fail));
  grant select on public.items to authenticated;
  alter publication supabase_realtime add table public.items;
`

const INSERTS = [{ event: 'INSERT', schema: 'public', table: 'items' }]

describe('PostgresChangesService: a batch in chunks', () => {
  let h: Harness
  beforeAll(async () => { h = await createHarness(SETUP) })
  afterAll(async () => { await h.close() })

  const metric = async (name: string) => (await h.registry.getSingleMetric(name)!.get()).values.reduce((n, v) => n + v.value, 0)

  it('delivers a batch of several chunks whole, in order, each change once, one check per chunk', async () => {
    const service = h.newService({ slotName: 'sb_chunks_order', deliveriesPerChunk: 2 })
    await service.start()
    const sub = await subscribe(h, INSERTS, user('u1'), service)
    const checksBefore = await metric('switchboard_cdc_auth_queries_total')
    await h.sql`insert into items (id) select g from generate_series(1, 9) g`
    await sub.changeCount(9)
    expect(sub.changes.map((c) => c.data.record!.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
    // Five chunks, each its own check (one context, one table): the batch was cut.
    expect(await metric('switchboard_cdc_auth_queries_total') - checksBefore).toBe(5)
    await service.stop()
  })

  it('a chunk whose check fails after earlier chunks went out is retried from that chunk: nothing twice, nothing lost', async () => {
    const service = h.newService({ slotName: 'sb_chunks_retry', deliveriesPerChunk: 2, retryBackoffMs: [50] })
    await service.start()
    const sub = await subscribe(h, INSERTS, user('u1'), service)
    const failuresBefore = await metric('switchboard_cdc_batch_failures_total')
    const deliveriesBefore = await metric('switchboard_cdc_deliveries_total')
    // Rows 11–14 are chunks 1–2; row 15 is in chunk 3, whose first check fails.
    await h.sql`insert into items (id, fail) select g, g = 15 from generate_series(11, 19) g`
    await sub.changeCount(9, 10_000)
    await new Promise((r) => setTimeout(r, 200)) // a duplicate would arrive by now
    expect(sub.changes.map((c) => c.data.record!.id)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19])
    expect(await metric('switchboard_cdc_batch_failures_total')).toBe(failuresBefore + 1)
    // Counted once each, the two chunks that went out before the failure included.
    expect(await metric('switchboard_cdc_deliveries_total') - deliveriesBefore).toBe(9)
    await service.stop()
  })
})
