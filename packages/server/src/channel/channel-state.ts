/**
 * The lifecycle of one joined topic on one socket.
 *
 *              join ok (reply sent)        bindings registered, owed messages replayed
 *   joining ───────────────────▶ joined ─────────────────────────────────────▶ live
 *      │                           │                                          │
 *      │ join error                │ phx_leave / shutdown / duplicate join / socket closed
 *      └──────────────────────────▶ closed ◀──────────────────────────────────┘
 *
 * `joined` accepts broadcast and presence events already; "live" is the moment nothing
 * committed after it can be missed (the positions status is pushed then). `closed` is final: a
 * new `phx_join` on the topic creates a new channel.
 */
export const ChannelState = {
  joining: 'joining',
  joined: 'joined',
  live: 'live',
  closed: 'closed',
} as const

export type ChannelState = (typeof ChannelState)[keyof typeof ChannelState]

const TRANSITIONS: Record<ChannelState, readonly ChannelState[]> = {
  joining: ['joined', 'closed'],
  joined: ['live', 'closed'],
  live: ['closed'],
  closed: [],
}

/** Returns the next state, or throws on a transition the diagram does not allow (a bug). */
export function transition(from: ChannelState, to: ChannelState): ChannelState {
  if (!TRANSITIONS[from].includes(to)) throw new Error(`channel cannot go from ${from} to ${to}`)
  return to
}

/** Joined or live: replies, pushes and deliveries reach the client. */
export const isJoined = (state: ChannelState): boolean => state === ChannelState.joined || state === ChannelState.live
export const isClosed = (state: ChannelState): boolean => state === ChannelState.closed
