/**
 * A TCP port on 127.0.0.1 that was free a moment ago. Postgres cannot listen on port 0, so
 * callers that start one bind a throwaway server there and reuse its port.
 */
import { createServer } from 'node:net'

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no free port'))))
    })
  })
}
