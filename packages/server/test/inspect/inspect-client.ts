/**
 * The inspector API as a test sees it: JSON over fetch with a key, and the live stream read
 * with fetch (as the page reads it) until an event arrives.
 */

export interface InspectResponse<T = unknown> {
  status: number
  body: T
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- responses are asserted on, not typed
export type Json = any

export function inspectClient(baseUrl: string, key: string | null) {
  const headers = (extra: Record<string, string> = {}) => ({ ...(key ? { authorization: `Bearer ${key}` } : {}), ...extra })
  return {
    async get(path: string): Promise<InspectResponse<Json>> {
      const response = await fetch(`${baseUrl}${path}`, { headers: headers() })
      return { status: response.status, body: await response.json().catch(() => null) }
    },
    async post(path: string, body: unknown): Promise<InspectResponse<Json>> {
      const response = await fetch(`${baseUrl}${path}`, { method: 'POST', headers: headers({ 'content-type': 'application/json' }), body: JSON.stringify(body) })
      return { status: response.status, body: await response.json().catch(() => null) }
    },
    /** Opens the live stream and resolves with the first event named `event` (then closes it). */
    async streamEvent(query: string, event: string, timeoutMs = 5_000): Promise<{ status: number; data: Json }> {
      const abort = new AbortController()
      const timer = setTimeout(() => abort.abort(), timeoutMs)
      try {
        const response = await fetch(`${baseUrl}/api/inspect/stream?${query}`, { headers: headers(), signal: abort.signal })
        if (response.status !== 200 || !response.body) return { status: response.status, data: await response.json().catch(() => null) }
        const reader = response.body.getReader()
        const decoder = new TextDecoder()
        let buffer = ''
        for (;;) {
          const { value, done } = await reader.read()
          if (done) throw new Error(`stream ended before ${event}`)
          buffer += decoder.decode(value, { stream: true })
          let end: number
          while ((end = buffer.indexOf('\n\n')) !== -1) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const name = /^event: (.*)$/m.exec(block)?.[1]
            const data = /^data: (.*)$/m.exec(block)?.[1]
            if (name === event && data !== undefined) return { status: 200, data: JSON.parse(data) }
          }
        }
      } finally {
        clearTimeout(timer)
        abort.abort()
      }
    },
  }
}
