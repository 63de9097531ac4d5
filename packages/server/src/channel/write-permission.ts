/**
 * Private channels check write permission (RLS INSERT policies on realtime.messages) lazily,
 * on the first broadcast or track, and keep the answer for the channel's life until the next
 * token refresh (§3.4). Messages arriving while the check runs wait for the same promise, so
 * they are delivered in the order they arrived.
 */
import { isServiceRole } from '../auth/auth-context.js'
import type { Channel } from './channel.js'

export function writeAllowed(channel: Channel, extension: 'broadcast' | 'presence'): boolean | Promise<boolean> {
  if (!channel.isPrivate || isServiceRole(channel.auth!)) return true
  let check = channel.writeChecks.get(extension)
  if (!check) {
    check = channel.tenant.authorizer.authorizeWrite(channel.subTopic, channel.auth!, extension).catch((error: unknown) => {
      channel.tenant.logger.error({ err: error, topic: channel.topic }, 'write authorization failed')
      channel.writeChecks.delete(extension)
      return false
    })
    channel.writeChecks.set(extension, check)
  }
  return check
}

/** Runs `then` with the answer, synchronously when it is already known. */
export function withWritePermission(channel: Channel, extension: 'broadcast' | 'presence', then: (allowed: boolean) => void): void {
  const allowed = writeAllowed(channel, extension)
  if (typeof allowed === 'boolean') then(allowed)
  else void allowed.then(then)
}
