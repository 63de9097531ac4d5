import { describe, expect, test } from 'vitest'
import { defaultNodeId, isValidNodeId, NODE_ID_PATTERN } from '../../src/cluster/node-id.js'

const fixed = (host: string, random = Buffer.from([0, 0, 0, 42])) => ({ hostname: () => host, pid: 4242, randomBytes: () => random })

describe('node id', () => {
  test('host name, pid and a random suffix', () => {
    expect(defaultNodeId(fixed('web-3'))).toBe('web-3-4242-000016')
    const real = defaultNodeId()
    expect(real).toMatch(NODE_ID_PATTERN)
    expect(real).toContain(`-${process.pid}-`)
  })

  test('two processes with the same host and pid still differ (a container restarts as pid 1)', () => {
    expect(defaultNodeId()).not.toBe(defaultNodeId())
  })

  test('host names are made safe as a Redis key part: no braces (hash tags), colons or spaces, bounded', () => {
    expect(defaultNodeId(fixed('{evil}:host name'))).toBe('evil-host-name-4242-000016')
    expect(defaultNodeId(fixed('!!!'))).toBe('node-4242-000016')
    const long = defaultNodeId(fixed('a'.repeat(300), Buffer.from([255, 255, 255, 255])))
    expect(long).toMatch(NODE_ID_PATTERN)
    expect(long).toBe(`${'a'.repeat(40)}-4242-${(2 ** 32 - 1).toString(36).slice(-6)}`)
  })

  test('given ids are checked against the same set', () => {
    expect(isValidNodeId('eu-west-1.node_7')).toBe(true)
    for (const bad of ['', 'a:b', 'a{b}', 'a b', 'é', 'x'.repeat(65)]) expect(isValidNodeId(bad)).toBe(false)
  })
})
