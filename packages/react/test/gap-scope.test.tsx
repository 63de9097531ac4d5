// @vitest-environment happy-dom
/**
 * The scope of a gap in the query sync: a gap limited to broadcasts (`lost: ['broadcast']`, a
 * resume into a new epoch that replayed every change) must not refetch the table's queries; a
 * full gap must. The real server does not resume across a restart yet, so the client's
 * protocol-level fake server (`packages/client/test/fake-server.ts`) plays it.
 */
import { useQuery } from '@tanstack/react-query'
import { cleanup, renderHook, waitFor } from '@testing-library/react'
import WebSocket from 'ws'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { formatStreamPoint, RESUME_KEY } from '@switchboard/protocol'
import { ChannelManager, type GapEvent } from '@switchboard/client'
import { useRealtimeSync } from '@switchboard/react'
import { startFakeServer, type FakeServer } from '../../client/test/fake-server.js'
import { sleep, testQueryClient, wrapper } from './helpers.js'

let fake: FakeServer
let manager: ChannelManager | undefined
beforeAll(async () => {
  fake = await startFakeServer()
})
afterEach(() => cleanup())
afterAll(async () => {
  await manager?.destroy()
  await fake?.close()
})

const status = (code: string, epoch: string, position: number, extra: Record<string, unknown> = {}) => ({
  extension: RESUME_KEY,
  status: code === 'Gap' ? 'error' : 'ok',
  code,
  message: code,
  channel: 'table:public.items',
  epoch,
  position,
  lsn: formatStreamPoint(0x1000n, position),
  ...extra,
})

it('a gap limited to broadcasts does not refetch; a full gap does', async () => {
  const binding = { id: 1, event: '*', schema: 'public', table: 'items', filter: 'list=eq.scope' }
  fake.onJoin = (join) => {
    const n = fake.joins.length
    join.reply({ postgres_changes: [binding], [RESUME_KEY]: { epoch: n === 1 ? 'e1' : 'e2', resuming: n > 1 } })
    if (n === 1) join.push('system', status('Fresh', 'e1', 5))
    else if (n === 2) join.push('system', status('Resumed', 'e2', 1, { replayed: 0, lost: ['broadcast'] }))
    else join.push('system', status('Gap', 'e2', 9, { reason: 'evicted' }))
  }
  manager = new ChannelManager({ url: fake.url, apiKey: 'anon', transport: WebSocket, idleDisconnectMs: 50 })
  const gaps: GapEvent[] = []
  manager.onGap((g) => gaps.push(g))
  const qc = testQueryClient()
  let fetches = 0
  const { result } = renderHook(
    () => {
      const query = useQuery({ queryKey: ['items', 'scope'], queryFn: () => (fetches++, []) })
      const sync = useRealtimeSync(['items', 'scope'], { table: 'items', filter: 'list=eq.scope' }, { batchMs: 20 })
      return { query, sync }
    },
    { wrapper: wrapper(manager, qc) },
  )
  await waitFor(() => expect(result.current.sync.status).toBe('connected'))
  await waitFor(() => expect(result.current.query.data).toEqual([]))
  const before = fetches

  fake.dropAll()
  await waitFor(() => expect(gaps).toHaveLength(1))
  expect(gaps[0]).toMatchObject({ resumed: false, lost: ['broadcast'] })
  await sleep(200) // several batch windows: a refetch would have started
  expect(fetches).toBe(before)

  fake.dropAll()
  await waitFor(() => expect(gaps).toHaveLength(2))
  expect(gaps[1]).toMatchObject({ resumed: false, lost: undefined, resume: { code: 'Gap' } })
  await waitFor(() => expect(fetches).toBeGreaterThan(before))
})
