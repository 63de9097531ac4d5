/**
 * Creates a database next to another one when it is missing: the default control database
 * (`switchboard_control`) lives in the server's own Postgres, beside the `default` tenant's.
 *
 * @example
 * const controlUrl = await ensureDatabase(embedded.url, 'switchboard_control')
 */
import postgres from 'postgres'
import { DatabaseError, describeTarget } from './connect.js'

/** Returns the URL of database `name` on the server of `serverUrl`, creating the database if needed. */
export async function ensureDatabase(serverUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new RangeError(`invalid database name ${JSON.stringify(name)}`)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {}, connect_timeout: 5 })
  try {
    const rows = await admin`select 1 from pg_database where datname = ${name}`
    if (rows.length === 0) {
      await admin.unsafe(`create database "${name}"`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error // 42P04: created by a concurrent start meanwhile
      })
    }
  } catch (error) {
    throw new DatabaseError(`cannot create the control database ${name} on ${describeTarget(serverUrl)}: ${(error as Error).message.split('\n')[0]} (pass --control-database-url)`, { cause: error })
  } finally {
    await admin.end({ timeout: 1 }).catch(() => {})
  }
  return url.toString()
}
