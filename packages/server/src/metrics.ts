/**
 * Prometheus metrics (prom-client), one registry per server instance so several servers in
 * one process (tests) do not collide. Hot paths count in plain integers and the flush loop
 * adds them in bulk: a prom-client `inc()` per delivered frame would cost more than the frame.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import type { ErrorCode } from '@switchboard/protocol'

export interface ServerMetrics {
  registry: Registry
  connections: Gauge
  channels: Gauge
  joins: Counter<'result'>
  messagesIn: Counter<'kind'>
  messagesOut: Counter
  bytesOut: Counter
  errors: Counter<'code'>
  countError(code: ErrorCode): void
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): ServerMetrics {
  const registry = new Registry()
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'switchboard_' })
  const errors = new Counter({ name: 'switchboard_errors_total', help: 'Errors by stable code', labelNames: ['code'] as const, registers: [registry] })
  return {
    registry,
    connections: new Gauge({ name: 'switchboard_connections', help: 'Open WebSocket connections', registers: [registry] }),
    channels: new Gauge({ name: 'switchboard_channels', help: 'Joined channels', registers: [registry] }),
    joins: new Counter({ name: 'switchboard_joins_total', help: 'Channel joins by result', labelNames: ['result'] as const, registers: [registry] }),
    messagesIn: new Counter({ name: 'switchboard_messages_in_total', help: 'Messages received from clients by kind', labelNames: ['kind'] as const, registers: [registry] }),
    messagesOut: new Counter({ name: 'switchboard_messages_out_total', help: 'WebSocket messages sent to clients', registers: [registry] }),
    bytesOut: new Counter({ name: 'switchboard_bytes_out_total', help: 'Bytes of WebSocket payload sent to clients', registers: [registry] }),
    errors,
    countError: (code) => errors.inc({ code }),
  }
}
