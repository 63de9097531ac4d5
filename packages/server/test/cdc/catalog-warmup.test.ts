/**
 * Binding validation warms the catalog: what delivering a table's changes to a role needs (its
 * rights, the claims its policies read, its compiled policy) is loaded when a channel's bindings
 * are validated, so the first delivery to it (a resume's replay after a restart, or the next
 * live batch, which every other subscriber of the batch waits for) makes no catalog round trip.
 * Observed through `switchboard_cdc_catalog_loads_total`, the catalog's cache misses.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createHarness, serviceRole, subscribe, user, type Harness } from './cdc-harness.js'

let h: Harness
beforeAll(async () => {
  h = await createHarness(`
    create table public.warmed (id int primary key, owner text not null);
    alter table public.warmed enable row level security;
    create policy own on public.warmed for select to authenticated using (owner = (auth.jwt() ->> 'sub'));
    grant select on public.warmed to authenticated;
    alter publication supabase_realtime add table public.warmed;`)
  await h.service.start()
})
afterAll(async () => {
  await h?.close()
})

/** Catalog loads so far, by kind. */
async function loads(): Promise<Record<string, number>> {
  const metric = await h.registry.getSingleMetric('switchboard_cdc_catalog_loads_total')!.get()
  const byKind: Record<string, number> = {}
  for (const v of metric.values) byKind[String(v.labels.kind)] = (byKind[String(v.labels.kind)] ?? 0) + v.value
  return byKind
}

const DELIVERY_KINDS = ['role', 'claims', 'inline'] as const
const pick = (all: Record<string, number>) => DELIVERY_KINDS.map((kind) => all[kind] ?? 0)

it('the first delivery to a newly subscribed role loads nothing: its bindings\' validation did', async () => {
  // The table's first change of this stream session carries its Relation message, which drops the
  // table's cached facts; a service_role subscriber (which needs no role facts) sees it through.
  const observer = await subscribe(h, [{ event: 'INSERT', schema: 'public', table: 'warmed' }], serviceRole)
  await h.sql`insert into warmed values (1, 'nobody')`
  await observer.changeCount(1)
  expect(pick(await loads())).toEqual([0, 0, 0])

  const reader = await subscribe(h, [{ event: 'INSERT', schema: 'public', table: 'warmed' }], user('u1'))
  // The warm-up is not awaited by the join: wait until its three lookups have started.
  const deadline = Date.now() + 5_000
  while (pick(await loads()).some((n) => n === 0)) {
    if (Date.now() > deadline) throw new Error(`binding validation did not warm the catalog: ${JSON.stringify(await loads())}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const warmed = await loads()
  expect(pick(warmed)).toEqual([1, 1, 1])

  await h.sql`insert into warmed values (2, 'u1'), (3, 'someone else')`
  await observer.changeCount(3)
  const [delivered] = await reader.changeCount(1)
  expect(delivered!.data.record).toEqual({ id: 2, owner: 'u1' })
  expect(await loads()).toEqual(warmed)
})
