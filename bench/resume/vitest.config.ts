/** Runs the resume benchmarks with the test harness (embedded Postgres, real server, TCP proxies). */
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const root = fileURLToPath(new URL('../../', import.meta.url))
const src = (pkg: string) => `${root}packages/${pkg}/src/index.ts`

export default defineConfig({
  root,
  resolve: { alias: { '@switchboard/protocol': src('protocol'), '@switchboard/server': src('server'), '@switchboard/client': src('client') } },
  test: {
    include: ['bench/resume/*.bench.test.ts'],
    globalSetup: ['./test-support/global-setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 60_000,
    maxWorkers: 1,
  },
})
