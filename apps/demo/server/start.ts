#!/usr/bin/env node
/**
 * `npm start`: Switchboard + the Switchboard Ops demo on http://127.0.0.1:4000/.
 *
 *   node apps/demo/dist-server/start.js [--port 4000] [--host 127.0.0.1] [--database-url URL]
 *        [--jwt-secret S] [--data-dir .switchboard] [--log-level warn] [--simulate 20] [--no-seed]
 *        [--no-dev-auth]
 *
 * Same flags and environment variables as `switchboard start` (PORT, HOST, DATABASE_URL,
 * JWT_SECRET, DATA_DIR, LOG_LEVEL), plus SIMULATE (events per minute, 0 = off).
 */
import { parseArgs } from 'node:util'
import { START_OPTIONS, START_OPTIONS_HELP, UsageError, createLogger, redactPassword, resolveStartFlags } from '@switchboard/server'
import { startDemo, type RunningDemo } from './demo.js'

// Output goes straight to stdout/stderr (this is a CLI; the lint rule bans console elsewhere).
const out = (text: string) => void process.stdout.write(`${text}\n`)
const err = (text: string) => void process.stderr.write(`${text}\n`)

const HELP = `Switchboard Ops: the Switchboard demo (server, embedded Postgres, UI).

Options (as \`switchboard start\`, log level default warn):
${START_OPTIONS_HELP}
  --simulate <n>        simulator events per minute per tenant, 0 = off (env SIMULATE; default 20)
  --no-seed             do not generate history (tenants and users are always created)
  --no-dev-auth         disable the dev-only token endpoint (/demo/token)
`

const DEMO_OPTIONS = {
  ...START_OPTIONS,
  simulate: { type: 'string' },
  'no-seed': { type: 'boolean' },
  'no-dev-auth': { type: 'boolean' },
} as const

function fail(message: string): never {
  err(`switchboard-demo: ${message}`)
  process.exit(2)
}

async function main(): Promise<void> {
  let values
  try {
    values = parseArgs({ args: process.argv.slice(2), strict: true, allowPositionals: true, options: DEMO_OPTIONS }).values
  } catch (error) {
    fail((error as Error).message)
  }
  if (values.help) {
    out(HELP)
    return
  }
  let flags
  try {
    flags = resolveStartFlags(values, process.env, { logLevel: 'warn' })
  } catch (error) {
    if (error instanceof UsageError) fail(error.message)
    throw error
  }
  const simulateText = values.simulate ?? process.env.SIMULATE ?? '20'
  const simulate = Number(simulateText)
  if (!Number.isFinite(simulate) || simulate < 0 || simulate > 600) fail(`--simulate must be a number from 0 to 600, got '${simulateText}'`)
  const { databaseUrl, jwtSecret } = flags

  let demo: RunningDemo
  try {
    demo = await startDemo({
      port: flags.port,
      host: flags.host,
      ...(databaseUrl ? { databaseUrl } : {}),
      ...(jwtSecret ? { jwtSecret } : {}),
      dataDir: flags.dataDir,
      logger: createLogger({ level: flags.logLevel }),
      simulate,
      seed: !values['no-seed'],
      devAuth: !values['no-dev-auth'],
      ...(flags.adminKey ? { adminKey: flags.adminKey } : {}),
      ...(flags.inspector ? { inspector: flags.inspector } : {}),
    })
  } catch (error) {
    err(`switchboard-demo: ${(error as Error).message}`)
    process.exitCode = 1
    return
  }

  const width = Math.max(...demo.users.map((u) => u.name.length))
  const lines = [
    '',
    `  Switchboard listening on ${demo.url}: Switchboard Ops is at ${demo.url}/`,
    '',
    `  Realtime       ${demo.url.replace(/^http/, 'ws')}/realtime/v1/websocket`,
    `  Database       ${databaseUrl ? redactPassword(databaseUrl) : `${demo.server.databaseUrl} (embedded)`}`,
    `  anon key       ${demo.server.anonKey}`,
    `  service_role   ${demo.server.serviceRoleKey}`,
    `  Inspector      ${demo.url}/inspector/ (sign in with ${flags.adminKey ? 'the admin key or ' : ''}the service_role key)`,
    `  Simulator      ${simulate > 0 ? `${simulate} events/min per tenant (switch it in the UI, or --simulate 0)` : 'off (--simulate 20 to start it)'}`,
    '',
    '  Sign in as (pick one on the sign-in page; open a second browser or a private window for another):',
    ...demo.users.map((u) => `    ${u.name.padEnd(width)}  ${u.role.padEnd(6)}  ${u.tenantName.padEnd(16)} ${u.email}`),
    '',
  ]
  if (!demo.uiBuilt) lines.push('  The UI is not built: run `npm run build -w apps/demo` (the root `npm run build` does it).', '')
  if (demo.server.usingDevSecret) lines.push('  Tokens are signed with the public development JWT secret; the /demo/token endpoint is dev-only.', '')
  out(lines.join('\n'))

  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    demo.close().then(() => process.exit(0), (error: unknown) => {
      err(`switchboard-demo: shutdown failed: ${(error as Error).message}`)
      process.exit(1)
    })
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

await main()
