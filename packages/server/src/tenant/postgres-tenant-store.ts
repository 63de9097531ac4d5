/**
 * The tenant store in a control database (by default a `switchboard_control` database in the
 * server's own Postgres; `--control-database-url` otherwise), schema `switchboard`:
 *
 *   switchboard.tenants   one row per tenant; database_url, jwt_secret, jwt_jwks and
 *                         previous_jwt_secret encrypted (tenant/secret-box.ts)
 *   switchboard.settings  the secrets key's check value
 *
 * With a previous secrets key, opening the store rotates: values under the previous key are
 * re-sealed under the current one in the opening transaction (tenant/secrets-rekey.ts), and
 * values that a node still on the old key writes meanwhile are read with either key.
 *
 * Every write notifies channel `switchboard_tenants` with the tenant id in its transaction, so
 * every node that watches (LISTEN) hears of it once it is committed. Nothing is written without
 * a secrets key: tenants always carry a secret or a password.
 *
 * @example
 * const store = await PostgresTenantStore.open(url, { secretsKey, logger })
 * await store.create({ externalId: 'acme', databaseUrl, jwtSecret, … })
 */
import type postgres from 'postgres';
import { type Sql } from 'postgres'
import type { Jwks } from '../auth/jwt-verifier.js'
import { connectDatabase } from '../db/connect.js'
import type { Logger } from '../logger.js'
import { SecretBox, SecretsKeyError } from './secret-box.js'
import { checkSecretsKey, type RekeyReport, type SecretsKeys } from './secrets-rekey.js'
import type { NewTenant, TenantConfig, TenantLimitSettings } from './tenant-config.js'
import { TenantExistsError, type TenantStore, type TenantStoreListener } from './tenant-store.js'

export const TENANTS_CHANNEL = 'switchboard_tenants'

const SCHEMA_SQL = /* sql */ `
create schema if not exists switchboard;
create table if not exists switchboard.tenants (
  external_id text primary key,
  name text,
  database_url text not null,
  jwt_secret text,
  jwt_jwks text,
  previous_jwt_secret text,
  previous_jwt_secret_valid_until timestamptz,
  limits jsonb not null default '{}'::jsonb,
  private_only boolean not null default false,
  suspended boolean not null default false,
  inserted_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create table if not exists switchboard.settings (
  name text primary key,
  value text not null
);
`

interface Row {
  external_id: string
  name: string | null
  database_url: string
  jwt_secret: string | null
  jwt_jwks: string | null
  previous_jwt_secret: string | null
  previous_jwt_secret_valid_until: Date | null
  limits: TenantLimitSettings
  private_only: boolean
  suspended: boolean
  inserted_at: Date
  updated_at: Date
}

export interface TenantStoreOptions {
  /** 32-byte AES key (tenant/secret-box.ts `parseSecretsKey`); null when the server has none. */
  secretsKey: Buffer | null
  /**
   * The key the stored values may still be encrypted with (`--previous-secrets-key`): opening
   * re-encrypts them under `secretsKey`. Needs `secretsKey`.
   */
  previousSecretsKey?: Buffer | null
  logger: Logger
}

export class PostgresTenantStore implements TenantStore {
  readonly #sql: Sql
  readonly #keys: SecretsKeys | null
  /** What opening the store re-encrypted (all zero without a previous key, or once rotated). */
  readonly rekey: RekeyReport

  private constructor(sql: Sql, keys: SecretsKeys | null, rekey: RekeyReport) {
    this.#sql = sql
    this.#keys = keys
    this.rekey = rekey
  }

  /**
   * Connects, creates the schema if missing and checks the secrets key against the one the
   * stored tenants were encrypted with, rotating from `previousSecretsKey` when given (throws
   * SecretsKeyError with what to do; nothing is changed then).
   */
  static async open(url: string, options: TenantStoreOptions): Promise<PostgresTenantStore> {
    const previousKey = options.previousSecretsKey ?? null
    if (previousKey && !options.secretsKey) throw new SecretsKeyError('--previous-secrets-key needs --secrets-key: the key to re-encrypt the tenant secrets with')
    if (previousKey && options.secretsKey?.equals(previousKey)) throw new SecretsKeyError('--previous-secrets-key is the same as --secrets-key: give the old key there, the new one as --secrets-key')
    const keys = options.secretsKey ? { current: new SecretBox(options.secretsKey), previous: previousKey ? new SecretBox(previousKey) : null } : null
    const sql = await connectDatabase(url, { logger: options.logger, max: 4 })
    try {
      const rekey = await sql.begin(async (tx) => {
        // One opening at a time across the cluster: schema creation and key rotation.
        await tx.unsafe(`select pg_advisory_xact_lock(hashtext('switchboard.control'))`)
        await tx.unsafe(SCHEMA_SQL).simple()
        if (keys) return checkSecretsKey(tx, keys)
        const [{ count } = { count: 0 }] = await tx<{ count: number }[]>`select count(*)::int as count from switchboard.tenants`
        if (count > 0) throw new SecretsKeyError(`the control database holds ${count} tenant(s) with encrypted secrets: start the server with --secrets-key (SECRETS_KEY)`)
        return { reencrypted: 0, tenants: 0, checkRotated: false }
      })
      if (keys?.previous) logRekey(options.logger, rekey)
      return new PostgresTenantStore(sql, keys, rekey)
    } catch (error) {
      await sql.end({ timeout: 1 }).catch(() => {})
      throw error
    }
  }

  async list(): Promise<TenantConfig[]> {
    const rows = await this.#sql<Row[]>`select * from switchboard.tenants order by external_id`
    return rows.map((row) => this.#decode(row))
  }

  async get(externalId: string): Promise<TenantConfig | null> {
    const [row] = await this.#sql<Row[]>`select * from switchboard.tenants where external_id = ${externalId}`
    return row ? this.#decode(row) : null
  }

  async create(tenant: NewTenant): Promise<TenantConfig> {
    const box = this.#requireBox()
    const id = tenant.externalId
    return this.#sql.begin(async (tx) => {
      const rows = await tx<Row[]>`
        insert into switchboard.tenants (external_id, name, database_url, jwt_secret, jwt_jwks, limits, private_only, suspended)
        values (${id}, ${tenant.name}, ${box.seal(tenant.databaseUrl, `${id}/database_url`)},
                ${tenant.jwtSecret === null ? null : box.seal(tenant.jwtSecret, `${id}/jwt_secret`)},
                ${tenant.jwks === null ? null : box.seal(JSON.stringify(tenant.jwks), `${id}/jwt_jwks`)},
                ${tx.json(tenant.limits as postgres.JSONValue)}, ${tenant.privateOnly}, ${tenant.suspended})
        on conflict (external_id) do nothing
        returning *`
      if (rows.length === 0) throw new TenantExistsError(id)
      await tx`select pg_notify(${TENANTS_CHANNEL}, ${id})`
      return this.#decode(rows[0]!)
    })
  }

  async update(externalId: string, change: (current: TenantConfig) => TenantConfig): Promise<TenantConfig | null> {
    const box = this.#requireBox()
    const id = externalId
    return this.#sql.begin(async (tx) => {
      const [row] = await tx<Row[]>`select * from switchboard.tenants where external_id = ${id} for update`
      if (!row) return null
      const next = change(this.#decode(row))
      const [written] = await tx<Row[]>`
        update switchboard.tenants set
          name = ${next.name},
          database_url = ${box.seal(next.databaseUrl, `${id}/database_url`)},
          jwt_secret = ${next.jwtSecret === null ? null : box.seal(next.jwtSecret, `${id}/jwt_secret`)},
          jwt_jwks = ${next.jwks === null ? null : box.seal(JSON.stringify(next.jwks), `${id}/jwt_jwks`)},
          previous_jwt_secret = ${next.previousJwtSecret === null ? null : box.seal(next.previousJwtSecret, `${id}/previous_jwt_secret`)},
          previous_jwt_secret_valid_until = ${next.previousJwtSecretValidUntil === null ? null : new Date(next.previousJwtSecretValidUntil)},
          limits = ${tx.json(next.limits as postgres.JSONValue)},
          private_only = ${next.privateOnly},
          suspended = ${next.suspended},
          updated_at = now()
        where external_id = ${id}
        returning *`
      await tx`select pg_notify(${TENANTS_CHANNEL}, ${id})`
      return this.#decode(written!)
    })
  }

  async remove(externalId: string): Promise<TenantConfig | null> {
    return this.#sql.begin(async (tx) => {
      const [row] = await tx<Row[]>`delete from switchboard.tenants where external_id = ${externalId} returning *`
      if (!row) return null
      await tx`select pg_notify(${TENANTS_CHANNEL}, ${externalId})`
      return this.#decode(row)
    })
  }

  async watch(listener: TenantStoreListener): Promise<void> {
    // postgres.js keeps LISTEN on a connection of its own and re-listens after a reconnect,
    // calling the second callback again: notifications may have been missed in between.
    await this.#sql.listen(TENANTS_CHANNEL, (id) => listener.onChange(id), () => listener.onResync())
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 2 })
  }

  /** Whether the control database answers (for /health). */
  async ping(): Promise<boolean> {
    try {
      await this.#sql`select 1`
      return true
    } catch {
      return false
    }
  }

  #requireBox(): SecretBox {
    if (!this.#keys) throw new SecretsKeyError('tenant secrets are stored encrypted: start the server with --secrets-key (SECRETS_KEY), e.g. the output of `openssl rand -base64 32`')
    return this.#keys.current
  }

  /** Opens with the current key, or the previous one (a value a node still on it wrote). */
  #open(value: string, context: string): string {
    const current = this.#requireBox()
    const previous = this.#keys?.previous
    try {
      return current.open(value, context)
    } catch (error) {
      if (!previous || !(error instanceof SecretsKeyError)) throw error
      return previous.open(value, context)
    }
  }

  #decode(row: Row): TenantConfig {
    const id = row.external_id
    const open = (value: string | null, field: string) => (value === null ? null : this.#open(value, `${id}/${field}`))
    const jwks = open(row.jwt_jwks, 'jwt_jwks')
    return {
      externalId: id,
      name: row.name,
      databaseUrl: open(row.database_url, 'database_url')!,
      jwtSecret: open(row.jwt_secret, 'jwt_secret'),
      jwks: jwks === null ? null : (JSON.parse(jwks) as Jwks),
      previousJwtSecret: open(row.previous_jwt_secret, 'previous_jwt_secret'),
      previousJwtSecretValidUntil: row.previous_jwt_secret_valid_until?.getTime() ?? null,
      limits: row.limits,
      privateOnly: row.private_only,
      suspended: row.suspended,
      insertedAt: row.inserted_at.getTime(),
      updatedAt: row.updated_at.getTime(),
    }
  }
}

function logRekey(logger: Logger, report: RekeyReport): void {
  if (report.reencrypted === 0 && !report.checkRotated) {
    logger.info({ reencrypted: 0 }, 'secrets key: every stored value is already under the current key; --previous-secrets-key (PREVIOUS_SECRETS_KEY) can be dropped')
    return
  }
  logger.info(
    { reencrypted: report.reencrypted, tenants: report.tenants },
    `secrets key rotated: re-encrypted ${report.reencrypted} value(s) of ${report.tenants} tenant(s) under the current key; drop --previous-secrets-key (PREVIOUS_SECRETS_KEY) once every node runs with the new key`,
  )
}
