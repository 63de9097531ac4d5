/**
 * What the inspector keeps of a payload: its first bytes as text, with secrets removed before it
 * is stored. Pure functions.
 *
 * Why redact on the way in, not on the way out: the trace lives in memory for minutes and is read
 * by operators who are not the message's recipients, so a token in a payload must never reach
 * the trace at all. Redaction works on text that may be cut in the middle (the preview is a
 * prefix), so it is done with patterns rather than by parsing:
 *  - a member whose key names a secret (`"password": …`, `"access_token": …`, `"apiKey": …`),
 *    up to the end of its value or of the text when the value is cut;
 *  - anything shaped like a JWT (`eyJ…`, also cut), a `Bearer …` credential, or a Supabase
 *    `sb_secret_…`/`sb_publishable_…` key, wherever it appears (values under innocent keys too).
 *
 * @example
 * ```ts
 * redact('{"user":"ann","access_token":"eyJhbGciOi…"}') // '{"user":"ann","access_token":"<redacted>"}'
 * ```
 */

/** Bytes of a payload kept in a trace (the rest is counted, not kept). */
export const PREVIEW_BYTES = 256

const SECRET_KEY = 'token|secret|password|passwd|pwd|api[_-]?key|authorization|jwt|cookie|session|credential|private[_-]?key|signature'
/** `"key": value` where key names a secret; the value may be cut (no closing quote). */
const SECRET_MEMBER = new RegExp(`("[^"\\\\]*(?:${SECRET_KEY})[^"\\\\]*"\\s*:\\s*)("(?:[^"\\\\]|\\\\.)*"?|[^,}\\]\\s]+)`, 'gi')
const SECRET_KEY_NAME = new RegExp(SECRET_KEY, 'i')
/** One cheap test first: most payloads hold nothing to redact, and are then kept as they are. */
const MAYBE_SECRET = new RegExp(`${SECRET_KEY}|eyJ|bearer|sb_`, 'i')
const JWT_LIKE = /eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){0,2}/g
const BEARER = /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi
const SUPABASE_KEY = /\bsb_(?:secret|publishable)_[A-Za-z0-9_-]+/g
export const REDACTED = '<redacted>'

/** The text with secret members and credential-shaped strings replaced by `<redacted>`. */
export function redact(text: string): string {
  if (!MAYBE_SECRET.test(text)) return text
  return text
    .replace(SECRET_MEMBER, (_match, key: string, value: string) => `${key}${value.startsWith('"') ? `"${REDACTED}"` : REDACTED}`)
    .replace(JWT_LIKE, REDACTED)
    .replace(BEARER, `Bearer ${REDACTED}`)
    .replace(SUPABASE_KEY, REDACTED)
}

/** A redacted preview of text: its first PREVIEW_BYTES characters, and how much was cut. */
export function previewText(text: string, limit = PREVIEW_BYTES): string {
  if (text.length <= limit) return redact(text)
  return `${redact(text.slice(0, limit))}… (${text.length} characters)`
}

/** A redacted preview of a payload's bytes (kind-3/4 broadcasts): JSON as text, binary as its size. */
export function previewBytes(bytes: Uint8Array, encoding: 'json' | 'binary', limit = PREVIEW_BYTES): string {
  if (encoding === 'binary') return `<binary, ${bytes.length} bytes>`
  const end = Math.min(bytes.length, limit)
  // Payloads read from a socket are Buffers already: decode in place, no view to allocate.
  const head = Buffer.isBuffer(bytes) ? bytes.toString('utf8', 0, end) : Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('utf8')
  return bytes.length <= limit ? redact(head) : `${redact(head)}… (${bytes.length} bytes)`
}

/** A redacted preview of a JSON value (JSON broadcasts, change records, presence metas). */
export function previewJson(value: unknown, limit = PREVIEW_BYTES): string {
  let text: string
  try {
    text = JSON.stringify(value) ?? 'null'
  } catch {
    return '<unserializable>'
  }
  return previewText(text, limit)
}

/** A copy of a JSON-like value with secret members replaced (presence metas shown whole). */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redact(value)
  if (typeof value !== 'object' || value === null || depth > 8) return value
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) out[key] = SECRET_KEY_NAME.test(key) ? REDACTED : redactValue(v, depth + 1)
  return out
}
