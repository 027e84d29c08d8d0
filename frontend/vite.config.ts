// Vite config: absolute asset base `/` (opcode-web serves the UI at `/` and index.html for deep paths), default outDir `dist` (the server's
// build passes `--outDir <dir> --emptyOutDir`), and a dev proxy of /api and /ws to a local opcode-web.
// For `npm run dev`, start opcode-web with `--allowed-origin http://localhost:5173` so the WebSocket
// Origin check accepts the dev server; open the server's printed ?token= URL once to get the cookie
// (cookies ignore the port, so it also applies to the dev server on the same host).

import { defineConfig } from 'vitest/config';

const target = process.env.OPCODE_WEB_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    // the UI's folder, and the wire snapshots its tests share with the Rust encoder's (src/wire.test.ts)
    fs: { allow: ['.', '../crates/opcode-proto/tests/snapshots'] },
    proxy: {
      '/api': { target, changeOrigin: false },
      '/ws': { target, ws: true, changeOrigin: false },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
  },
});
