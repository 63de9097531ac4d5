/**
 * The HTTP app loads Fastify's schema compilers on first use (transport/http-app.ts): routes an
 * embedding program adds with `extend` still get their schemas validated and their responses
 * serialized by them, against a real server.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startSwitchboard, type RunningSwitchboard } from '../src/server.js'
import { createTestDatabase, type TestDatabase } from '../../../test-support/database.js'

let db: TestDatabase
let server: RunningSwitchboard

beforeAll(async () => {
  db = await createTestDatabase('httpapp')
  server = await startSwitchboard({
    port: 0,
    databaseUrl: db.url,
    postgresChanges: false,
    extend: (app) => {
      app.post<{ Body: { count: number } }>(
        '/extra/next',
        {
          schema: {
            body: { type: 'object', required: ['count'], properties: { count: { type: 'integer' } } },
            response: { 200: { type: 'object', properties: { next: { type: 'integer' } } } },
          },
        },
        async (request) => ({ next: request.body.count + 1, notInTheSchema: true }),
      )
    },
  })
})
afterAll(async () => {
  await server?.close()
  await db?.drop()
})

const post = (body: unknown) => fetch(`${server.url}/extra/next`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

test('a route with a schema added by `extend` validates its body and serializes its response', async () => {
  const ok = await post({ count: 41 })
  expect(ok.status).toBe(200)
  expect(await ok.json()).toEqual({ next: 42 }) // the response schema dropped the extra field
  const refused = await post({ count: 'many' })
  expect(refused.status).toBe(400)
  expect(((await refused.json()) as { message: string }).message).toMatch(/count must be integer/)
})

test('the built-in routes answer as before', async () => {
  const health = await fetch(`${server.url}/health`)
  expect(health.status).toBe(200)
})
