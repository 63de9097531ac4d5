/**
 * Byte fixtures as hex strings, the way ws writes its receiver tests: `hex('03 01 0e')`.
 * Spaces, `|` separators and newlines are ignored so fixtures can be laid out field by field.
 */
export function hex(text: string): Uint8Array {
  const digits = text.replace(/[\s|]/g, '')
  if (digits.length % 2 !== 0 || /[^0-9a-f]/i.test(digits)) throw new Error(`bad hex fixture: ${text}`)
  return Uint8Array.from(Buffer.from(digits, 'hex'))
}

/** Lower-case hex of some bytes, to compare an encoded frame with a fixture. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** The UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}
