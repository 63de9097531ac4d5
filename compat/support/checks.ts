/**
 * Shared assertions: "the server still serves a good client" (a broadcast round trip between
 * two fresh official clients) and small readers for /metrics.
 */
import { expect } from 'vitest'
import { subscribe, waitFor, type Harness } from './harness.js'

let roundTrips = 0

/** Two fresh official clients join a new topic; one sends with ack, the other receives. */
export async function expectRoundTrip(h: Harness): Promise<void> {
  const topic = `round-trip-${++roundTrips}-${Math.random().toString(36).slice(2, 8)}`
  const senderClient = h.client()
  const receiverClient = h.client()
  try {
    const sender = senderClient.channel(topic, { config: { broadcast: { ack: true } } })
    const receiver = receiverClient.channel(topic)
    const got: unknown[] = []
    receiver.on('broadcast', { event: 'ping' }, ({ payload }) => got.push(payload))
    expect((await subscribe(sender)).status).toBe('SUBSCRIBED')
    expect((await subscribe(receiver)).status).toBe('SUBSCRIBED')
    expect(await sender.send({ type: 'broadcast', event: 'ping', payload: { n: 1 } })).toBe('ok')
    await waitFor(() => got.length === 1, 5_000, 'round-trip broadcast')
    expect(got).toEqual([{ n: 1 }])
  } finally {
    // realtime-js waits ~150 ms for each socket to close: close both at once.
    await Promise.all([senderClient.realtime.disconnect(), receiverClient.realtime.disconnect()])
  }
}

/**
 * An official client whose token comes from the `accessToken` option. supabase-js hands the
 * first token to Realtime asynchronously; waiting for it makes the join carry that token
 * (otherwise the join would silently use the apikey and prove nothing about the token).
 */
export async function clientWithToken(h: Harness, getToken: () => string) {
  const client = h.client({ accessToken: async () => getToken() })
  await waitFor(() => client.realtime.accessTokenValue === getToken(), 5_000, 'initial access token')
  return client
}

/** The Prometheus text of /metrics. */
export async function metricsText(h: Harness): Promise<string> {
  const response = await fetch(`${h.server.url}/metrics`)
  expect(response.status).toBe(200)
  return response.text()
}

/** The value of one sample (`name{labels}`) in Prometheus text, or 0 when absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line)
    if (!match || match[1] !== name) continue
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3])
  }
  return 0
}

/** Current value of `switchboard_errors_total{code}` straight from the server's registry. */
export async function errorCount(h: Harness, code: string): Promise<number> {
  const metric = await h.server.metrics.errors.get()
  return metric.values.find((v) => v.labels.code === code)?.value ?? 0
}
