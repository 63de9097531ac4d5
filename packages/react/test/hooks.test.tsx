// @vitest-environment happy-dom
/**
 * The hooks in <StrictMode> against a real Switchboard and Postgres.
 */
import { StrictMode, useEffect, useSyncExternalStore } from 'react'
import { act, cleanup, render, renderHook, waitFor } from '@testing-library/react'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { ChannelManager } from '@switchboard/client'
import { browserLifecycle, manualSignals } from '@switchboard/client/lifecycle'
import {
  RealtimeProvider,
  useBroadcast,
  useBroadcastSender,
  useConnectionStatus,
  useEntityChanges,
  usePostgresChanges,
  usePresence,
  useRealtimeManager,
  type Change,
} from '@switchboard/react'
import { createHarness, sleep, wrapper, type Harness } from './helpers.js'

let h: Harness
const wait = { timeout: 10_000 }

beforeAll(async () => {
  h = await createHarness()
  await h.sql`create table contacts (id int primary key, name text)`
  await h.sql`create table calls (id int primary key, phone text, status text)`
  await h.sql`create table documents (id text primary key)`
  await h.sql`alter publication supabase_realtime add table contacts, calls`
})
afterAll(async () => {
  await h?.dispose()
})
afterEach(() => cleanup())

/** Stats of a manager, polled. */
const total = (m: ChannelManager) => m.getChannelStats().total

describe('RealtimeProvider', () => {
  it('with config, creates one manager under StrictMode and destroys it on unmount', async () => {
    let subscriptions = 0
    const signals = manualSignals()
    const counting = { ...signals, subscribe: (l: Parameters<typeof signals.subscribe>[0]) => (subscriptions++, signals.subscribe(l)) }
    const seen = new Set<ChannelManager>()
    function Probe() {
      seen.add(useRealtimeManager())
      return null
    }
    // Nothing subscribes, so the manager never connects to this address.
    const config = { url: 'http://127.0.0.1:1', apiKey: 'anon', plugins: [browserLifecycle({ signals: counting })] }
    const view = render(
      <StrictMode>
        <RealtimeProvider config={config}>
          <Probe />
        </RealtimeProvider>
      </StrictMode>,
    )
    expect(subscriptions).toBe(1)
    expect(seen.size).toBe(1)
    const [manager] = [...seen]
    await sleep(20) // past the deferred destroy of StrictMode's simulated unmount
    expect(() => manager!.acquireEntity({ entityType: 'contact', entityId: '1', waitForJoin: false }).release()).not.toThrow()
    view.unmount()
    await sleep(20)
    expect(() => manager!.acquireEntity({ entityType: 'contact', entityId: '1' })).toThrow(/destroyed/)
  })

  it('useRealtimeManager throws outside a provider', () => {
    expect(() => renderHook(() => useRealtimeManager())).toThrow(/RealtimeProvider/)
  })
})

describe('useConnectionStatus', () => {
  it('reports the status and raises connectionLost only after lostAfterMs', async () => {
    const manager = h.manager()
    const { result } = renderHook(
      () => {
        useEntityChanges({ entityType: 'contact', entityId: 'status' }, {})
        return useConnectionStatus({ lostAfterMs: 400 })
      },
      { wrapper: wrapper(manager) },
    )
    await waitFor(() => expect(result.current).toEqual({ status: 'connected', connectionLost: false }), wait)
    h.proxy.refuse()
    h.proxy.dropAll()
    await waitFor(() => expect(result.current.status).not.toBe('connected'), wait)
    expect(result.current.connectionLost).toBe(false)
    await sleep(150)
    expect(result.current.connectionLost).toBe(false)
    await waitFor(() => expect(result.current.connectionLost).toBe(true), wait)
    h.proxy.resume()
    await waitFor(() => expect(result.current).toEqual({ status: 'connected', connectionLost: false }), wait)
  })

  it('is disconnected, not lost, while nothing needs the socket', async () => {
    const manager = h.manager()
    const { result } = renderHook(() => useConnectionStatus({ lostAfterMs: 50 }), { wrapper: wrapper(manager) })
    await sleep(150)
    expect(result.current).toEqual({ status: 'disconnected', connectionLost: false })
  })
})

describe('useEntityChanges', () => {
  it('delivers one entity’s inserts, updates and deletes; StrictMode leaves one channel and one join', async () => {
    const manager = h.manager()
    const events: string[] = []
    const { result, unmount } = renderHook(
      () =>
        useEntityChanges<{ id: number; name: string }>(
          { entityType: 'contact', entityId: '1' },
          {
            onInsert: ({ new: row }) => events.push(`insert ${row.name}`),
            onUpdate: ({ new: row }) => events.push(`update ${row.name}`),
            onDelete: ({ old }) => events.push(`delete ${String(old.id)}`),
            onChange: ({ eventType }) => events.push(`change ${eventType}`),
          },
        ),
      { wrapper: wrapper(manager) },
    )
    await waitFor(() => expect(result.current.status).toBe('connected'), wait)
    await h.cdcReady('subscription:contact:1')
    expect(total(manager)).toBe(1)
    expect(manager.getStats().leases).toBe(1)
    expect(h.joins('subscription:contact:1')).toHaveLength(1)

    await h.sql`insert into contacts values (2, 'other')`
    await h.sql`insert into contacts values (1, 'Ada')`
    await h.sql`update contacts set name = 'Ada L' where id = 1`
    await h.sql`delete from contacts where id = 1`
    await waitFor(() => expect(events).toHaveLength(6), wait)
    expect(events).toEqual(['insert Ada', 'change INSERT', 'update Ada L', 'change UPDATE', 'delete 1', 'change DELETE'])

    unmount()
    await waitFor(() => expect(total(manager)).toBe(0), wait)
    expect(h.joins('subscription:contact:1')).toHaveLength(1)
  })

  it('a new callback does not resubscribe, and the newest one receives the events', async () => {
    const manager = h.manager()
    const got: string[] = []
    const { result, rerender } = renderHook(
      ({ tag }: { tag: string }) => useEntityChanges({ entityType: 'contact', entityId: '7' }, { onChange: () => got.push(tag) }),
      { wrapper: wrapper(manager), initialProps: { tag: 'first' } },
    )
    await waitFor(() => expect(result.current.status).toBe('connected'), wait)
    await h.cdcReady('subscription:contact:7')
    rerender({ tag: 'second' })
    rerender({ tag: 'third' })
    await h.sql`insert into contacts values (7, 'x')`
    await waitFor(() => expect(got).toEqual(['third']), wait)
    expect(h.joins('subscription:contact:7')).toHaveLength(1)
    expect(manager.getStats().leases).toBe(1)
  })

  it('enabled: false subscribes nothing, and turning it on subscribes', async () => {
    const manager = h.manager()
    const { result, rerender } = renderHook(
      ({ enabled }: { enabled: boolean }) => useEntityChanges({ entityType: 'contact', entityId: '9' }, {}, { enabled }),
      { wrapper: wrapper(manager), initialProps: { enabled: false } },
    )
    await sleep(300)
    expect(result.current.status).toBe('disconnected')
    expect(total(manager)).toBe(0)
    expect(h.joins('subscription:contact:9')).toHaveLength(0)
    rerender({ enabled: true })
    await waitFor(() => expect(result.current.status).toBe('connected'), wait)
    rerender({ enabled: false })
    expect(result.current.status).toBe('disconnected')
    await waitFor(() => expect(total(manager)).toBe(0), wait)
  })
})

describe('usePostgresChanges', () => {
  it('listens to a filtered table binding, not tied to an entity id', async () => {
    const manager = h.manager()
    const got: Change<{ id: number; phone: string; status: string }>[] = []
    const { result } = renderHook(
      () => usePostgresChanges<{ id: number; phone: string; status: string }>({ table: 'calls', filter: 'phone=eq.555' }, (c) => got.push(c)),
      { wrapper: wrapper(manager) },
    )
    await waitFor(() => expect(result.current.status).toBe('connected'), wait)
    await h.cdcReady('subscription:table:public.calls')
    await h.sql`insert into calls values (1, '555', 'ringing'), (2, '777', 'ringing'), (3, '555', 'ringing')`
    await h.sql`update calls set status = 'in_progress' where id = 1`
    await waitFor(() => expect(got).toHaveLength(3), wait)
    expect(got.map((c) => [c.eventType, (c.new as { id: number }).id])).toEqual([['INSERT', 1], ['INSERT', 3], ['UPDATE', 1]])
    expect(total(manager)).toBe(1)
  })
})

describe('usePresence', () => {
  it('shows both users, carries metadata updates, and drops a user who leaves', async () => {
    const [m1, m2] = [h.manager(), h.manager()]
    const entity = { entityType: 'report', entityId: 'r1', tenantId: 'acme' }
    const ada = renderHook(
      ({ page }: { page: string }) => usePresence(entity, { id: 'u1', name: 'Ada' }, { page }),
      { wrapper: wrapper(m1), initialProps: { page: 'reports' } },
    )
    const bob = renderHook(() => usePresence(entity, { id: 'u2', name: 'Bob', avatar: 'b.png' }), { wrapper: wrapper(m2) })
    await waitFor(() => expect(ada.result.current.users.map((u) => u.userId)).toEqual(['u1', 'u2']), wait)
    await waitFor(() => expect(bob.result.current.users.map((u) => u.userName)).toEqual(['Ada', 'Bob']), wait)
    expect(bob.result.current.users[0]).toMatchObject({ page: 'reports' })
    expect(h.joins('tenant:acme:presence:report:r1')).toHaveLength(2)

    ada.rerender({ page: 'calls' })
    await waitFor(() => expect(bob.result.current.users[0]).toMatchObject({ page: 'calls' }), wait)
    await act(() => bob.result.current.update({ typing: true }))
    await waitFor(() => expect(ada.result.current.users[1]).toMatchObject({ userId: 'u2', typing: true, userAvatar: 'b.png' }), wait)
    expect(h.joins('tenant:acme:presence:report:r1')).toHaveLength(2)

    bob.unmount()
    await waitFor(() => expect(ada.result.current.users.map((u) => u.userId)).toEqual(['u1']), wait)
    expect(total(m1)).toBe(1)
  })

  it('user: null or enabled: false joins nothing', async () => {
    const manager = h.manager()
    const { result } = renderHook(
      () => {
        usePresence({ entityType: 'report', entityId: 'r2' }, null)
        return usePresence({ entityType: 'report', entityId: 'r3' }, { id: 'u1', name: 'Ada' }, undefined, { enabled: false })
      },
      { wrapper: wrapper(manager) },
    )
    await sleep(200)
    expect(result.current.users).toEqual([])
    expect(total(manager)).toBe(0)
  })
})

describe('useBroadcast / useBroadcastSender', () => {
  it('sends from one client and receives on another; a new handler does not resubscribe', async () => {
    const [m1, m2] = [h.manager(), h.manager()]
    const entity = { entityType: 'document', entityId: 'doc-1' }
    const got: string[] = []
    const listener = renderHook(
      ({ tag }: { tag: string }) => useBroadcast<{ text: string }>(entity, 'typing', ({ payload, event }) => got.push(`${tag}:${event}:${payload.text}`)),
      { wrapper: wrapper(m1), initialProps: { tag: 'a' } },
    )
    const sender = renderHook(() => useBroadcastSender<{ text: string }>(entity), { wrapper: wrapper(m2) })
    await waitFor(() => expect(listener.result.current.status).toBe('connected'), wait)
    const send = sender.result.current
    await act(() => send('typing', { text: 'hi' }))
    await act(() => send('other', { text: 'ignored' }))
    await waitFor(() => expect(got).toEqual(['a:typing:hi']), wait)
    listener.rerender({ tag: 'b' })
    expect(sender.result.current).toBe(send) // stable
    await act(() => send('typing', { text: 'again' }))
    await waitFor(() => expect(got).toEqual(['a:typing:hi', 'b:typing:again']), wait)
    expect(h.joins('subscription:document:doc-1')).toHaveLength(2) // one per client
    expect(total(m1)).toBe(1)
    expect(total(m2)).toBe(1)
  })
})

describe('StrictMode and the stats store', () => {
  it('StrictMode really runs effects twice here (so the single-join checks mean something)', () => {
    let effects = 0
    function Probe() {
      useEffect(() => void effects++, [])
      return null
    }
    render(<StrictMode><Probe /></StrictMode>)
    expect(effects).toBe(2)
  })

  it('several hooks on one entity share one channel; zero channels after unmount', async () => {
    const manager = h.manager()
    function Stats() {
      const m = useRealtimeManager()
      const stats = useSyncExternalStore(m.statsStore.subscribe, m.statsStore.getSnapshot)
      return <output data-testid="total">{stats.total}</output>
    }
    function Entity() {
      useEntityChanges({ entityType: 'contact', entityId: '42' }, {})
      useBroadcast({ entityType: 'contact', entityId: '42' }, 'ping', () => undefined)
      useEntityChanges({ entityType: 'contact', entityId: '42' }, { onChange: () => undefined })
      return null
    }
    const Wrapper = wrapper(manager)
    const view = render(
      <Wrapper>
        <Stats />
        <Entity />
      </Wrapper>,
    )
    await waitFor(() => expect(manager.getChannelStats().byStatus.connected).toBe(1), wait)
    expect(view.getByTestId('total').textContent).toBe('1')
    expect(manager.getStats().leases).toBe(3)
    expect(h.joins('subscription:contact:42')).toHaveLength(1)
    view.unmount()
    await waitFor(() => expect(total(manager)).toBe(0), wait)
    expect(manager.getStats().leases).toBe(0)
  })
})
