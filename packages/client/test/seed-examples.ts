/**
 * The seed API examples (issue 14), as an app would write them: type-checked by
 * `npm run typecheck:tests` (tsconfig.tests.json) and run against the real server by
 * `seed-api.test.ts`. The example bodies are kept as written; what they leave to the app
 * (`console`, `setViewers`, `updateCursor`, the signed-in `user`) is defined above them, and
 * records what happened so the test can check it.
 */
import {
  broadcast,
  cleanupAllChannels,
  getChannelManager,
  joinPresence,
  leavePresence,
  subscribeToEntity,
  type EntityChannel,
  type PresenceUser,
} from '@switchboard/client'

// ── what the examples leave to the app ──────────────────────────────────────────────────────

/** Lines the examples log (a module-scoped `console`, so the example bodies stay as written). */
export const logged: string[] = []
const console = {
  log: (...args: unknown[]) => void logged.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')),
  error: (...args: unknown[]) => void logged.push(`error: ${args.map(String).join(' ')}`),
}

/** React-style state setter of the viewer list. */
export let viewers: PresenceUser[] = []
const setViewers = (next: PresenceUser[] | ((prev: PresenceUser[]) => PresenceUser[])) => {
  viewers = typeof next === 'function' ? next(viewers) : next
}

export const cursors: unknown[] = []
const updateCursor = (position: unknown) => void cursors.push(position)

export const user = { id: 'u-ada', name: 'Ada', email: 'ada@example.com', avatar: 'https://example.com/ada.png' }

// ── the examples ────────────────────────────────────────────────────────────────────────────

export async function subscribeExample(): Promise<EntityChannel> {
  const channel = await subscribeToEntity({
    entityType: 'contact',
    entityId: '123',
    onInsert: (payload) => console.log('New contact:', payload.new),
    onUpdate: (payload) => console.log('Contact updated:', payload.new),
    onDelete: (payload) => console.log('Contact deleted:', payload.old),
    onChange: (payload) => console.log('Change:', payload.eventType),
    onStatusChange: (status) => console.log('Status:', status),
    onError: (error) => console.error('Realtime error:', error),
  })
  return channel
}

export async function presenceExample(): Promise<void> {
  await joinPresence({
    entityType: 'project',
    entityId: 'p-456',
    user: { id: user.id, name: user.name, email: user.email, avatar: user.avatar },
    metadata: { role: 'editor' },
    onSync: (users) => setViewers(users),
    onJoin: (user) => console.log(`${user.userName} started viewing`),
    onLeave: (user) => setViewers(prev => prev.filter(u => u.userId !== user.userId)),
  })
}

export async function leaveExample(): Promise<void> {
  await leavePresence('contact', '123')
}

export async function broadcastExample(): Promise<void> {
  await broadcast({
    entityType: 'document',
    entityId: 'doc-789',
    event: 'cursor-move',
    payload: { x: 100, y: 200 },
  })
}

export function listenExample(channel: EntityChannel): void {
  channel.on('broadcast', { event: 'cursor-move' }, ({ payload }) => updateCursor(payload))
}

export async function managerExamples() {
  const manager = getChannelManager()
  const subscribed = manager.hasChannel('subscription', 'contact', '123')
  const present = manager.getPresenceState('project', 'p-456')
  await manager.updatePresenceMetadata('project', 'p-456', { role: 'viewer' })
  const active = manager.getActiveChannels() // [{ name, type, status, subscribers, createdAt, lastEventAt }]
  const stats = manager.getChannelStats() // { total, byType: { subscription, presence }, byStatus }
  await manager.unsubscribe('subscription', 'contact', '123')
  return { subscribed, present, active, stats }
}

export async function cleanupExample(): Promise<void> {
  await cleanupAllChannels()
}
