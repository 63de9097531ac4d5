/**
 * The streaming-replication sub-protocol inside CopyBoth (CopyData payloads), as pure functions:
 * XLogData ('w'), primary keepalive ('k') and the standby status update ('r') we answer with.
 * See https://www.postgresql.org/docs/current/protocol-replication.html.
 */

/** Microseconds between the Unix epoch and the Postgres epoch (2000-01-01). */
const PG_EPOCH_MICROS = 946_684_800_000_000n

export type ReplicationFrame =
  | { kind: 'xlog'; walStart: bigint; walEnd: bigint; sendTime: bigint; data: Buffer }
  | { kind: 'keepalive'; walEnd: bigint; sendTime: bigint; replyRequested: boolean }

export function decodeReplicationFrame(buf: Buffer): ReplicationFrame | null {
  const tag = buf[0]
  if (tag === 0x77 /* w */) {
    return { kind: 'xlog', walStart: buf.readBigUInt64BE(1), walEnd: buf.readBigUInt64BE(9), sendTime: buf.readBigInt64BE(17), data: buf.subarray(25) }
  }
  if (tag === 0x6b /* k */) {
    return { kind: 'keepalive', walEnd: buf.readBigUInt64BE(1), sendTime: buf.readBigInt64BE(9), replyRequested: buf[17] === 1 }
  }
  return null
}

/**
 * Standby status update: everything up to `lsn` is written, flushed and applied — i.e. the
 * server may forget it (the slot's confirmed_flush_lsn moves there).
 */
export function encodeStandbyStatus(lsn: bigint, nowMs: number, replyRequested = false, written = lsn): Buffer {
  const buf = Buffer.alloc(34)
  buf[0] = 0x72 // r
  buf.writeBigUInt64BE(written, 1) // received
  buf.writeBigUInt64BE(lsn, 9) // flushed: moves the slot's confirmed position (0 = no report)
  buf.writeBigUInt64BE(lsn, 17) // applied
  buf.writeBigInt64BE(BigInt(Math.floor(nowMs)) * 1000n - PG_EPOCH_MICROS, 25)
  buf[33] = replyRequested ? 1 : 0
  return buf
}

/** `16/B374D848` ↔ bigint. */
export function parseLsn(text: string): bigint {
  const [hi, lo] = text.split('/')
  if (hi === undefined || lo === undefined) throw new RangeError(`invalid LSN ${text}`)
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`)
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`
}

/** Postgres timestamp (µs since 2000-01-01) → `YYYY-MM-DDTHH:MM:SS.mmmZ`, Supabase's commit_timestamp. */
export function formatCommitTimestamp(pgMicros: bigint): string {
  const ms = Number((pgMicros + PG_EPOCH_MICROS) / 1000n)
  return new Date(ms).toISOString()
}

/** Postgres timestamp (µs since 2000-01-01) → Unix ms. */
export function pgTimeToUnixMs(pgMicros: bigint): number {
  return Number((pgMicros + PG_EPOCH_MICROS) / 1000n)
}
