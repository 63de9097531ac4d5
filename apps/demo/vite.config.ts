import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

const src = (pkg: string) => fileURLToPath(new URL(`../../packages/${pkg}/src/index.ts`, import.meta.url))

// The workspace packages are bundled from source, so the demo builds without their dist.
export default defineConfig({
  plugins: [react()],
  resolve: {
    alias: {
      '@switchboard/react': src('react'),
      '@switchboard/client/lifecycle': fileURLToPath(new URL('../../packages/client/src/lifecycle.ts', import.meta.url)),
      '@switchboard/client': src('client'),
    },
    dedupe: ['react', 'react-dom', '@tanstack/react-query'],
  },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1024 },
  server: {
    // `vite` dev server: API and realtime go to a running `npm start` (port 4000).
    proxy: {
      '/api': 'http://127.0.0.1:4000',
      '/demo': 'http://127.0.0.1:4000',
      '/realtime': { target: 'ws://127.0.0.1:4000', ws: true },
    },
  },
})
