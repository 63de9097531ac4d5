/**
 * The error-code registry (error-codes.ts) and its documentation. Like fastify's
 * `test/errors.test.js`, a code cannot be added without documenting it in docs/errors.md.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ALL_ERROR_CODES, ErrorCode, RealtimeError, realtimeError } from '../src/error-codes.js'

const DOCS_PATH = new URL('../../../docs/errors.md', import.meta.url)

/** The codes in the first column of the table under `## Codes` (`| \`Code\` | …`). */
function documentedCodes(markdown: string): string[] {
  const section = markdown.split(/^## Codes\s*$/m)[1]
  if (section === undefined) throw new Error('docs/errors.md has no "## Codes" section')
  const body = section.split(/^## /m)[0]!
  return [...body.matchAll(/^\|\s*`([A-Za-z]+)`\s*\|/gm)].map((match) => match[1]!)
}

describe('docs/errors.md', () => {
  const codes = documentedCodes(readFileSync(DOCS_PATH, 'utf8'))

  it.each([...ALL_ERROR_CODES])('documents %s', (code) => {
    expect(codes).toContain(code)
  })

  it('documents only registered codes, each once', () => {
    expect(codes.filter((code) => !(ALL_ERROR_CODES as readonly string[]).includes(code))).toEqual([])
    expect(new Set(codes).size).toBe(codes.length)
  })

  it('the check sees a code that is not in the table', () => {
    expect(documentedCodes('## Codes\n\n| Code |\n| --- |\n| `A` | x |\n')).toEqual(['A'])
    expect(documentedCodes('## Codes\n\n| `A` | x |\n\n## Other\n\n| `B` | y |\n')).not.toContain('B')
  })
})

describe('ErrorCode registry', () => {
  it('uses each key as its own wire string (Supabase reasons are "<Code>: <message>")', () => {
    for (const [key, value] of Object.entries(ErrorCode)) expect(value).toBe(key)
  })

  it('lists every code once in ALL_ERROR_CODES, frozen', () => {
    expect([...ALL_ERROR_CODES].sort()).toEqual(Object.keys(ErrorCode).sort())
    expect(new Set(ALL_ERROR_CODES).size).toBe(ALL_ERROR_CODES.length)
    expect(Object.isFrozen(ALL_ERROR_CODES)).toBe(true)
  })

  it('keeps the Supabase spellings of the codes that reach the wire', () => {
    expect(ALL_ERROR_CODES).toEqual(expect.arrayContaining([
      'TopicNameRequired', 'InvalidJoinPayload', 'Unauthorized', 'PrivateOnly', 'ChannelRateLimitReached',
      'ClientJoinRateLimitReached', 'RealtimeRestarting', 'InvalidJWTToken', 'MalformedJWT', 'JwtSignatureError',
      'JwtSignerError', 'UnknownErrorOnChannel',
    ]))
  })
})

describe('RealtimeError', () => {
  it('carries a code and gives the Supabase join reason', () => {
    const error = new RealtimeError(ErrorCode.Unauthorized, 'You do not have permissions to read from this Channel topic: room1')
    expect(error).toBeInstanceOf(Error)
    expect(error.name).toBe('RealtimeError')
    expect(error.code).toBe('Unauthorized')
    expect(error.reason).toBe('Unauthorized: You do not have permissions to read from this Channel topic: room1')
    expect(error.cause).toBeUndefined()
  })

  it('keeps a cause', () => {
    const cause = new Error('db down')
    expect(new RealtimeError(ErrorCode.UnknownErrorOnChannel, 'x', { cause }).cause).toBe(cause)
  })
})

describe('realtimeError', () => {
  it('builds a RealtimeError with an optional cause', () => {
    const error = realtimeError(ErrorCode.PrivateOnly, 'This project only allows private channels')
    expect(error).toBeInstanceOf(RealtimeError)
    expect(error.reason).toBe('PrivateOnly: This project only allows private channels')
    expect('cause' in error).toBe(false)

    const cause = new TypeError('bad')
    expect(realtimeError(ErrorCode.MalformedJWT, 'The token provided is not a valid JWT', cause).cause).toBe(cause)
  })

  it('starts the stack at the caller, not inside the factory', () => {
    function callerOfTheFactory() {
      return realtimeError(ErrorCode.TopicNameRequired, 'You must provide a topic name')
    }
    const frames = callerOfTheFactory().stack!.split('\n').filter((line) => line.trimStart().startsWith('at '))
    expect(frames[0]).toContain('callerOfTheFactory')
    expect(frames.some((line) => line.includes('at realtimeError'))).toBe(false)
  })
})
