/**
 * Broadcast payload checks, run before anything reaches the socket:
 *   - plain JSON only (no functions, symbols, bigints, cycles, class instances, NaN/Infinity);
 *   - no `__proto__`, `constructor` or `prototype` key at any depth (they poison naive merges on
 *     every receiver: prototype pollution);
 *   - at most `maxBytes` once encoded (UTF-8 JSON).
 * Each failure is a {@link SwitchboardError} with a stable code and the path of the offending value.
 */
import { createError } from './errors.js'

/** 256 KiB: the hosted Supabase broadcast payload quota on the free plan. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024
const MAX_DEPTH = 64
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

function fail(path: string, what: string): never {
  throw createError('PAYLOAD_NOT_SERIALIZABLE', `broadcast payload is not plain JSON at ${path}: ${what}`)
}

function walk(value: unknown, path: string, depth: number, stack: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return
    case 'number':
      if (!Number.isFinite(value)) fail(path, String(value))
      return
    case 'undefined':
      // JSON drops undefined object members; anywhere else it would silently change the data.
      fail(path, 'undefined')
      break
    case 'function':
    case 'symbol':
    case 'bigint':
      fail(path, typeof value)
      break
    case 'object': {
      if (value === null) return
      if (depth >= MAX_DEPTH) fail(path, `nested deeper than ${MAX_DEPTH}`)
      if (stack.has(value)) fail(path, 'circular reference')
      if (value instanceof Date) return
      stack.add(value)
      if (Array.isArray(value)) {
        value.forEach((item, i) => walk(item, `${path}[${i}]`, depth + 1, stack))
      } else {
        if (!isPlainObject(value)) fail(path, `instance of ${value.constructor?.name ?? 'a class'}`)
        for (const key of Reflect.ownKeys(value)) {
          if (typeof key === 'symbol') fail(path, 'symbol key')
          if (FORBIDDEN_KEYS.has(key)) {
            throw createError('PAYLOAD_FORBIDDEN_KEY', `broadcast payload has a forbidden key "${key}" at ${path}`)
          }
          const member = (value as Record<string, unknown>)[key]
          if (member !== undefined) walk(member, `${path}.${key}`, depth + 1, stack)
        }
      }
      stack.delete(value)
    }
  }
}

/** UTF-8 length of a string without allocating a buffer. */
export function utf8Length(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4
      i++
    } else bytes += 3
  }
  return bytes
}

/**
 * Validates a broadcast payload; returns its encoded size in bytes or throws a `SwitchboardError`
 * (`PAYLOAD_NOT_SERIALIZABLE`, `PAYLOAD_FORBIDDEN_KEY`, `PAYLOAD_TOO_LARGE`).
 */
export function checkBroadcastPayload(payload: unknown, maxBytes = DEFAULT_MAX_PAYLOAD_BYTES): number {
  walk(payload, '$', 0, new Set())
  const size = utf8Length(JSON.stringify(payload))
  if (size > maxBytes) {
    throw createError('PAYLOAD_TOO_LARGE', `broadcast payload is ${size} bytes; the limit is ${maxBytes}`)
  }
  return size
}

/** Validates a broadcast event name (non-empty, at most 128 characters). */
export function checkEventName(event: unknown): asserts event is string {
  if (typeof event !== 'string' || event.length === 0 || event.length > 128) {
    throw createError('INVALID_ARGUMENT', 'broadcast event must be a string of 1 to 128 characters')
  }
}
