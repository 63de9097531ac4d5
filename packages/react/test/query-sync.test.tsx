// @vitest-environment happy-dom
/**
 * TanStack Query sync against real inserts, updates and deletes (StrictMode, real server).
 */
import { useInfiniteQuery, useQuery } from '@tanstack/react-query'
import { cleanup, renderHook, waitFor } from '@testing-library/react'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { useRealtimeQuery, useRealtimeSync } from '@switchboard/react'
import { createHarness, sleep, testQueryClient, wrapper, type Harness } from './helpers.js'

type Item = { id: number; list: string; title: string }

let h: Harness
const wait = { timeout: 10_000 }

beforeAll(async () => {
  h = await createHarness()
  await h.sql`create table items (id int primary key, list text not null, title text)`
  await h.sql`alter table items replica identity full`
  await h.sql`alter publication supabase_realtime add table items`
})
afterAll(async () => {
  await h?.dispose()
})
afterEach(() => cleanup())

const fetchList = async (list: string): Promise<Item[]> =>
  (await h.sql<Item[]>`select id, list, title from items where list = ${list} order by id`).map((r) => ({ ...r }))
const channel = 'subscription:table:public.items'

describe('useRealtimeSync', () => {
  it("mode 'invalidate' refetches after changes, batched", async () => {
    const mark = h.received.length
    const qc = testQueryClient()
    let fetches = 0
    const { result } = renderHook(
      () => {
        const query = useQuery({ queryKey: ['items', 'inv'], queryFn: () => (fetches++, fetchList('inv')) })
        const sync = useRealtimeSync(['items', 'inv'], { table: 'items', filter: 'list=eq.inv' })
        return { query, sync }
      },
      { wrapper: wrapper(h.manager(), qc) },
    )
    await waitFor(() => expect(result.current.sync.status).toBe('connected'), wait)
    await h.cdcReady(channel, mark)
    await waitFor(() => expect(result.current.query.data).toEqual([]), wait)
    const before = fetches
    await h.sql`insert into items values (1, 'inv', 'a'), (2, 'inv', 'b'), (3, 'inv', 'c')`
    await waitFor(() => expect(result.current.query.data?.map((r) => r.id)).toEqual([1, 2, 3]), wait)
    await sleep(200)
    expect(fetches - before).toBe(1) // three changes in one window: one invalidation
  })

  it("mode 'patch' inserts, updates and removes rows in every matching list without refetching", async () => {
    const mark = h.received.length
    const qc = testQueryClient()
    let fetches = 0
    const { result } = renderHook(
      () => {
        const all = useQuery({ queryKey: ['items', 'p', 'all'], queryFn: () => (fetches++, fetchList('p')) })
        const sorted = useQuery({ queryKey: ['items', 'p', 'newest'], queryFn: async () => (fetches++, (await fetchList('p')).reverse()) })
        const sync = useRealtimeSync(['items', 'p'], { table: 'items', filter: 'list=eq.p' }, { mode: 'patch' })
        return { all, sorted, sync }
      },
      { wrapper: wrapper(h.manager(), qc) },
    )
    await waitFor(() => expect(result.current.sync.status).toBe('connected'), wait)
    await h.cdcReady(channel, mark)
    await waitFor(() => expect(result.current.sorted.data).toEqual([]), wait)
    await h.sql`insert into items values (10, 'p', 'ten'), (11, 'p', 'eleven')`
    await waitFor(() => expect(result.current.all.data?.map((r) => r.id)).toEqual([10, 11]), wait)
    await h.sql`update items set title = 'TEN' where id = 10`
    await h.sql`delete from items where id = 11`
    await waitFor(() => expect(result.current.all.data).toEqual([{ id: 10, list: 'p', title: 'TEN' }]), wait)
    expect(result.current.sorted.data).toEqual([{ id: 10, list: 'p', title: 'TEN' }])
    expect(fetches).toBe(2)
  })

  it("mode 'patch' with newestFirst puts new rows first in infinite queries (pages as arrays and as { items })", async () => {
    await h.sql`insert into items select g, 'chat', 'm' || g from generate_series(100, 105) g`
    const pageSize = 2
    const fetchPage = async (cursor: number | null) =>
      (await h.sql<Item[]>`select id, list, title from items where list = 'chat' and (${cursor}::int is null or id < ${cursor}::int) order by id desc limit ${pageSize}`).map((r) => ({ ...r }))
    const mark = h.received.length
    const qc = testQueryClient()
    let fetches = 0
    const { result } = renderHook(
      () => {
        const arrays = useInfiniteQuery({
          queryKey: ['items', 'chat', 'arrays'],
          queryFn: ({ pageParam }) => (fetches++, fetchPage(pageParam)),
          initialPageParam: null as number | null,
          getNextPageParam: (last) => (last.length === pageSize ? last[last.length - 1]!.id : undefined),
        })
        const objects = useInfiniteQuery({
          queryKey: ['items', 'chat', 'objects'],
          queryFn: async ({ pageParam }) => {
            fetches++
            const items = await fetchPage(pageParam)
            return { items, nextCursor: items.length === pageSize ? items[items.length - 1]!.id : undefined }
          },
          initialPageParam: null as number | null,
          getNextPageParam: (last) => last.nextCursor,
        })
        const sync = useRealtimeSync(['items', 'chat'], { table: 'items', filter: 'list=eq.chat' }, { mode: 'patch', newestFirst: true })
        return { arrays, objects, sync }
      },
      { wrapper: wrapper(h.manager(), qc) },
    )
    await waitFor(() => expect(result.current.sync.status).toBe('connected'), wait)
    await h.cdcReady(channel, mark)
    await waitFor(() => expect(result.current.objects.data?.pages).toHaveLength(1), wait)
    await result.current.arrays.fetchNextPage()
    await result.current.objects.fetchNextPage()
    await waitFor(() => expect(result.current.objects.data?.pages).toHaveLength(2), wait)
    const ids = () => ({
      arrays: result.current.arrays.data?.pages.map((p) => p.map((r) => r.id)),
      objects: result.current.objects.data?.pages.map((p) => p.items.map((r) => r.id)),
    })
    expect(ids()).toEqual({ arrays: [[105, 104], [103, 102]], objects: [[105, 104], [103, 102]] })
    const fetched = fetches

    await h.sql`insert into items values (106, 'chat', 'new')`
    await h.sql`update items set title = 'edited' where id = 102`
    await h.sql`delete from items where id = 104`
    await h.sql`update items set title = 'not loaded' where id = 100`
    await waitFor(() => expect(ids()).toEqual({ arrays: [[106, 105], [103, 102]], objects: [[106, 105], [103, 102]] }), wait)
    await sleep(100)
    expect(result.current.objects.data?.pages[1]).toMatchObject({ items: [{ id: 103 }, { id: 102, title: 'edited' }], nextCursor: 102 })
    expect(result.current.arrays.data?.pages[1]?.[1]).toEqual({ id: 102, list: 'chat', title: 'edited' })
    expect(ids().arrays?.flat()).not.toContain(100) // an update to a row on an unloaded page is ignored
    expect(fetches).toBe(fetched)
  })

  /** A patch-mode query on list `list`, with its fetch count. */
  function renderGapProbe(list: string) {
    const qc = testQueryClient()
    const manager = h.manager()
    const counter = { fetches: 0 }
    const view = renderHook(
      () => {
        const query = useQuery({ queryKey: ['items', list], queryFn: () => (counter.fetches++, fetchList(list)) })
        const sync = useRealtimeSync(['items', list], { table: 'items', filter: `list=eq.${list}` }, { mode: 'patch' })
        return { query, sync }
      },
      { wrapper: wrapper(manager, qc) },
    )
    return { ...view, manager, counter }
  }

  it('a gap that is not a recovery invalidates, even in patch mode', async () => {
    const { result, manager, counter } = renderGapProbe('gap')
    await waitFor(() => expect(result.current.sync.status).toBe('connected'), wait)
    await waitFor(() => expect(result.current.query.data).toEqual([]), wait)
    const before = counter.fetches
    // A new server whose replication slot was dropped meanwhile: the history is gone, the return is a gap.
    await h.restartServer({ forgetHistory: true })
    await waitFor(() => expect(result.current.sync.status).not.toBe('connected'), wait)
    await h.sql`insert into items values (200, 'gap', 'missed while the server was away')`
    await waitFor(() => expect(result.current.query.data?.map((r) => r.id)).toEqual([200]), wait)
    expect(counter.fetches).toBeGreaterThan(before)
    expect(manager.getStats().gaps).toBeGreaterThanOrEqual(1)
  })

  it('a recovery (the server replayed what was missed) patches without refetching; a plain gap refetches', async () => {
    const mark = h.received.length
    const { result, manager, counter } = renderGapProbe('drop')
    await waitFor(() => expect(result.current.sync.status).toBe('connected'), wait)
    await h.cdcReady(channel, mark)
    await waitFor(() => expect(result.current.query.data).toEqual([]), wait)
    const before = counter.fetches
    h.proxy.refuse()
    h.proxy.dropAll()
    await waitFor(() => expect(result.current.sync.status).toBe('reconnecting'), wait)
    await h.sql`insert into items values (210, 'drop', 'missed while offline')`
    await sleep(300) // dispatched (to nobody) before the client is back
    h.proxy.resume()
    await waitFor(() => expect(result.current.query.data?.map((r) => r.id)).toEqual([210]), wait)
    await sleep(100)
    const stats = manager.getStats() as { gaps: number; recoveries?: number }
    // With a client that resumes (`recoveries` in its stats) the return is a recovery; without, a gap.
    if ((stats.recoveries ?? 0) > 0 && stats.gaps === 0) expect(counter.fetches).toBe(before)
    else expect(counter.fetches).toBeGreaterThan(before)
  })

  it('batches a burst: 1,000 inserts within a second cause a few dozen renders, not 1,000', async () => {
    const mark = h.received.length
    const qc = testQueryClient()
    let renders = 0
    const { result } = renderHook(
      () => {
        renders++
        const query = useQuery({ queryKey: ['items', 'burst'], queryFn: () => fetchList('burst') })
        const sync = useRealtimeSync(['items', 'burst'], { table: 'items', filter: 'list=eq.burst' }, { mode: 'patch', batchMs: 50 })
        return { query, sync }
      },
      { wrapper: wrapper(h.manager(), qc) },
    )
    await waitFor(() => expect(result.current.sync.status).toBe('connected'), wait)
    await h.cdcReady(channel, mark)
    await waitFor(() => expect(result.current.query.data).toEqual([]), wait)
    const before = renders
    const started = Date.now()
    for (let batch = 0; batch < 10; batch++) {
      await h.sql`insert into items select g, 'burst', 'row' from generate_series(${1000 + batch * 100}::int, ${1099 + batch * 100}::int) g`
      await sleep(50)
    }
    expect(Date.now() - started).toBeLessThan(2000)
    await waitFor(() => expect(result.current.query.data).toHaveLength(1000), { timeout: 20_000 })
    const rendersForBurst = renders - before
    console.log(`burst of 1000 inserts: ${rendersForBurst} renders (StrictMode double-renders)`)
    // StrictMode renders twice per update: ~(burst duration / batchMs) updates × 2.
    expect(rendersForBurst).toBeLessThan(100)
    expect(new Set(result.current.query.data!.map((r) => r.id)).size).toBe(1000)
  })
})

describe('useRealtimeQuery', () => {
  it('is useQuery kept current by the binding', async () => {
    const mark = h.received.length
    const qc = testQueryClient()
    const { result } = renderHook(
      () =>
        useRealtimeQuery({
          queryKey: ['items', 'rq'],
          queryFn: () => fetchList('rq'),
          realtime: { table: 'items', filter: 'list=eq.rq' },
          mode: 'patch',
          select: (rows: Item[]) => rows.map((r) => r.title),
        }),
      { wrapper: wrapper(h.manager(), qc) },
    )
    await waitFor(() => expect(result.current.data).toEqual([]), wait)
    await h.cdcReady(channel, mark)
    await h.sql`insert into items values (300, 'rq', 'hello')`
    await waitFor(() => expect(result.current.data).toEqual(['hello']), wait)
  })
})
