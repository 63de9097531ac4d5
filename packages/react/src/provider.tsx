/**
 * `<RealtimeProvider>` hands one `ChannelManager` to the hooks below it.
 *
 * With `manager`, the caller owns it (create it once, outside React). With `config`, the
 * provider creates one manager on its first render and destroys it on unmount. StrictMode's
 * simulated unmount/remount must not destroy it, so the destroy is deferred by one macrotask
 * and cancelled if the provider mounts again.
 */
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react'
import { ChannelManager, ErrorCodes, SwitchboardError, type RealtimeConfig } from '@switchboard/client'

const RealtimeContext = createContext<ChannelManager | null>(null)

/** Props of {@link RealtimeProvider}: a manager you own, or the options to create one. */
export type RealtimeProviderProps = { children?: ReactNode } & (
  | { manager: ChannelManager; config?: undefined }
  | { config: RealtimeConfig; manager?: undefined }
)

interface Owned {
  manager: ChannelManager | undefined
  destroyTimer: ReturnType<typeof setTimeout> | undefined
}

/**
 * Provides the realtime manager to every hook below.
 *
 * @example
 * ```tsx
 * <RealtimeProvider config={{ url: 'http://127.0.0.1:4000', apiKey: ANON_KEY, accessToken: getToken }}>
 *   <App />
 * </RealtimeProvider>
 * // or, with a manager you create and destroy yourself:
 * <RealtimeProvider manager={manager}><App /></RealtimeProvider>
 * ```
 */
export function RealtimeProvider(props: RealtimeProviderProps): ReactNode {
  const [owned] = useState<Owned>(() => ({ manager: undefined, destroyTimer: undefined }))
  // Created during render (children need it on their first render), at most once per provider:
  // `owned` is this fiber's state, so a second render never creates another. `config` is read once;
  // give the provider a new `key` to start over with other options.
  if (!props.manager && !owned.manager) owned.manager = new ChannelManager(props.config)
  const manager = props.manager ?? (owned.manager as ChannelManager)

  useEffect(() => {
    if (owned.destroyTimer !== undefined) clearTimeout(owned.destroyTimer)
    owned.destroyTimer = undefined
    return () => {
      const mine = owned.manager
      if (!mine) return
      owned.destroyTimer = setTimeout(() => {
        owned.destroyTimer = undefined
        owned.manager = undefined
        void mine.destroy()
      }, 0)
    }
  }, [owned])

  return <RealtimeContext.Provider value={manager}>{props.children}</RealtimeContext.Provider>
}

/**
 * The manager of the nearest `<RealtimeProvider>`; throws `NOT_CONFIGURED` outside one.
 *
 * @example
 * ```tsx
 * const manager = useRealtimeManager()
 * const stats = useSyncExternalStore(manager.statsStore.subscribe, manager.statsStore.getSnapshot)
 * ```
 */
export function useRealtimeManager(): ChannelManager {
  const manager = useContext(RealtimeContext)
  if (!manager) throw new SwitchboardError(ErrorCodes.NotConfigured, 'useRealtimeManager() must be used inside <RealtimeProvider>')
  return manager
}
