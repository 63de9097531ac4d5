/**
 * Which tenant a request is for (supabase-protocol.md §6.3), in this order:
 *
 *   1. the `x-tenant-id` header          (where the hostname cannot carry it: a load balancer, tests)
 *   2. the `tenant` query parameter      (browsers cannot set WebSocket headers; realtime-js `params`)
 *   3. the first label of the Host       (Supabase's convention: acme.realtime.example.com → acme,
 *                                          acme.localhost → acme)
 *
 * A Host that is an IP address or a single label (`localhost`) names no tenant: the request is
 * for the server's `default` tenant. Pure: no lookups here, the registry decides what exists.
 *
 * @example
 * tenantIdOf({ host: 'acme.realtime.example.com:443' }, '/realtime/v1/websocket') // 'acme'
 */
import type { IncomingHttpHeaders } from 'node:http'
import { isIP } from 'node:net'

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/** The tenant id a request names, lower-cased, or null when it names none. */
export function tenantIdOf(headers: IncomingHttpHeaders, url: string | undefined): string | null {
  const header = first(headers['x-tenant-id'])?.trim()
  if (header) return header.toLowerCase()
  const query = url?.includes('tenant=') ? new URL(url, 'http://localhost').searchParams.get('tenant')?.trim() : undefined
  if (query) return query.toLowerCase()
  return tenantIdOfHost(first(headers.host))
}

/** The first label of a Host header value, or null for IP addresses and single labels. */
export function tenantIdOfHost(host: string | undefined): string | null {
  if (!host) return null
  let name = host.trim().toLowerCase()
  if (name.startsWith('[')) return null // an IPv6 literal, `[::1]:4000`
  name = name.replace(/:\d+$/, '').replace(/\.$/, '')
  if (isIP(name) !== 0) return null
  const dot = name.indexOf('.')
  if (dot <= 0) return null
  return name.slice(0, dot)
}
