import { describe, expect, it } from 'vitest'
import { createTestDatabase } from '../../../../test-support/database.js'
import { freePort } from '../../../../test-support/free-port.js'
import { silentLogger } from '../../src/logger.js'
import { connectDatabase } from '../../src/db/connect.js'

describe('connectDatabase', () => {
  it('returns a working pool', async () => {
    const db = await createTestDatabase('conn')
    try {
      const sql = await connectDatabase(db.url, { logger: silentLogger, max: 2 })
      const [row] = await sql`select current_database() as name`
      expect(row?.name).toBe(db.name)
      await sql.end()
    } finally {
      await db.drop()
    }
  })

  it('fails with one clear line, without the password, when nothing listens', async () => {
    const port = await freePort()
    const error = await connectDatabase(`postgres://app:s3cret-pw@127.0.0.1:${port}/appdb`, { logger: silentLogger })
      .then(() => undefined, (e: unknown) => e as Error & { code?: string })
    expect(error?.message).toMatch(new RegExp(`^cannot connect to database at 127\\.0\\.0\\.1:${port}/appdb: connection refused`))
    expect(error?.message).not.toContain('s3cret')
    expect(error?.message).not.toContain('\n')
    expect(error?.code).toBe('DatabaseError')
  })

  it('names the reason when the database does not exist', async () => {
    const db = await createTestDatabase('conn')
    const missing = db.url.replace(/\/[^/]+$/, '/no_such_db')
    await db.drop()
    await expect(connectDatabase(missing, { logger: silentLogger })).rejects.toThrow(/^cannot connect to database at .*\/no_such_db: database "no_such_db" does not exist/)
  })
})
