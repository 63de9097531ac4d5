/**
 * Private channels check write permission (RLS INSERT policies on realtime.messages) lazily,
 * on the first broadcast or track, and keep the answer for the channel's life until the next
 * token refresh (§3.4). Messages arriving while the check runs wait for the same promise, so
 * they are delivered in the order they arrived.
 */
import { isServiceRole, type AuthContext } from '../auth/auth-context.js'
import type { ChannelAuthorization } from '../tenant/tenant.js'
import type { Logger } from '../logger.js'
import type { ChannelPort } from './channel-port.js'

export class WritePermissions {
  readonly #checks = new Map<'broadcast' | 'presence', Promise<boolean>>()

  constructor(
    private readonly subTopic: string,
    private readonly isPrivate: boolean,
    private readonly authorizer: ChannelAuthorization,
    private readonly logger: Logger,
  ) {}

  allowed(auth: AuthContext, extension: 'broadcast' | 'presence'): boolean | Promise<boolean> {
    if (!this.isPrivate || isServiceRole(auth)) return true
    let check = this.#checks.get(extension)
    if (!check) {
      check = this.authorizer.authorizeWrite(this.subTopic, auth, extension).catch((error: unknown) => {
        this.logger.error({ err: error, topic: this.subTopic }, 'write authorization failed')
        this.#checks.delete(extension)
        return false
      })
      this.#checks.set(extension, check)
    }
    return check
  }

  /** A new token: permissions are checked again. */
  reset(): void {
    this.#checks.clear()
  }
}

/** Runs `then` with the answer, synchronously when it is already known. */
export function withWritePermission(port: ChannelPort, extension: 'broadcast' | 'presence', then: (allowed: boolean) => void): void {
  const allowed = port.writeAllowed(extension)
  if (typeof allowed === 'boolean') then(allowed)
  else void allowed.then(then)
}
