/**
 * A raw WebSocket speaking the Realtime wire protocol by hand (supabase-protocol.md §1), for
 * tests that must see exact frames, send malformed ones, or misbehave (stop reading).
 *
 * Every received frame is decoded and kept; `next(predicate)` returns the first matching frame
 * not returned before (waiting for it if needed), so tests read like a transcript.
 */
import { createHmac } from 'node:crypto'
import WebSocket from 'ws'

export type Vsn = '1.0.0' | '2.0.0'

/** One received frame, normalised to the v2 field names whatever the wire format. */
export interface Frame {
  joinRef: string | null
  ref: string | null
  topic: string
  event: string
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- frames are asserted on, not typed
  payload: any
  /** Binary frame kind (4 = user broadcast), or null for text frames. */
  kind: number | null
}

export interface Closed {
  code: number
  reason: string
}

/** `ws://…/realtime/v1/websocket?apikey=…&vsn=…`; pass `null` to leave a parameter out. */
export function socketUrl(serverUrl: string, options: { apikey?: string | null; vsn?: Vsn | string | null } = {}): string {
  const url = new URL('/realtime/v1/websocket', serverUrl.replace(/^http/, 'ws'))
  if (options.apikey) url.searchParams.set('apikey', options.apikey)
  if (options.vsn) url.searchParams.set('vsn', options.vsn)
  return url.toString()
}

/** A join payload as realtime-js 2.119 sends it (§2.2), with overrides merged into `config`. */
export function joinPayload(config: Record<string, unknown> = {}, accessToken?: string): Record<string, unknown> {
  return {
    config: { broadcast: { ack: false, self: false }, presence: { key: '', enabled: false }, postgres_changes: [], private: false, ...config },
    ...(accessToken ? { access_token: accessToken } : {}),
  }
}

/** A kind-3 user broadcast push (§1.2), as realtime-js encodes `channel.send()` with vsn 2.0.0. */
export function userBroadcastPush(joinRef: string, ref: string, topic: string, event: string, payload: unknown, encoding: 'json' | 'binary' = 'json', metadata = ''): Buffer {
  const body = encoding === 'json' ? Buffer.from(JSON.stringify(payload)) : Buffer.from(payload as Uint8Array)
  const fields = [joinRef, ref, topic, event, metadata].map((s) => Buffer.from(s))
  const header = Buffer.from([3, ...fields.map((f) => f.length), encoding === 'json' ? 1 : 0])
  return Buffer.concat([header, ...fields, body])
}

function decodeFrame(data: Buffer, isBinary: boolean, vsn: Vsn): Frame {
  if (isBinary) {
    const kind = data[0]!
    if (kind !== 4) return { joinRef: null, ref: null, topic: '', event: `<binary kind ${kind}>`, payload: data, kind }
    const [topicLen, eventLen, metaLen, encoding] = [data[1]!, data[2]!, data[3]!, data[4]!]
    let offset = 5
    const take = (n: number) => data.subarray(offset, (offset += n)).toString('utf8')
    const topic = take(topicLen)
    const event = take(eventLen)
    const meta = take(metaLen)
    const body = data.subarray(offset)
    const payload: Record<string, unknown> = { type: 'broadcast', event, payload: encoding === 1 ? JSON.parse(body.toString('utf8')) : Buffer.from(body) }
    if (meta) payload.meta = JSON.parse(meta)
    return { joinRef: null, ref: null, topic, event: 'broadcast', payload, kind }
  }
  const parsed: unknown = JSON.parse(data.toString('utf8'))
  if (vsn === '2.0.0') {
    const [joinRef, ref, topic, event, payload] = parsed as [string | null, string | null, string, string, unknown]
    return { joinRef, ref, topic, event, payload, kind: null }
  }
  const object = parsed as { join_ref?: string | null; ref: string | null; topic: string; event: string; payload: unknown }
  return { joinRef: object.join_ref ?? null, ref: object.ref, topic: object.topic, event: object.event, payload: object.payload, kind: null }
}

export class RawSocket {
  readonly ws: WebSocket
  readonly vsn: Vsn
  /** Every frame received, in order. */
  readonly frames: Frame[] = []
  /** Resolves when the socket has closed, with the close code and reason. */
  readonly closed: Promise<Closed>
  #taken = new Set<Frame>()
  #waiters = new Set<() => void>()
  #nextRef = 1
  #closedWith: Closed | null = null

  private constructor(ws: WebSocket, vsn: Vsn) {
    this.ws = ws
    this.vsn = vsn
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.frames.push(decodeFrame(data, isBinary, vsn))
      for (const wake of this.#waiters) wake()
    })
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.#closedWith = { code, reason: reason.toString() }
        resolve(this.#closedWith)
        for (const wake of this.#waiters) wake()
      })
    })
    ws.on('error', () => {})
  }

  /** Opens a socket; `vsn` defaults to 2.0.0 (what realtime-js sends); `headers` pick a tenant (`x-tenant-id`, `host`). */
  static async connect(serverUrl: string, apikey: string, options: { vsn?: Vsn; maxPayload?: number; headers?: Record<string, string> } = {}): Promise<RawSocket> {
    const vsn = options.vsn ?? '2.0.0'
    const ws = new WebSocket(socketUrl(serverUrl, { apikey, vsn }), { maxPayload: options.maxPayload ?? 0, ...(options.headers ? { headers: options.headers } : {}) })
    const socket = new RawSocket(ws, vsn)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)))
    })
    return socket
  }

  get isClosed(): boolean {
    return this.#closedWith !== null
  }

  makeRef(): string {
    return `r${this.#nextRef++}`
  }

  sendText(text: string): void {
    this.ws.send(text, { binary: false })
  }

  sendBinary(bytes: Buffer): void {
    this.ws.send(bytes, { binary: true })
  }

  /** Sends one message in this socket's format; returns its ref. */
  push(topic: string, event: string, payload: unknown, refs: { joinRef?: string | null; ref?: string | null } = {}): string {
    const ref = refs.ref === undefined ? this.makeRef() : refs.ref
    const joinRef = refs.joinRef ?? null
    if (this.vsn === '2.0.0') this.sendText(JSON.stringify([joinRef, ref, topic, event, payload]))
    else this.sendText(JSON.stringify({ topic, event, payload, ref, join_ref: joinRef }))
    return ref ?? ''
  }

  /** Sends `phx_join` (join_ref = ref) and resolves with the reply and the join_ref used. */
  async join(topic: string, payload: unknown = joinPayload()): Promise<{ joinRef: string; reply: Frame }> {
    const joinRef = this.makeRef()
    this.push(topic, 'phx_join', payload, { joinRef, ref: joinRef })
    return { joinRef, reply: await this.reply(joinRef, topic) }
  }

  /** The `phx_reply` to `ref`. */
  reply(ref: string, topic?: string, timeoutMs?: number): Promise<Frame> {
    return this.next((f) => f.event === 'phx_reply' && f.ref === ref && (topic === undefined || f.topic === topic), timeoutMs, `reply to ${ref}`)
  }

  /** Sends a heartbeat and waits for its reply: everything the server sent before it has arrived. */
  async heartbeat(timeoutMs = 5_000): Promise<Frame> {
    const ref = this.push('phoenix', 'heartbeat', {})
    return this.reply(ref, 'phoenix', timeoutMs)
  }

  /** The first frame matching `predicate` not returned before, waiting up to `timeoutMs`. */
  next(predicate: (frame: Frame) => boolean, timeoutMs = 5_000, what = 'frame'): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const frame = this.frames.find((f) => !this.#taken.has(f) && predicate(f))
        if (frame) {
          this.#taken.add(frame)
          done()
          resolve(frame)
          return true
        }
        if (this.#closedWith) {
          done()
          reject(new Error(`socket closed (${this.#closedWith.code} ${this.#closedWith.reason}) while waiting for ${what}`))
          return true
        }
        return false
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out waiting for ${what}; received: ${JSON.stringify(this.frames.slice(-10).map(summary))}`))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        this.#waiters.delete(wake)
      }
      const wake = () => void check()
      if (!check()) this.#waiters.add(wake)
    })
  }

  /** Frames received so far matching `predicate` (whether returned by `next` or not). */
  all(predicate: (frame: Frame) => boolean): Frame[] {
    return this.frames.filter(predicate)
  }

  close(): void {
    if (!this.isClosed) this.ws.terminate()
  }
}

function summary(frame: Frame): unknown[] {
  return [frame.joinRef, frame.ref, frame.topic, frame.event, frame.kind === null ? frame.payload : `<kind ${frame.kind}>`]
}

/**
 * Tries a WebSocket upgrade that the server should refuse; resolves with the HTTP status and
 * the parsed JSON body (or rejects if the upgrade succeeds).
 */
export function refusedUpgrade(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.once('open', () => {
      ws.terminate()
      reject(new Error('the upgrade was accepted'))
    })
    ws.once('unexpected-response', (_request, response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let body: unknown = text
        try {
          body = JSON.parse(text)
        } catch {
          // not JSON: the assertion will show the text
        }
        resolve({ status: response.statusCode ?? 0, body })
      })
    })
    ws.once('error', (error) => reject(error))
  })
}

/**
 * A JWT built by hand, so tests can make the tokens a correct server must refuse (`alg: none`,
 * missing claims, a wrong secret). HS256 unless the header says `none`.
 */
export function signJwt(secret: string, claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const signingInput = `${encode(header)}.${encode(claims)}`
  if (header.alg === 'none') return `${signingInput}.`
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`
}

/** Seconds since the epoch, `offset` seconds from now. */
export const epochSeconds = (offset = 0): number => Math.floor(Date.now() / 1000) + offset
