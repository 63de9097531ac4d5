import { describe, expect, it } from 'vitest'
import { tenantIdOf, tenantIdOfHost } from '../../src/tenant/tenant-identity.js'

describe('tenantIdOf', () => {
  it('takes the Host’s first label, as Supabase', () => {
    expect(tenantIdOfHost('acme.realtime.example.com')).toBe('acme')
    expect(tenantIdOfHost('acme.localhost:4000')).toBe('acme')
    expect(tenantIdOfHost('ACME.Example.com.')).toBe('acme')
  })

  it('names no tenant for IP addresses and single labels (the default tenant serves those)', () => {
    for (const host of ['127.0.0.1:4000', '10.0.0.2', '[::1]:4000', 'localhost', 'localhost:4000', undefined, '']) {
      expect(tenantIdOfHost(host)).toBeNull()
    }
  })

  it('prefers x-tenant-id, then ?tenant=, then the Host', () => {
    const headers = { host: 'acme.localhost:4000', 'x-tenant-id': 'Globex' }
    expect(tenantIdOf(headers, '/realtime/v1/websocket?tenant=initech')).toBe('globex')
    expect(tenantIdOf({ host: 'acme.localhost' }, '/realtime/v1/websocket?apikey=x&tenant=initech&vsn=2.0.0')).toBe('initech')
    expect(tenantIdOf({ host: 'acme.localhost' }, '/realtime/v1/websocket?apikey=x')).toBe('acme')
    expect(tenantIdOf({ host: '127.0.0.1:4000' }, '/realtime/v1/websocket')).toBeNull()
    expect(tenantIdOf({ host: 'acme.localhost', 'x-tenant-id': ' ' }, '/')).toBe('acme')
  })
})
