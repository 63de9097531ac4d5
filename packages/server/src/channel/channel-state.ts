/**
 * The lifecycle of one joined topic on one socket.
 *
 *              join ok
 *   joining ───────────▶ joined
 *      │                   │  phx_leave / shutdown / duplicate join / socket closed
 *      │ join error        ▼
 *      └─────────────────▶ closed
 *
 * `closed` is final: a new `phx_join` on the topic creates a new channel.
 */
export const ChannelState = {
  joining: 'joining',
  joined: 'joined',
  closed: 'closed',
} as const

export type ChannelState = (typeof ChannelState)[keyof typeof ChannelState]

const TRANSITIONS: Record<ChannelState, readonly ChannelState[]> = {
  joining: ['joined', 'closed'],
  joined: ['closed'],
  closed: [],
}

/** Returns the next state, or throws on a transition the diagram does not allow (a bug). */
export function transition(from: ChannelState, to: ChannelState): ChannelState {
  if (!TRANSITIONS[from].includes(to)) throw new Error(`channel cannot go from ${from} to ${to}`)
  return to
}

export const isJoined = (state: ChannelState): boolean => state === ChannelState.joined
export const isClosed = (state: ChannelState): boolean => state === ChannelState.closed
