/**
 * The page of `tabs.browser.test.ts`: one tab of an app that shares its socket across tabs
 * (`@switchboard/client/tabs`, default timings, the browser lifecycle plug-in), subscribed to every insert into `items`.
 * Bundled by the test with rolldown; the test reads `window.sb`.
 */
import { createLogger, subscribeToEntity } from '@switchboard/client'
import { browserLifecycle } from '@switchboard/client/lifecycle'
import { debugLogging } from '@switchboard/client/logging'
import { configureRealtime, tabSharingState } from '@switchboard/client/tabs'

const query = new URLSearchParams(location.search)
const token = query.get('token')
const logs: string[] = []
const logger = createLogger({ level: 'info', sink: ({ level, msg, fields }) => void logs.push(`${Date.now() % 100000} ${level} ${msg} ${JSON.stringify(fields)}`.slice(0, 300)) })
const manager = configureRealtime({ url: query.get('url')!, apiKey: query.get('key')!, accessToken: async () => token, logger, shareAcrossTabs: true, plugins: [browserLifecycle(), debugLogging()] })
const ids: number[] = []
const page = {
  ids,
  logs,
  ready: false,
  error: '',
  leader: () => tabSharingState(manager)?.leader === true,
  live: () => manager.connectionStore.getSnapshot().status === 'connected' && manager.getChannelStats().byStatus.connected === 1,
  state: () => ({ sharing: tabSharingState(manager), connection: manager.connectionStore.getSnapshot().status, channels: manager.getChannelStats().byStatus }),
  stats: () => {
    const { gaps, recoveries, connection } = manager.getStats()
    return { gaps, recoveries, connection }
  },
}
;(globalThis as unknown as { sb: typeof page }).sb = page
subscribeToEntity({ entityType: 'item', entityId: 'all', table: 'items', filter: null, onInsert: (change) => void ids.push(Number((change.new as { id: number }).id)) }).then(
  () => (page.ready = true),
  (error: unknown) => (page.error = String(error)),
)
