/**
 * Presence users: what `joinPresence` tracks and what `getPresenceState` returns. Pure functions.
 */

/** Who joins a presence channel. */
export interface PresenceUserInput {
  id: string
  name: string
  email?: string | undefined
  avatar?: string | undefined
}

/** Extra fields tracked with the user (role, cursor colour, …). Must be plain JSON. */
export type PresenceMetadata = Record<string, unknown>

/** One user on a presence channel. `metadata` fields are spread at the top level. */
export type PresenceUser<M extends PresenceMetadata = PresenceMetadata> = {
  userId: string
  userName: string
  userEmail?: string
  userAvatar?: string
  /** ISO time of the (latest) track. */
  onlineAt: string
} & M

const RESERVED = new Set(['userId', 'userName', 'userEmail', 'userAvatar', 'onlineAt', 'presence_ref'])

/** The payload `track()` sends: identity fields win over metadata with the same names. */
export function presencePayload(user: PresenceUserInput, metadata: PresenceMetadata, now: Date): Record<string, unknown> {
  const payload: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(metadata)) {
    if (!RESERVED.has(key) && key !== '__proto__') payload[key] = value
  }
  payload.userId = user.id
  payload.userName = user.name
  if (user.email !== undefined) payload.userEmail = user.email
  if (user.avatar !== undefined) payload.userAvatar = user.avatar
  payload.onlineAt = now.toISOString()
  return payload
}

type Meta = Record<string, unknown> & { presence_ref?: string }

/**
 * Users from realtime-js `presenceState()`: one entry per presence key (a user with two tabs is
 * one user), taking that key's most recent meta; metas that lack `userId` are skipped.
 */
export function presenceUsers(state: Record<string, Meta[] | undefined>): PresenceUser[] {
  const users: PresenceUser[] = []
  for (const metas of Object.values(state)) {
    if (!metas || metas.length === 0) continue
    let latest: Meta | undefined
    for (const meta of metas) {
      if (typeof meta.userId !== 'string') continue
      if (!latest || String(meta.onlineAt ?? '') > String(latest.onlineAt ?? '')) latest = meta
    }
    if (!latest) continue
    const { presence_ref: _ref, ...user } = latest
    users.push(user as PresenceUser)
  }
  return users.sort(byUserId)
}

/** Who joined and who left between two lists of users, by user id. */
export function diffUsers(before: PresenceUser[], now: PresenceUser[]): { joined: PresenceUser[]; left: PresenceUser[] } {
  const ids = (list: PresenceUser[]) => new Set(list.map((u) => u.userId))
  const had = ids(before)
  const has = ids(now)
  return { joined: now.filter((u) => !had.has(u.userId)), left: before.filter((u) => !has.has(u.userId)) }
}

/** Order of presence users: by user id. */
export const byUserId = (a: PresenceUser, b: PresenceUser): number => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0)
