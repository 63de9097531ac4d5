/**
 * The inspector's delivery trace, switched by the benchmarks (`--tracing`) the way an operator's
 * open inspector switches it: through its API, with the admin key the bench gives the server.
 */

/** The admin key bench servers are started with (BENCH_ADMIN_KEY) when a run switches tracing. */
export const BENCH_ADMIN_KEY = 'switchboard-bench-admin-key-0123456789'

/** Tracing on (for an hour) or off on the server at `port`; throws when the server did not switch. */
export async function setTracing(port, on) {
  const response = await fetch(`http://127.0.0.1:${port}/api/inspect/tenants/default/tracing`, {
    method: 'POST',
    headers: { authorization: `Bearer ${BENCH_ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ minutes: on ? 60 : 0 }),
  })
  const body = await response.json()
  if (response.status !== 200 || body.on !== on) throw new Error(`could not switch tracing ${on ? 'on' : 'off'}: ${response.status} ${JSON.stringify(body)}`)
}
