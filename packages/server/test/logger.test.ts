import { Writable } from 'node:stream'
import { expect, test } from 'vitest'
import { createLogger, redactUrl } from '../src/logger.js'

function capture() {
  const lines: string[] = []
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk))
      callback()
    },
  })
  return { lines, logger: createLogger({ level: 'debug', destination }) }
}

test('logs are JSON lines and tokens never reach them', () => {
  const { lines, logger } = capture()
  logger.info({ access_token: 'eyJ.secret.token', payload: { access_token: 'eyJ.nested' }, apikey: 'eyJ.key', headers: { authorization: 'Bearer eyJ.h' } }, 'joined')
  expect(lines).toHaveLength(1)
  const record = JSON.parse(lines[0]!)
  expect(record).toMatchObject({ msg: 'joined', service: 'switchboard', level: 30 })
  expect(lines[0]).not.toContain('eyJ')
  expect(record.access_token).toBe('<redacted>')
  expect(record.payload.access_token).toBe('<redacted>')
  expect(record.headers.authorization).toBe('<redacted>')
})

test('apikeys in URLs are redacted', () => {
  expect(redactUrl('/realtime/v1/websocket?apikey=eyJ.abc&vsn=2.0.0')).toBe('/realtime/v1/websocket?apikey=<redacted>&vsn=2.0.0')
})
