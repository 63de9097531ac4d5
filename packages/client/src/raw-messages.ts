/**
 * Every decoded message of one realtime-js channel instance, seen before its bindings run.
 *
 * ┌───────────────────────────────────────────────────────────────────────────────────────────┐
 * │ realtime-js 2.119 drops the top-level `switchboard` key of postgres_changes messages      │
 * │ before user callbacks, and its socket-level `onMessage` runs only AFTER the channel       │
 * │ bindings. The Phoenix channel's `onMessage(event, payload, ref, joinRef)` hook runs       │
 * │ BEFORE them with the raw payload (realtime-js installs its payload transform there, once, │
 * │ in the constructor). We wrap it, calling the original. This and `socket-events.ts` are    │
 * │ the only places that touch realtime-js internals; without the hook, positions are off.    │
 * └───────────────────────────────────────────────────────────────────────────────────────────┘
 */
import type { RealtimeChannel } from '@supabase/realtime-js'

type Hook = (event: string, payload: unknown, ref?: unknown, joinRef?: unknown) => unknown

/** Calls `fn(event, payload)` for each message of `raw` before its bindings; `false` when unsupported. */
export function onRawMessage(raw: RealtimeChannel, fn: (event: string, payload: unknown) => void): boolean {
  const ph = (raw as unknown as { channelAdapter?: { getChannel?(): { onMessage?: Hook } } }).channelAdapter?.getChannel?.()
  const next = ph?.onMessage
  if (!ph || typeof next !== 'function') return false
  ph.onMessage = (event, payload, ref, joinRef) => {
    fn(event, payload)
    return next.call(ph, event, payload, ref, joinRef)
  }
  return true
}
