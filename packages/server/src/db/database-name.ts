/**
 * The database a connection URL names (`postgres://u:p@host:5432/app` → `app`; no path →
 * `postgres`, as libpq defaults it for the usual user), for names derived from it: the
 * default replication slot and a stored tenant's slot.
 */
export function databaseNameOf(databaseUrl: string): string {
  return decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, '') || 'postgres')
}
