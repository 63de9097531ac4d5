/**
 * `/inspector`: the inspector page (apps/inspector, a Vite build) served from its folder. A few
 * files, so a small handler rather than a static-files dependency: hashed assets are cached for
 * good, `index.html` never, and client-side routes (`/inspector/channels/…`) get `index.html`.
 * Without a build the page says how to make one.
 *
 * The folder: `inspector.staticDir`, else the `@switchboard/inspector` workspace's `dist/` when it
 * has been built (`npm run build`).
 */
import { createReadStream, existsSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, extname, join, resolve, sep } from 'node:path'
import type { FastifyInstance } from 'fastify'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Switchboard inspector</title>
<h1>Switchboard inspector</h1><p>The page is not built: run <code>npm run build</code> (or <code>npm run build -w apps/inspector</code>).
The JSON API works without it: <code>curl -H "Authorization: Bearer $ADMIN_KEY" /api/inspect/tenants</code>.</p>`

/** The built page of the `@switchboard/inspector` workspace, when there is one. */
export function defaultInspectorDir(): string | null {
  try {
    const pkg = createRequire(import.meta.url).resolve('@switchboard/inspector/package.json')
    const dist = join(dirname(pkg), 'dist')
    return existsSync(join(dist, 'index.html')) ? dist : null
  } catch {
    return null
  }
}

export function registerInspectorPage(app: FastifyInstance, dir: string | null): void {
  const root = dir === null ? null : resolve(dir)
  app.get('/inspector', async (_request, reply) => reply.redirect('/inspector/'))
  app.get('/inspector/*', async (request, reply) => {
    if (root === null) return reply.code(200).type('text/html; charset=utf-8').send(NOT_BUILT)
    const wanted = (request.params as { '*': string })['*'] || 'index.html'
    let file = resolve(root, wanted)
    if (file !== root && !file.startsWith(root + sep)) return reply.code(404).send({ error: 'not found' })
    let stat = existsSync(file) ? statSync(file) : null
    if (!stat?.isFile()) {
      if (extname(wanted) !== '') return reply.code(404).send({ error: 'not found' })
      file = join(root, 'index.html') // a client-side route
      stat = existsSync(file) ? statSync(file) : null
      if (!stat) return reply.code(200).type('text/html; charset=utf-8').send(NOT_BUILT)
    }
    const immutable = wanted.startsWith('assets/')
    return reply
      .type(TYPES[extname(file)] ?? 'application/octet-stream')
      .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .header('content-length', stat.size)
      .send(createReadStream(file))
  })
}
