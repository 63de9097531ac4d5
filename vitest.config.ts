import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url))

// Tests import workspace packages from source, so `vitest` works without a build;
// the CLI tests that spawn `switchboard` use the built dist (npm test builds first).
export default defineConfig({
  resolve: {
    alias: {
      '@switchboard/protocol': src('protocol'),
      '@switchboard/server': src('server'),
      '@switchboard/client/lifecycle': fileURLToPath(new URL('./packages/client/src/lifecycle.ts', import.meta.url)),
      '@switchboard/client/logging': fileURLToPath(new URL('./packages/client/src/logging.ts', import.meta.url)),
      '@switchboard/client/tabs': fileURLToPath(new URL('./packages/client/src/tabs/index.ts', import.meta.url)),
      '@switchboard/client': src('client'),
      '@switchboard/react': src('react'),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'packages/react/test/**/*.test.tsx', 'compat/**/*.test.ts', 'apps/demo/test/**/*.test.ts', 'apps/inspector/test/**/*.test.ts'],
    globalSetup: ['./test-support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: a few files at a time keeps timing-sensitive tests honest.
    maxWorkers: 3,
  },
})
