/**
 * Switchboard Ops, the whole demo in one call: Switchboard (embedded Postgres unless a
 * database URL is given), the demo schema + seed, the API, the simulator and the built UI.
 *
 * @example
 * ```ts
 * const demo = await startDemo({ port: 0, databaseUrl, simulate: 0 })
 * // open demo.url, sign in as one of demo.users
 * await demo.close()
 * ```
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import { startSwitchboard, type Logger, type RunningSwitchboard, type SwitchboardOptions } from '@switchboard/server'
import { registerApi, signInUsers } from './api.js'
import { demoSchemaSql } from './schema.js'
import { Simulator } from './simulator.js'

export interface DemoOptions {
  port?: number
  host?: string
  databaseUrl?: string
  jwtSecret?: string
  dataDir?: string
  logger?: Logger
  /** Simulator events per minute for every tenant; 0 turns it off, undefined keeps the stored switch. */
  simulate?: number
  /** Seed history (calls, activity, conversations, …). Default true. */
  seed?: boolean
  /** Dev-only sign-in endpoints (`/demo/token`). Default true. */
  devAuth?: boolean
  /** Folder of the built UI (default apps/demo/dist). */
  staticDir?: string
  /** Lifetime of minted tokens in seconds (default 3600). */
  tokenTtlSeconds?: number
  /** The inspector's admin key (`/inspector`), and its trace options. */
  adminKey?: string
  inspector?: SwitchboardOptions['inspector']
}

export interface RunningDemo {
  url: string
  server: RunningSwitchboard
  simulator: Simulator
  users: ReturnType<typeof signInUsers>
  /** Whether the UI bundle was found (otherwise `/` explains how to build it). */
  uiBuilt: boolean
  close(): Promise<void>
}

export const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../dist/', import.meta.url))

export async function startDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  const staticDir = options.staticDir ?? DEFAULT_STATIC_DIR
  const uiBuilt = existsSync(`${staticDir}/index.html`)
  let simulator: Simulator | null = null
  let anonKey = ''
  const server = await startSwitchboard({
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.host ? { host: options.host } : {}),
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
    ...(options.jwtSecret ? { jwtSecret: options.jwtSecret } : {}),
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.adminKey ? { adminKey: options.adminKey } : {}),
    ...(options.inspector ? { inspector: options.inspector } : {}),
    extend: async (app, { sql, tenant, jwtSecret }) => {
      // Runs before the listener opens: the schema is in place before the first client joins.
      await sql.begin((tx) => tx.unsafe(demoSchemaSql({ seed: options.seed ?? true })))
      const { createDevKeys } = await import('@switchboard/server')
      anonKey = (await createDevKeys(jwtSecret)).anonKey
      simulator = new Simulator(sql)
      registerApi(app, {
        sql,
        jwtSecret,
        anonKey,
        verify: (token) => tenant.verifier.verify(token),
        devAuth: options.devAuth ?? true,
        ...(options.tokenTtlSeconds ? { tokenTtlSeconds: options.tokenTtlSeconds } : {}),
        onSimulatorChange: () => simulator!.reload(),
      })
      if (uiBuilt) {
        await app.register(fastifyStatic, { root: staticDir, prefix: '/', wildcard: true, index: ['index.html'] })
      } else {
        app.get('/', async (_request, reply) =>
          reply.type('text/html').send('<h1>Switchboard Ops</h1><p>The UI is not built yet: run <code>npm run build -w apps/demo</code>.</p>'))
      }
      // SPA fallback: client-side routes (/calls, /inbox, …) get index.html.
      app.setNotFoundHandler((request, reply) => {
        const path = request.url.split('?')[0] ?? ''
        if (request.method === 'GET' && uiBuilt && !path.startsWith('/api/') && !path.startsWith('/demo/') && !path.startsWith('/realtime/') && !/\.[a-z0-9]+$/i.test(path)) {
          return reply.sendFile('index.html')
        }
        return reply.code(404).send({ error: 'not found' })
      })
    },
  })
  const sim = simulator as Simulator | null
  if (!sim) throw new Error('demo setup did not run')
  try {
    if (options.simulate !== undefined) await sim.configureAll(options.simulate)
    await sim.start()
  } catch (error) {
    sim.stop()
    await server.close()
    throw error
  }
  return {
    url: server.url,
    server,
    simulator: sim,
    users: signInUsers(),
    uiBuilt,
    close: async () => {
      sim.stop()
      await server.close()
    },
  }
}
