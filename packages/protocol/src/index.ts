/**
 * @switchboard/protocol: the Supabase Realtime wire contract shared by the Switchboard server
 * and client. Zero dependencies.
 *
 * @example
 * ```ts
 * import { serializerFor } from '@switchboard/protocol'
 * const serializer = serializerFor('2.0.0')!
 * const result = serializer.decode(bytes, isBinary)
 * if (result.ok) console.log(result.message.topic, result.message.event)
 * ```
 */
export * from './error-codes.js'
export * from './message.js'
export * from './serializer.js'
export { serializerV1 } from './serializer-v1.js'
export { serializerV2, KIND_USER_BROADCAST, KIND_USER_BROADCAST_PUSH } from './serializer-v2.js'
export * from './join-payload.js'
export * from './postgres-changes-filter.js'

import type { Serializer } from './serializer.js'
import { serializerV1 } from './serializer-v1.js'
import { serializerV2 } from './serializer-v2.js'

/**
 * The serializer for a `vsn` query value (missing ⇒ 1.0.0, as Phoenix). Versions are matched
 * like Elixir's `~> 1.0.0` / `~> 2.0.0` (same major and minor); anything else ⇒ null.
 */
export function serializerFor(vsn: string | null | undefined): Serializer | null {
  const version = vsn ?? '1.0.0'
  if (/^1\.0\.\d+$/.test(version)) return serializerV1
  if (/^2\.0\.\d+$/.test(version)) return serializerV2
  return null
}
export * from './resume.js'
