/**
 * The live stream (`GET /api/inspect/stream`, Server-Sent Events) read with fetch, which can send
 * the key in a header (EventSource cannot). Reconnects with backoff; a 401 signs the page out.
 * The charts' history arrives once (`hello`) and then grows by the newest sample of each
 * `overview`, so nothing is polled.
 */
import { useEffect, useReducer } from 'react'
import { authHeaders } from './api'
import type { ChannelDetail, ChannelSummary, History, MessageSummary, Overview, Sample } from './types'

export interface StreamState {
  status: 'connecting' | 'live' | 'retrying'
  overview: Overview | null
  history: History
  channels: { total: number; channels: ChannelSummary[] } | null
  channel: ChannelDetail | null
  recent: MessageSummary[] | null
  /** The watched channel's messages as they came, newest first (at most 200). */
  live: MessageSummary[]
  skipped: number
}

type Action = { type: 'status'; status: StreamState['status'] } | { type: 'event'; name: string; data: unknown } | { type: 'reset' }

const EMPTY: StreamState = { status: 'connecting', overview: null, history: { seconds: [], tenSeconds: [] }, channels: null, channel: null, recent: null, live: [], skipped: 0 }
const MAX_LIVE = 200

function withSample(history: History, sample: Sample | null): History {
  if (!sample || history.seconds[history.seconds.length - 1]?.t === sample.t) return history
  const seconds = [...history.seconds, sample].slice(-120)
  const bucket = Math.floor(sample.t / 10_000) * 10_000
  const last = history.tenSeconds[history.tenSeconds.length - 1]
  const tenSeconds = last && last.t === bucket ? [...history.tenSeconds.slice(0, -1), { ...sample, t: bucket }] : [...history.tenSeconds, { ...sample, t: bucket }].slice(-91)
  return { seconds, tenSeconds }
}

function reduce(state: StreamState, action: Action): StreamState {
  if (action.type === 'reset') return EMPTY
  if (action.type === 'status') return { ...state, status: action.status }
  const { name, data } = action
  switch (name) {
    case 'hello': {
      const overview = data as Overview
      return { ...state, status: 'live', overview, history: overview.history ?? state.history }
    }
    case 'overview': {
      const overview = data as Overview
      return { ...state, status: 'live', overview, history: withSample(state.history, overview.now) }
    }
    case 'channels':
      return { ...state, channels: data as StreamState['channels'] }
    case 'channel':
      return { ...state, channel: data as ChannelDetail }
    case 'recent':
      return { ...state, recent: data as MessageSummary[] }
    case 'messages': {
      const batch = data as { messages: MessageSummary[]; skipped: number }
      return { ...state, live: [...[...batch.messages].reverse(), ...state.live].slice(0, MAX_LIVE), skipped: state.skipped + batch.skipped }
    }
    default:
      return state
  }
}

/** Parses SSE blocks out of `buffer`; returns what is left (an unfinished block). */
function parseEvents(buffer: string, emit: (name: string, data: unknown) => void): string {
  let end: number
  while ((end = buffer.indexOf('\n\n')) !== -1) {
    const block = buffer.slice(0, end)
    buffer = buffer.slice(end + 2)
    let name = 'message'
    let data = ''
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) name = line.slice(7)
      else if (line.startsWith('data: ')) data += line.slice(6)
    }
    if (data) emit(name, JSON.parse(data))
  }
  return buffer
}

/**
 * The live state of `tenant` (and, with `channel`, of one channel; with `recent`, the newest
 * traced messages). `onUnauthorized` runs when the key stops being accepted.
 */
export function useInspectStream(tenant: string, params: { q?: string; channel?: string; recent?: boolean }, onUnauthorized: () => void): StreamState {
  const [state, dispatch] = useReducer(reduce, EMPTY)
  const query = new URLSearchParams({ tenant, ...(params.q ? { q: params.q } : {}), ...(params.channel ? { channel: params.channel } : {}), ...(params.recent ? { recent: '1' } : {}) }).toString()

  useEffect(() => {
    const abort = new AbortController()
    let attempt = 0
    dispatch({ type: 'reset' })
    const run = async () => {
      while (!abort.signal.aborted) {
        try {
          const response = await fetch(`/api/inspect/stream?${query}`, { headers: authHeaders(), signal: abort.signal })
          if (response.status === 401) return onUnauthorized()
          if (!response.ok || !response.body) throw new Error(`stream: HTTP ${response.status}`)
          attempt = 0
          const reader = response.body.getReader()
          const decoder = new TextDecoder()
          let buffer = ''
          for (;;) {
            const { value, done } = await reader.read()
            if (done) break
            buffer = parseEvents(buffer + decoder.decode(value, { stream: true }), (name, data) => dispatch({ type: 'event', name, data }))
          }
        } catch {
          if (abort.signal.aborted) return
        }
        dispatch({ type: 'status', status: 'retrying' })
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 500 * 2 ** attempt++)))
      }
    }
    void run()
    return () => abort.abort()
  }, [query, onUnauthorized])

  return state
}
