/**
 * A minimal WebSocket client over a raw TCP socket, for the load generator only.
 *
 * Why not the `ws` client: at saturation one client core must parse several times as many
 * frames as the server writes per second. A full client (UTF-8 validation, an event per
 * message, a Buffer per payload) would make the clients the bottleneck and the bench would
 * measure them. This one parses frame headers in place, hands binary frames to a callback as
 * (buffer, start, end) without copying, and sends masked frames (RFC 6455 §5.3) with an
 * all-zero masking key, so the payload bytes need no XOR.
 */
import { connect } from 'node:net'

const HANDSHAKE_END = Buffer.from('\r\n\r\n')
const OP_TEXT = 1
const OP_BINARY = 2
const OP_CLOSE = 8
const OP_PING = 9

/** A masked client frame (zero masking key) carrying `payload`. */
export function clientFrame(payload, binary) {
  const length = payload.length
  const header = length < 126 ? 6 : length < 65536 ? 8 : 14
  const frame = Buffer.alloc(header + length)
  frame[0] = 0x80 | (binary ? OP_BINARY : OP_TEXT)
  if (length < 126) {
    frame[1] = 0x80 | length
  } else if (length < 65536) {
    frame[1] = 0x80 | 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 0x80 | 127
    frame.writeBigUInt64BE(BigInt(length), 2)
  }
  // Masking key: the 4 bytes before the payload, left zero.
  payload.copy(frame, header)
  return frame
}

/** Byte offset of the payload inside a frame built by {@link clientFrame}. */
export function clientFrameHeaderBytes(payloadLength) {
  return payloadLength < 126 ? 6 : payloadLength < 65536 ? 8 : 14
}

/**
 * Opens a WebSocket. Resolves once the server answered 101.
 * `onChunk()` runs once per TCP read, before its frames; `onBinary(buf, start, end)` gets every
 * binary frame, `onText(string)` every text frame, or `onTextBytes(buf, start, end)` if given
 * (no string decoded: a reader that only scans the frame's bytes).
 */
export function openRawWebSocket({ host, port, path, onChunk, onBinary, onText, onTextBytes, onClose }) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true })
    let pending = null
    let upgraded = false
    let closed = false
    const close = (reason) => {
      if (closed) return
      closed = true
      onClose?.(reason)
    }
    socket.on('connect', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      )
    })
    socket.on('error', (error) => {
      if (!upgraded) reject(error)
      close(error.message)
    })
    socket.on('close', () => {
      if (!upgraded) reject(new Error('closed during handshake'))
      close('socket closed')
    })
    socket.on('data', (chunk) => {
      let buf = pending === null ? chunk : Buffer.concat([pending, chunk])
      pending = null
      let offset = 0
      if (!upgraded) {
        const end = buf.indexOf(HANDSHAKE_END)
        if (end < 0) {
          pending = buf
          return
        }
        const status = buf.toString('latin1', 0, 12)
        if (status !== 'HTTP/1.1 101') {
          reject(new Error(`handshake refused: ${buf.toString('utf8', 0, end)}`))
          socket.destroy()
          return
        }
        upgraded = true
        offset = end + 4
        resolve({
          send: (frame) => socket.write(frame),
          get writableLength() {
            return socket.writableLength
          },
          close: () => socket.destroy(),
        })
      }
      onChunk?.()
      const total = buf.length
      while (total - offset >= 2) {
        const b0 = buf[offset]
        let length = buf[offset + 1] & 0x7f
        let header = 2
        if (length === 126) {
          if (total - offset < 4) break
          length = buf.readUInt16BE(offset + 2)
          header = 4
        } else if (length === 127) {
          if (total - offset < 10) break
          length = buf.readUInt32BE(offset + 2) * 2 ** 32 + buf.readUInt32BE(offset + 6)
          header = 10
        }
        const end = offset + header + length
        if (end > total) break
        const opcode = b0 & 0x0f
        if (opcode === OP_BINARY) onBinary(buf, offset + header, end)
        else if (opcode === OP_TEXT && onTextBytes) onTextBytes(buf, offset + header, end)
        else if (opcode === OP_TEXT) onText(buf.toString('utf8', offset + header, end))
        else if (opcode === OP_CLOSE) {
          close(`close frame ${length >= 2 ? buf.readUInt16BE(offset + header) : ''} ${buf.toString('utf8', offset + header + 2, end)}`)
          socket.destroy()
          return
        } else if (opcode === OP_PING) socket.write(clientFrame(buf.subarray(offset + header, end), false).fill(0x8a, 0, 1))
        offset = end
      }
      if (offset < total) pending = buf.subarray(offset)
    })
  })
}
