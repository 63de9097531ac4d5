/**
 * A Lua script run by its SHA1 (EVALSHA), with the source sent once per Redis: the first call
 * after Redis restarted (or flushed its script cache) gets NOSCRIPT and is sent again as EVAL,
 * which caches it. The hub's append runs on every message, so its body is not resent each time.
 *
 * Commands go through `sendCommand` (node-redis, @redis/client): the script's reply is the raw
 * RESP reply, integers as numbers and bulk strings as strings, or Buffers with `buffers: true`.
 */
import { createHash } from 'node:crypto'
import { RESP_TYPES, type RedisArgument, type TypeMapping } from '@redis/client'

/** The part of a node-redis client the cluster's commands need (any client, whatever its modules). */
export interface RedisCommander {
  sendCommand<T = unknown>(args: ReadonlyArray<RedisArgument>, options?: CommandOptions): Promise<T>
}

/** The node-redis command options the cluster uses. */
export interface CommandOptions {
  typeMapping?: TypeMapping
  /** ms an unsent command may wait; 0 for none. */
  timeout?: number
  abortSignal?: AbortSignal
}

/** Bulk strings as Buffers (stream entries, binary message bodies). */
export const BUFFERS: TypeMapping = { [RESP_TYPES.BLOB_STRING]: Buffer }

export class LuaScript {
  readonly sha: string
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  /** EVALSHA, or EVAL when Redis does not know the script (yet, or any more). */
  async run<T>(client: RedisCommander, keys: readonly RedisArgument[], args: readonly (RedisArgument | number)[] = [], options?: CommandOptions): Promise<T> {
    const tail = [String(keys.length), ...keys, ...args.map((arg) => (typeof arg === 'number' ? String(arg) : arg))]
    try {
      return await client.sendCommand<T>(['EVALSHA', this.sha, ...tail], options)
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
      return client.sendCommand<T>(['EVAL', this.source, ...tail], options)
    }
  }
}
