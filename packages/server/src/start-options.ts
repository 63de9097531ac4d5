/**
 * The options every Switchboard launcher takes (`switchboard start`, the demo's `npm start`):
 * their `parseArgs` definitions, help lines, and validation into typed flags. Environment
 * variables (PORT, HOST, DATABASE_URL, JWT_SECRET, DATA_DIR, LOG_LEVEL, ADMIN_KEY, TRACE_MESSAGES) fill in what the
 * command line leaves out; flags win.
 *
 * @example
 * ```ts
 * const { values } = parseArgs({ args, options: { ...START_OPTIONS, verbose: { type: 'boolean' } } })
 * const flags = resolveStartFlags(values, process.env)   // throws UsageError on bad input
 * await startSwitchboard({ ...flags, logger: createLogger({ level: flags.logLevel }) })
 * ```
 */
import { isValidNodeId } from './cluster/node-id.js'
import { parseSecretsKey } from './tenant/secret-box.js'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export const START_OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'database-url': { type: 'string' },
  'jwt-secret': { type: 'string' },
  'data-dir': { type: 'string' },
  'log-level': { type: 'string' },
  'admin-key': { type: 'string' },
  'trace-messages': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

export const START_OPTIONS_HELP = `  --port <n>            TCP port to listen on (env PORT; default 4000; 0 picks a free port)
  --host <addr>         interface to listen on (env HOST; default 127.0.0.1)
  --database-url <url>  Postgres to use, with wal_level=logical (env DATABASE_URL).
                        Without it an embedded Postgres starts under --data-dir.
  --jwt-secret <s>      secret of the HS256/384/512 JWTs clients present (env JWT_SECRET;
                        default: the Supabase CLI's public development secret)
  --data-dir <path>     folder for the embedded Postgres data (env DATA_DIR; default .switchboard)
  --log-level <level>   ${LOG_LEVELS.join(', ')} (env LOG_LEVEL)
  --admin-key <key>     opens the inspector (/inspector) on every tenant (env ADMIN_KEY; at least
                        16 characters). A tenant's service_role key opens it on that tenant alone.
  --trace-messages <n>  messages the inspector's delivery trace keeps per tenant while someone
                        watches (env TRACE_MESSAGES; default 500; 0 turns tracing off)
  -h, --help            show this help`

export interface StartFlags {
  port: number
  host: string
  databaseUrl: string | undefined
  jwtSecret: string | undefined
  dataDir: string
  logLevel: LogLevel
  adminKey: string | undefined
  /** Only when --trace-messages is given. */
  inspector?: { maxMessages: number }
}

/** A bad flag or environment value: launchers print its message on one line and exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

type StartValues = { [K in keyof typeof START_OPTIONS]?: (typeof START_OPTIONS)[K]['type'] extends 'string' ? string : boolean }

/** Validates the parsed values (plus environment) into flags; throws UsageError. */
export function resolveStartFlags(values: StartValues, env: NodeJS.ProcessEnv, defaults: { logLevel?: LogLevel } = {}): StartFlags {
  const portText = values.port ?? env.PORT ?? '4000'
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port > 65_535) throw new UsageError(`--port must be a number from 0 to 65535, got '${portText}'`)
  const logLevel = values['log-level'] ?? env.LOG_LEVEL ?? defaults.logLevel ?? 'info'
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`)
  const databaseUrl = values['database-url'] ?? env.DATABASE_URL
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new UsageError('--database-url must start with postgres:// or postgresql://')
  const jwtSecret = values['jwt-secret'] ?? env.JWT_SECRET
  if (jwtSecret !== undefined && jwtSecret.length < 16) throw new UsageError('--jwt-secret must be at least 16 characters')
  const adminKey = values['admin-key'] ?? env.ADMIN_KEY
  if (adminKey !== undefined && adminKey.length < 16) throw new UsageError('--admin-key must be at least 16 characters')
  const traceText = values['trace-messages'] ?? env.TRACE_MESSAGES
  if (traceText !== undefined && (!/^\d+$/.test(traceText) || Number(traceText) > 100_000)) throw new UsageError(`--trace-messages must be a number from 0 to 100000, got '${traceText}'`)
  return {
    ...(traceText !== undefined ? { inspector: { maxMessages: Number(traceText) } } : {}),
    adminKey,
    port,
    host: values.host ?? env.HOST ?? '127.0.0.1',
    databaseUrl,
    jwtSecret,
    dataDir: values['data-dir'] ?? env.DATA_DIR ?? '.switchboard',
    logLevel: logLevel as LogLevel,
  }
}

/** A connection URL with its password masked, for printing. */
export function redactPassword(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@') // the user may be empty: redis://:password@host
}

/**
 * The multi-tenant options of `switchboard start` (environment MULTI_TENANT, CONTROL_DATABASE_URL,
 * SECRETS_KEY, PREVIOUS_SECRETS_KEY, TENANT_IDLE_SECONDS). `--multi-tenant` or a control
 * database turns it on; the admin key (`--admin-key`, START_OPTIONS) then also opens the
 * tenants admin API.
 */
export const TENANT_OPTIONS = {
  'multi-tenant': { type: 'boolean' },
  'control-database-url': { type: 'string' },
  'secrets-key': { type: 'string' },
  'previous-secrets-key': { type: 'string' },
  'tenant-idle-seconds': { type: 'string' },
} as const

export const TENANT_OPTIONS_HELP = `  --multi-tenant        serve the tenants of a control database (env MULTI_TENANT=1); with
                        --admin-key, manage them at /api/tenants (switchboard tenants …)
  --control-database-url <url>
                        where tenants are stored; implies --multi-tenant (env
                        CONTROL_DATABASE_URL; default: database switchboard_control beside the
                        server's own database)
  --secrets-key <key>   32 bytes as hex or base64 encrypting tenant secrets and database
                        passwords at rest (env SECRETS_KEY; make one: openssl rand -base64 32)
  --previous-secrets-key <key>
                        the key to rotate away from (env PREVIOUS_SECRETS_KEY): at start, values
                        it encrypted are re-encrypted with --secrets-key; drop it afterwards
  --tenant-idle-seconds <n>
                        stop a tenant's pool and replication stream after n seconds without
                        sockets or requests (env TENANT_IDLE_SECONDS; default 300)`

export interface TenantFlags {
  multiTenant: boolean
  controlDatabaseUrl: string | undefined
  secretsKey: string | undefined
  previousSecretsKey: string | undefined
  tenantIdleSeconds: number | undefined
}

interface TenantValues {
  'multi-tenant'?: boolean
  'control-database-url'?: string
  'secrets-key'?: string
  'previous-secrets-key'?: string
  'tenant-idle-seconds'?: string
}

/** Validates the multi-tenant options (plus environment); throws UsageError. */
export function resolveTenantFlags(values: TenantValues, env: NodeJS.ProcessEnv): TenantFlags {
  const controlDatabaseUrl = values['control-database-url'] ?? env.CONTROL_DATABASE_URL
  if (controlDatabaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(controlDatabaseUrl)) {
    throw new UsageError('--control-database-url must start with postgres:// or postgresql://')
  }
  const multiTenantEnv = env.MULTI_TENANT
  if (multiTenantEnv !== undefined && !['', '0', '1', 'true', 'false'].includes(multiTenantEnv)) throw new UsageError(`MULTI_TENANT must be 1, true, 0 or false, got '${multiTenantEnv}'`)
  const multiTenant = values['multi-tenant'] === true || multiTenantEnv === '1' || multiTenantEnv === 'true' || controlDatabaseUrl !== undefined
  const secretsKey = values['secrets-key'] ?? env.SECRETS_KEY
  const key = secretsKey === undefined ? null : parseKeyFlag('--secrets-key', secretsKey)
  const previousSecretsKey = values['previous-secrets-key'] ?? env.PREVIOUS_SECRETS_KEY
  if (previousSecretsKey !== undefined) {
    const previous = parseKeyFlag('--previous-secrets-key', previousSecretsKey)
    if (!key) throw new UsageError('--previous-secrets-key needs --secrets-key (SECRETS_KEY): the new key to re-encrypt the tenant secrets with')
    if (key.equals(previous)) throw new UsageError('--previous-secrets-key is the same as --secrets-key: give the old key there, the new one as --secrets-key')
  }
  const idleText = values['tenant-idle-seconds'] ?? env.TENANT_IDLE_SECONDS
  if (idleText !== undefined && (!/^\d+(\.\d+)?$/.test(idleText) || Number(idleText) <= 0)) {
    throw new UsageError(`--tenant-idle-seconds must be a positive number, got '${idleText}'`)
  }
  return { multiTenant, controlDatabaseUrl, secretsKey, previousSecretsKey, tenantIdleSeconds: idleText === undefined ? undefined : Number(idleText) }
}

function parseKeyFlag(flag: string, text: string): Buffer {
  try {
    return parseSecretsKey(text)
  } catch (error) {
    throw new UsageError(`${flag}: ${(error as Error).message}`)
  }
}

/**
 * The cluster options of `switchboard start` (environment REDIS_URL, NODE_ID, WORKERS): nodes
 * that share a database and a Redis serve one set of channels; `--workers N` runs N such nodes
 * on one port (workers-cli.ts).
 */
export const CLUSTER_OPTIONS = {
  'redis-url': { type: 'string' },
  'node-id': { type: 'string' },
  workers: { type: 'string' },
  'no-postgres-changes': { type: 'boolean' },
} as const

/** Workers of one `switchboard start`: far more than any machine has cores, still a bound. */
export const MAX_WORKERS = 64

export const CLUSTER_OPTIONS_HELP = `  --redis-url <url>     Redis shared by the nodes of a cluster, redis:// or rediss:// (env
                        REDIS_URL). Without it the server is a cluster of one.
  --node-id <id>        this node's name in the cluster: letters, digits, . _ - (env NODE_ID;
                        default <host>-<pid>-<random>; with --workers, <id>-<worker number>)
  --workers <n>         run n worker processes on one port, each a node (env WORKERS; default 1;
                        n > 1 needs --redis-url). Without --database-url the embedded Postgres
                        starts once, in the primary process.
  --no-postgres-changes this node reads no replication stream; joins with postgres_changes
                        bindings are refused (env POSTGRES_CHANGES=off). For broadcast- and
                        presence-only nodes, and for --workers until one node is elected to
                        hold the replication slot (today every node waits for it).`

export interface ClusterFlags {
  redisUrl: string | undefined
  nodeId: string | undefined
  /** 1 (one process) up to {@link MAX_WORKERS}. */
  workers: number
  /** False with `--no-postgres-changes` / `POSTGRES_CHANGES=off`. */
  postgresChanges: boolean
}

interface ClusterValues {
  'redis-url'?: string
  'node-id'?: string
  workers?: string
  'no-postgres-changes'?: boolean
}

/** Validates the cluster options (plus environment); throws UsageError. */
export function resolveClusterFlags(values: ClusterValues, env: NodeJS.ProcessEnv): ClusterFlags {
  const redisUrl = values['redis-url'] ?? env.REDIS_URL
  if (redisUrl !== undefined && !/^rediss?:\/\/./.test(redisUrl)) throw new UsageError('--redis-url must start with redis:// or rediss://')
  const workersText = values.workers ?? env.WORKERS ?? '1'
  const workers = Number(workersText)
  if (!/^\d+$/.test(workersText) || workers < 1 || workers > MAX_WORKERS) throw new UsageError(`--workers must be a number from 1 to ${MAX_WORKERS}, got '${workersText}'`)
  // Why refuse rather than run: without Redis each worker is a cluster of its own, so a client
  // would see only the messages of whichever worker its connection landed on.
  if (workers > 1 && redisUrl === undefined) throw new UsageError(`--workers ${workers} needs --redis-url (REDIS_URL): without Redis the workers would not share channels`)
  const nodeId = values['node-id'] ?? env.NODE_ID
  // With workers, worker i is `<id>-<i>`: check the longest such id.
  if (nodeId !== undefined && !isValidNodeId(workers > 1 ? `${nodeId}-${workers}` : nodeId)) {
    throw new UsageError(`--node-id must be 1-64 letters, digits, '.', '_' or '-'${workers > 1 ? ' (with the worker number appended)' : ''}, got '${nodeId}'`)
  }
  const changesEnv = env.POSTGRES_CHANGES
  if (changesEnv !== undefined && !['', 'on', 'off'].includes(changesEnv)) throw new UsageError(`POSTGRES_CHANGES must be on or off, got '${changesEnv}'`)
  const postgresChanges = values['no-postgres-changes'] !== true && changesEnv !== 'off'
  return { redisUrl, nodeId, workers, postgresChanges }
}
