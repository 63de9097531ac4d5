import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { afterAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../src/logger.js'
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js'

// Its own cluster, not the shared one: this is the code that starts clusters.
const dir = mkdtempSync(join(tmpdir(), 'switchboard-embedded-'))
// As root Postgres runs as the OS user "postgres", which must be able to enter the folder.
chmodSync(dir, 0o755)

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('startEmbeddedPostgres', () => {
  it('starts, keeps data across a restart on the same folder (stale pid file included), and stops idempotently', { timeout: 120_000 }, async () => {
    const first = await startEmbeddedPostgres({ dataDir: dir, logger: silentLogger })
    expect(first.port).toBeGreaterThan(0)
    let sql = postgres(first.url, { max: 1, onnotice: () => {} })
    const [settings] = await sql`select current_setting('wal_level') as wal, current_setting('max_replication_slots')::int as slots`
    expect(settings).toEqual({ wal: 'logical', slots: 20 })
    await sql`create table kept (v text)`
    await sql`insert into kept values ('still here')`
    await sql.end()

    // A second server on the same folder while the first runs is refused, clearly.
    await expect(startEmbeddedPostgres({ dataDir: dir, logger: silentLogger })).rejects.toThrow(/embedded Postgres could not start .*in use/)

    await Promise.all([first.stop(), first.stop()])
    await first.stop()

    // A crash leaves postmaster.pid behind; after a container restart its PID often belongs to
    // an unrelated process (here: this test's own), which Postgres alone would refuse.
    writeFileSync(join(dir, 'postgres', 'postmaster.pid'), `${process.pid}\n${join(dir, 'postgres')}\n`)

    const second = await startEmbeddedPostgres({ dataDir: dir, logger: silentLogger })
    try {
      sql = postgres(second.url, { max: 1, onnotice: () => {} })
      const rows = await sql`select v from kept`
      expect(rows.map((r) => r.v)).toEqual(['still here'])
      await sql.end()
    } finally {
      await second.stop()
    }
  })
})
