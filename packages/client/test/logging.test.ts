/**
 * The opt-in lifecycle log lines (`debugLogging()` of `@switchboard/client/logging`), against a
 * real server behind the TCP proxy: what a network drop logs, what the core still logs without
 * the plug-in, and that `destroy()` removes it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger, type LogRecord } from '@switchboard/client'
import { debugLogging } from '@switchboard/client/logging'
import { createHarness, waitFor, type Harness } from './helpers.js'

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(async () => {
  await h?.dispose()
})

const recorder = () => {
  const records: LogRecord[] = []
  const logger = createLogger({ level: 'info', sink: (r) => void records.push(r) })
  const lines = () => records.map((r) => `${r.level} ${r.msg}`)
  return { records, logger, lines }
}

describe('debugLogging()', () => {
  it('logs a drop: connection lost, channel broke, connected again, channel back; nothing after destroy()', async () => {
    const { records, logger, lines } = recorder()
    const m = h.manager({ logger, plugins: [debugLogging()] })
    const sub = await m.subscribeToEntity({ entityType: 'log', entityId: '1', changes: false })
    expect(lines()).toEqual(['info connected'])
    expect(records[0]!.fields).toEqual({ reopened: false })

    h.proxy.dropAll()
    await waitFor(() => lines().some((l) => l.startsWith('info channel ')), 10_000, 'the channel back')
    expect(sub.status).toBe('connected')
    // Phoenix errors the channels before it reports the socket's close.
    expect(lines()).toEqual(['info connected', 'warn channel broke', 'warn connection lost', 'info connected', 'info channel resumed'])
    const broke = records.find((r) => r.msg === 'channel broke')!
    expect(broke.fields).toMatchObject({ channel: 'subscription:log:1', status: 'reconnecting' })
    expect(records.find((r) => r.msg === 'connected' && r.fields.reopened === true)).toBeDefined()

    const count = records.length
    await m.destroy()
    h.proxy.dropAll()
    expect(records).toHaveLength(count)
  })

  it('without the plug-in the core logs no lifecycle lines, only what nothing else reports (a handler that threw)', async () => {
    const { lines, logger } = recorder()
    const m = h.manager({ logger })
    const sub = await m.subscribeToEntity({ entityType: 'log', entityId: '2', changes: false, broadcastSelf: true })
    sub.on('broadcast', { event: 'boom' }, () => {
      throw new Error('handler bug')
    })
    await sub.send('boom', {})
    await waitFor(() => lines().length > 0, 5000, 'the handler error logged')
    expect(lines()).toEqual(['error a channel handler threw'])
  })
})
