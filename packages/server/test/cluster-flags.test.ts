import { describe, expect, test } from 'vitest'
import { redactPassword, resolveClusterFlags } from '../src/start-options.js'

describe('cluster flags', () => {
  test('defaults: one worker, no Redis, Postgres Changes on', () => {
    expect(resolveClusterFlags({}, {})).toEqual({ redisUrl: undefined, nodeId: undefined, workers: 1, postgresChanges: true })
  })

  test('flags win over the environment', () => {
    const env = { REDIS_URL: 'redis://env:6379', NODE_ID: 'env-node', WORKERS: '3', POSTGRES_CHANGES: 'off' }
    expect(resolveClusterFlags({}, env)).toEqual({ redisUrl: 'redis://env:6379', nodeId: 'env-node', workers: 3, postgresChanges: false })
    expect(resolveClusterFlags({ 'redis-url': 'rediss://flag:6380', 'node-id': 'flag-node', workers: '2' }, env)).toMatchObject({ redisUrl: 'rediss://flag:6380', nodeId: 'flag-node', workers: 2 })
    expect(resolveClusterFlags({ 'no-postgres-changes': true }, {}).postgresChanges).toBe(false)
  })

  test('nonsense is refused with the flag named', () => {
    expect(() => resolveClusterFlags({ 'redis-url': 'localhost:6379' }, {})).toThrow('--redis-url must start with redis:// or rediss://')
    expect(() => resolveClusterFlags({ workers: '65', 'redis-url': 'redis://r' }, {})).toThrow("--workers must be a number from 1 to 64, got '65'")
    expect(() => resolveClusterFlags({ workers: '1.5' }, {})).toThrow(/--workers must be a number/)
    expect(() => resolveClusterFlags({ workers: '2' }, {})).toThrow('--workers 2 needs --redis-url (REDIS_URL): without Redis the workers would not share channels')
    expect(() => resolveClusterFlags({ 'node-id': 'a:b' }, {})).toThrow(/--node-id must be/)
    expect(() => resolveClusterFlags({}, { POSTGRES_CHANGES: 'no' })).toThrow("POSTGRES_CHANGES must be on or off, got 'no'")
    // With workers the number is appended: the id must leave room for it.
    expect(resolveClusterFlags({ 'node-id': 'x'.repeat(64) }, {}).nodeId).toHaveLength(64)
    expect(() => resolveClusterFlags({ 'node-id': 'x'.repeat(63), workers: '2', 'redis-url': 'redis://r' }, {})).toThrow(/worker number appended/)
  })

  test('Redis URLs are printed without their password, also without a user name', () => {
    expect(redactPassword('redis://:s3cret@cache:6379/0')).toBe('redis://:***@cache:6379/0')
    expect(redactPassword('rediss://default:s3cret@cache:6380')).toBe('rediss://default:***@cache:6380')
    expect(redactPassword('redis://cache:6379')).toBe('redis://cache:6379')
  })
})
