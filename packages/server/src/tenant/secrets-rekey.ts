/**
 * The secrets key at the start of a tenant store: checked against the control database, and
 * rotated when a previous key is given (`--previous-secrets-key` / PREVIOUS_SECRETS_KEY).
 *
 *   check value (switchboard.settings)     tenant values (switchboard.tenants)
 *   opens with the current key → ok        open with the current key → kept
 *   opens with the previous key → re-seal  open with the previous key → re-sealed
 *   opens with neither → SecretsKeyError   open with neither → SecretsKeyError, nothing written
 *   missing → sealed with the current key
 *
 * It all runs in the store's opening transaction, under its advisory lock: a crash rolls the
 * rotation back whole (the next start with both keys retries it), and nodes starting at once
 * take turns; whoever comes second finds every value under the current key and re-seals none.
 * Rows are read `for update`, so a running node's update of a tenant waits for the rotation.
 * A value is re-sealed with the same tenant/field context it had (secret-box.ts): rotation
 * never moves a ciphertext between tenants or fields.
 *
 * Nothing is notified: the plaintexts do not change, so no node has anything to re-read (and a
 * node still on the old key would fail to re-read them).
 *
 * @example
 * await sql.begin(async (tx) => {
 *   const { reencrypted } = await checkSecretsKey(tx, { current, previous })
 * })
 */
import type { TransactionSql } from 'postgres'
import { type SecretBox, SecretsKeyError } from './secret-box.js'

const KEY_CHECK = 'secrets_key_check'
const KEY_CHECK_PLAIN = 'switchboard secrets key check'
const KEY_CHECK_CONTEXT = `settings/${KEY_CHECK}`

/** The columns of switchboard.tenants that hold sealed values (context `<external_id>/<column>`). */
export const SEALED_COLUMNS = ['database_url', 'jwt_secret', 'jwt_jwks', 'previous_jwt_secret'] as const
type SealedColumn = (typeof SEALED_COLUMNS)[number]
type SealedRow = { external_id: string } & Record<SealedColumn, string | null>

/** Failures named in a SecretsKeyError; the rest are counted. */
const MAX_NAMED = 5

export interface SecretsKeys {
  current: SecretBox
  /** The key being rotated away from, or null. */
  previous: SecretBox | null
}

export interface RekeyReport {
  /** Tenant values re-sealed under the current key (0 when none was under the previous one). */
  reencrypted: number
  /** Tenants whose row changed. */
  tenants: number
  /** Whether the check value was re-sealed (the rotation's first run). */
  checkRotated: boolean
}

/**
 * Checks the current key against the stored check value (sealing one if there is none) and,
 * with a previous key, re-seals under the current key every value that only the previous key
 * opens. Throws SecretsKeyError, saying what to do, when a key is wrong or a value opens with
 * neither; the caller's transaction then rolls everything back.
 */
export async function checkSecretsKey(tx: TransactionSql, keys: SecretsKeys): Promise<RekeyReport> {
  const report: RekeyReport = { reencrypted: 0, tenants: 0, checkRotated: false }
  const [check] = await tx<{ value: string }[]>`select value from switchboard.settings where name = ${KEY_CHECK}`
  if (!check) {
    await tx`insert into switchboard.settings (name, value) values (${KEY_CHECK}, ${keys.current.seal(KEY_CHECK_PLAIN, KEY_CHECK_CONTEXT)})`
  } else {
    const opener = whichKeyOpens(check.value, KEY_CHECK_CONTEXT, keys)
    if (opener === null) throw wrongKeyError(keys)
    if (opener === 'previous') {
      await tx`update switchboard.settings set value = ${keys.current.seal(KEY_CHECK_PLAIN, KEY_CHECK_CONTEXT)} where name = ${KEY_CHECK}`
      report.checkRotated = true
    }
  }
  if (!keys.previous) return report

  const rows = await tx<SealedRow[]>`
    select external_id, database_url, jwt_secret, jwt_jwks, previous_jwt_secret
    from switchboard.tenants order by external_id for update`
  const unreadable: string[] = []
  const changed: SealedRow[] = []
  for (const row of rows) {
    const next = { ...row }
    let rowChanged = false
    for (const column of SEALED_COLUMNS) {
      const value = row[column]
      if (value === null) continue
      const context = `${row.external_id}/${column}`
      const opener = whichKeyOpens(value, context, keys)
      if (opener === null) unreadable.push(context)
      if (opener !== 'previous') continue
      next[column] = keys.current.seal(keys.previous.open(value, context), context)
      report.reencrypted++
      rowChanged = true
    }
    if (rowChanged) changed.push(next)
  }
  if (unreadable.length > 0) {
    const named = unreadable.slice(0, MAX_NAMED).join(', ') + (unreadable.length > MAX_NAMED ? `, and ${unreadable.length - MAX_NAMED} more` : '')
    throw new SecretsKeyError(
      `${unreadable.length} stored value(s) open with neither --secrets-key nor --previous-secrets-key (${named}): ` +
        'the previous key is not the one they were encrypted with, or they were altered. Nothing was re-encrypted; ' +
        'start again with the right previous key (or restore those rows of switchboard.tenants from a backup, or delete them)',
    )
  }
  for (const row of changed) {
    await tx`
      update switchboard.tenants set database_url = ${row.database_url}, jwt_secret = ${row.jwt_secret},
        jwt_jwks = ${row.jwt_jwks}, previous_jwt_secret = ${row.previous_jwt_secret}
      where external_id = ${row.external_id}`
  }
  report.tenants = changed.length
  return report
}

/** Opens `stored` with the current key, then the previous one: which did, or null. */
export function whichKeyOpens(stored: string, context: string, keys: SecretsKeys): 'current' | 'previous' | null {
  if (opens(keys.current, stored, context)) return 'current'
  if (keys.previous && opens(keys.previous, stored, context)) return 'previous'
  return null
}

function opens(box: SecretBox, stored: string, context: string): boolean {
  try {
    box.open(stored, context)
    return true
  } catch (error) {
    if (error instanceof SecretsKeyError) return false
    throw error
  }
}

function wrongKeyError(keys: SecretsKeys): SecretsKeyError {
  if (keys.previous) {
    return new SecretsKeyError(
      'neither --secrets-key nor --previous-secrets-key is the key the stored tenants were encrypted with: ' +
        'pass that key as --previous-secrets-key (PREVIOUS_SECRETS_KEY) to rotate to the new one. Nothing was changed',
    )
  }
  return new SecretsKeyError(
    'the secrets key does not match the one the stored tenants were encrypted with: start with that key, ' +
      'or, to rotate to this one, pass the old key as --previous-secrets-key (PREVIOUS_SECRETS_KEY) once',
  )
}
