/**
 * Broadcast payload checks, run before anything reaches the socket:
 *   - plain JSON only (no functions, symbols, bigints, cycles, class instances, NaN/Infinity, no
 *     `undefined` where JSON would turn it into `null`);
 *   - no `__proto__`, `constructor` or `prototype` key at any depth (they poison naive merges on
 *     every receiver: prototype pollution);
 *   - at most `maxBytes` once encoded (UTF-8 JSON).
 * One `JSON.stringify` pass does all three: its replacer sees every key and value (after
 * `toJSON`, so dates pass as strings) and the result is the text whose size counts.
 */
import { createError, SwitchboardError } from './errors.js'

/** 256 KiB: the hosted Supabase broadcast payload quota on the free plan. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

function notJson(what: string, key: string): never {
  throw createError('PAYLOAD_NOT_SERIALIZABLE', `broadcast payload is not plain JSON: ${what} at "${key}"`)
}

function check(this: unknown, key: string, value: unknown): unknown {
  if (FORBIDDEN_KEYS.has(key)) throw createError('PAYLOAD_FORBIDDEN_KEY', `broadcast payload has a forbidden key "${key}"`)
  const type = typeof value
  if (type === 'function' || type === 'symbol' || type === 'bigint') notJson(type, key)
  // An undefined object member is dropped by JSON; in an array (or at the top) it would change the data.
  if (type === 'undefined' && (Array.isArray(this) || key === '')) notJson('undefined', key)
  if (type === 'number' && !Number.isFinite(value)) notJson(String(value), key)
  if (value && type === 'object' && !Array.isArray(value)) {
    const proto: unknown = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) notJson(`an instance of ${(value as object).constructor?.name}`, key)
    if (Object.getOwnPropertySymbols(value).length > 0) notJson('a symbol key', key)
  }
  return value
}

/**
 * Validates a broadcast payload; returns its encoded size in bytes or throws a `SwitchboardError`
 * (`PAYLOAD_NOT_SERIALIZABLE`, `PAYLOAD_FORBIDDEN_KEY`, `PAYLOAD_TOO_LARGE`).
 */
export function checkBroadcastPayload(payload: unknown, maxBytes = DEFAULT_MAX_PAYLOAD_BYTES): number {
  let json: string
  try {
    json = JSON.stringify(payload, check)
  } catch (err) {
    if (err instanceof SwitchboardError) throw err
    throw createError('PAYLOAD_NOT_SERIALIZABLE', `broadcast payload is not plain JSON: ${(err as Error).message}`, { cause: err }) // a cycle
  }
  const size = new TextEncoder().encode(json).length
  if (size > maxBytes) throw createError('PAYLOAD_TOO_LARGE', `broadcast payload is ${size} bytes; the limit is ${maxBytes}`)
  return size
}
