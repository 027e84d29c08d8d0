// Vite config: absolute asset base `/` (opcode-web serves the UI at `/` and index.html for deep paths), default outDir `dist` (the server's
// build passes `--outDir <dir> --emptyOutDir`), and a dev proxy of /api and /ws to a local opcode-web.
// For `npm run dev`, start opcode-web with `--allowed-origin http://localhost:5173` so the WebSocket
// Origin check accepts the dev server; open the server's printed ?token= URL once to get the cookie
// (cookies ignore the port, so it also applies to the dev server on the same host).

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

/** Emits `sw.js` (from `src/sw/sw-template.js`) with this build's version (a hash of every file it emits, and of
 *  the worker itself) and the list of the app shell's files, so a new build gets a new cache of its own. */
function serviceWorker(): Plugin {
  return {
    name: 'service-worker',
    apply: 'build',
    generateBundle(_options, bundle) {
      const hash = createHash('sha256');
      const files = new Set<string>(['/index.html']);
      for (const [name, chunk] of Object.entries(bundle).sort(([a], [b]) => a.localeCompare(b))) {
        hash.update(name);
        hash.update(chunk.type === 'chunk' ? chunk.code : typeof chunk.source === 'string' ? chunk.source : Buffer.from(chunk.source));
        if (name !== 'index.html') files.add(`/${name}`);
      }
      const publicDir = join(__dirname, 'public');
      for (const name of readdirSync(publicDir).sort()) {
        hash.update(name);
        hash.update(readFileSync(join(publicDir, name)));
        files.add(`/${name}`);
      }
      const template = readFileSync(join(__dirname, 'src/sw/sw-template.js'), 'utf8');
      hash.update(template);
      const version = hash.digest('hex').slice(0, 16);
      const source = template.replace('__VERSION__', version).replace('__SHELL_FILES__', JSON.stringify([...files], null, 2));
      this.emitFile({ type: 'asset', fileName: 'sw.js', source });
    },
  };
}

const target = process.env.OPCODE_WEB_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  plugins: [serviceWorker()],
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
