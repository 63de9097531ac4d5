/**
 * A node's name in the cluster: `<host>-<pid>-<suffix>`, e.g. `web-3-48213-k7q2mz`.
 *
 * It names the node in Redis keys (presence heartbeats, the replication lease), in `/health`
 * and in logs, so an operator can tell which process on which machine answered. Why each part:
 * - the host name says which machine, the pid which process on it (`--workers N` runs several
 *   nodes on one machine, and `/health` shows the pid too);
 * - the random suffix makes a restarted process a NEW node even when the pid is reused (a
 *   container restarts as pid 1 every time): other nodes must not mistake it for the dead one
 *   whose presences they are about to drop.
 *
 * Why the character set is restricted: the id becomes part of Redis keys and channel names,
 * where `{`/`}` select a Redis Cluster hash slot (a host name with braces would move keys to
 * another slot), `:` is our key separator, and spaces or control characters make
 * `redis-cli` output ambiguous. Letters, digits, `.`, `_` and `-` are safe everywhere.
 */
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'

/** What a node id may contain: 1–64 of letters, digits, `.`, `_`, `-`. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/

/** Host names are cut to this many characters, so that the whole id stays within 64. */
const MAX_HOST_CHARS = 40

/** Where {@link defaultNodeId} reads the host, the pid and randomness (tests pass fixed ones). */
export interface NodeIdSources {
  hostname: () => string
  pid: number
  randomBytes: (size: number) => Buffer
}

const systemSources: NodeIdSources = { hostname, pid: process.pid, randomBytes }

/**
 * A fresh node id for this process: host name (sanitised), pid and 6 random base-36 characters.
 *
 * @example
 * defaultNodeId() // 'web-3-48213-k7q2mz'
 */
export function defaultNodeId(sources: NodeIdSources = systemSources): string {
  const host = sanitiseHost(sources.hostname())
  // 4 random bytes → up to 7 base-36 digits; 6 kept: 2·10⁹ values, plenty for one host + pid.
  const suffix = sources.randomBytes(4).readUInt32BE(0).toString(36).padStart(6, '0').slice(-6)
  return `${host}-${sources.pid}-${suffix}`
}

/** Whether `id` can be used as a node id (`--node-id`, `NODE_ID`): see {@link NODE_ID_PATTERN}. */
export function isValidNodeId(id: string): boolean {
  return NODE_ID_PATTERN.test(id)
}

/** Anything outside the safe set becomes `-`; runs of `-` collapse; empty becomes `node`. */
function sanitiseHost(host: string): string {
  const safe = host
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, MAX_HOST_CHARS)
  return safe || 'node'
}
