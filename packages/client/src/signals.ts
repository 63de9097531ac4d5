/**
 * Browser lifecycle signals: `online`/`offline` on the global object, `visibilitychange` on
 * `document`, `pageshow` (back-forward cache restore). In Node none of these exist and
 * {@link browserSignals} returns `undefined`; tests inject their own {@link SignalSource}.
 */

export type Signal = 'online' | 'offline' | 'visible' | 'hidden' | 'pageshow'

/** Something that reports lifecycle signals; `subscribe` returns the unsubscribe function. */
export interface SignalSource {
  subscribe(listener: (signal: Signal) => void): () => void
  /** `false` when the environment knows it is offline (`navigator.onLine === false`). */
  isOnline?(): boolean
}

interface EventTargetLike {
  addEventListener(type: string, listener: () => void): void
  removeEventListener(type: string, listener: () => void): void
}

/** The signals of the current environment, or `undefined` where there are none (Node). */
export function browserSignals(): SignalSource | undefined {
  const g = globalThis as unknown as Partial<EventTargetLike> & {
    document?: Partial<EventTargetLike> & { visibilityState?: string }
    navigator?: { onLine?: boolean }
  }
  if (typeof g.addEventListener !== 'function' || typeof g.removeEventListener !== 'function') return undefined
  const doc = typeof g.document?.addEventListener === 'function' ? g.document : undefined
  return {
    isOnline: () => g.navigator?.onLine !== false,
    subscribe(listener) {
      const bindings: Array<[Partial<EventTargetLike> | undefined, string, () => void]> = [
        [g, 'online', () => listener('online')],
        [g, 'offline', () => listener('offline')],
        [g, 'pageshow', () => listener('pageshow')],
        [doc, 'visibilitychange', () => listener(doc?.visibilityState === 'hidden' ? 'hidden' : 'visible')],
      ]
      for (const [target, type, fn] of bindings) target?.addEventListener?.(type, fn)
      return () => {
        for (const [target, type, fn] of bindings) target?.removeEventListener?.(type, fn)
      }
    },
  }
}

/** A source the caller fires by hand (tests, React Native AppState bridges). */
export function manualSignals(): SignalSource & { emit(signal: Signal): void; online: boolean } {
  const listeners = new Set<(signal: Signal) => void>()
  const source = {
    online: true,
    isOnline: () => source.online,
    emit(signal: Signal) {
      if (signal === 'online') source.online = true
      if (signal === 'offline') source.online = false
      for (const l of [...listeners]) l(signal)
    },
    subscribe(listener: (signal: Signal) => void) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
  }
  return source
}
