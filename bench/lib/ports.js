import { createServer } from 'node:net'

/** A TCP port that was free on 127.0.0.1 a moment ago (the OS picked it for a listener we closed). */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}
