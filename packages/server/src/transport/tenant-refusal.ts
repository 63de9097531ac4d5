/**
 * What a client is told when its tenant cannot be used, before any socket exists
 * (supabase-protocol.md §6.4): the WebSocket upgrade answers `{"error": …}`, REST
 * `{"message": …}`, with Supabase's words and statuses.
 */
import { ErrorCode } from '@switchboard/protocol'
import type { TenantRefusal } from '../tenant/tenant-slot.js'

export interface RefusalAnswer {
  status: number
  message: string
  code: ErrorCode
}

/** The upgrade's answer. */
export function upgradeRefusal(refusal: TenantRefusal): RefusalAnswer {
  switch (refusal) {
    case 'not-found':
      return { status: 404, message: 'Tenant not found', code: ErrorCode.TenantNotFound }
    case 'suspended':
      return { status: 403, message: 'Realtime was disabled for this tenant', code: ErrorCode.RealtimeDisabledForTenant }
    case 'unavailable':
      return { status: 503, message: 'Realtime was unable to connect to the project database', code: ErrorCode.UnableToConnectToProject }
  }
}

/** The REST endpoints' answer (Supabase's plug says 401 for an unknown tenant). */
export function restRefusal(refusal: TenantRefusal): RefusalAnswer {
  if (refusal === 'not-found') return { status: 401, message: 'Tenant not found in database', code: ErrorCode.TenantNotFound }
  return upgradeRefusal(refusal)
}
