/**
 * The page's place, in the URL hash so a reload or a shared link comes back to it:
 * `#/overview`, `#/channels`, `#/channels/<topic key>`, `#/trace`, `#/trace/<id>`,
 * `#/trace/table/<table>/<pk>`.
 */
import { useCallback, useEffect, useState } from 'react'

export type Route =
  | { page: 'overview' }
  | { page: 'channels' }
  | { page: 'channel'; key: string }
  | { page: 'trace'; id?: number; table?: string; pk?: string }

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent)
  if (parts[0] === 'channels' && parts[1]) return { page: 'channel', key: parts[1] }
  if (parts[0] === 'channels') return { page: 'channels' }
  if (parts[0] === 'trace' && parts[1] === 'table' && parts[2]) return { page: 'trace', table: parts[2], ...(parts[3] !== undefined ? { pk: parts[3] } : {}) }
  if (parts[0] === 'trace' && parts[1] && /^\d+$/.test(parts[1])) return { page: 'trace', id: Number(parts[1]) }
  if (parts[0] === 'trace') return { page: 'trace' }
  return { page: 'overview' }
}

export function hrefOf(route: Route): string {
  const e = encodeURIComponent
  switch (route.page) {
    case 'overview':
      return '#/overview'
    case 'channels':
      return '#/channels'
    case 'channel':
      return `#/channels/${e(route.key)}`
    case 'trace':
      if (route.id !== undefined) return `#/trace/${route.id}`
      if (route.table) return `#/trace/table/${e(route.table)}${route.pk !== undefined ? `/${e(route.pk)}` : ''}`
      return '#/trace'
  }
}

export function useRoute(): [Route, (route: Route) => void] {
  const [route, setRoute] = useState(() => parseRoute(location.hash))
  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash))
    window.addEventListener('hashchange', onHash)
    return () => window.removeEventListener('hashchange', onHash)
  }, [])
  const navigate = useCallback((next: Route) => {
    location.hash = hrefOf(next)
  }, [])
  return [route, navigate]
}
