import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

// Served by the server under /inspector/ (packages/server/src/transport/inspector-page.ts).
export default defineConfig({
  base: '/inspector/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  server: {
    // `vite` dev server: the API goes to a running server (port 4000).
    proxy: { '/api/inspect': 'http://127.0.0.1:4000' },
  },
})
