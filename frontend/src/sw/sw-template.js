// opcode-web's service worker (built into dist/sw.js by the `service-worker` plugin of vite.config.ts, which
// fills in VERSION, a hash of this build's files, and SHELL_FILES, the files of the app shell).
//
// - The app shell (index.html, the hashed assets, icons, manifest) is kept in a cache named after the
//   build, so the app opens from the home screen with no network. index.html is network first (a new server
//   version is seen at once); hashed assets are cache first (their names change with their content).
// - The last answers of the session lists (/api/sessions/running, /api/projects, /api/projects/*/sessions)
//   are kept; when the network fails the page gets them with the header `x-opcode-offline: 1`, so it shows
//   the last-known sessions and says that it is offline.
// - A new version installs beside the old one and waits; the page tells it to take over when it was loaded
//   with the new index.html (a reload), and it then deletes the old shell. Old and new files never mix: each
//   version's files are in its own cache.
// - WebSockets and every request that is not a GET pass through untouched.

const VERSION = '__VERSION__';
const SHELL_FILES = __SHELL_FILES__;
const SHELL = `opcode-shell-${VERSION}`;
const DATA = 'opcode-data-v1';
/** How long the network may take before the cached answer is used (a phone on a poor connection). */
const NETWORK_TIMEOUT_MS = 5000;

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL);
      await cache.addAll(SHELL_FILES);
      // the very first worker of this browser takes over at once; later ones wait for the page's word
      if (!self.registration.active) await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith('opcode-shell-') && name !== SHELL) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'SKIP_WAITING') self.skipWaiting();
});

/** The session lists whose last answers are kept for offline use. */
function isListApi(path) {
  return path === '/api/sessions/running' || path === '/api/projects' || /^\/api\/projects\/[^/]+\/sessions$/.test(path);
}

function timeout(ms) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error('network timeout')), ms));
}

async function networkFirstList(request) {
  const cache = await caches.open(DATA);
  try {
    const res = await Promise.race([fetch(request), timeout(NETWORK_TIMEOUT_MS)]);
    if (res.ok) await cache.put(request, res.clone());
    return res;
  } catch (e) {
    const hit = await cache.match(request);
    if (!hit) {
      return new Response(JSON.stringify({ success: false, data: null, error: 'the server cannot be reached (offline)' }), {
        status: 503,
        headers: { 'content-type': 'application/json', 'x-opcode-offline': '1' },
      });
    }
    const headers = new Headers(hit.headers);
    headers.set('x-opcode-offline', '1');
    return new Response(await hit.blob(), { status: hit.status, statusText: hit.statusText, headers });
  }
}

async function networkFirstPage(request) {
  const cache = await caches.open(SHELL);
  try {
    const res = await Promise.race([fetch(request), timeout(NETWORK_TIMEOUT_MS)]);
    // the shell's index.html is the build's own (cached at install); a page answer is not stored over it
    return res;
  } catch (e) {
    const hit = (await cache.match('/index.html')) || (await cache.match('/'));
    if (hit) return hit;
    throw e;
  }
}

async function cacheFirst(request) {
  const hit = await caches.match(request, { cacheName: SHELL });
  if (hit) return hit;
  return fetch(request);
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.searchParams.has('token')) return; // the sign-in link: always the server's
  if (url.pathname.startsWith('/ws/')) return;
  if (request.mode === 'navigate') {
    event.respondWith(networkFirstPage(request));
    return;
  }
  if (url.pathname.startsWith('/api/')) {
    if (isListApi(url.pathname) && url.search === '') event.respondWith(networkFirstList(request));
    return;
  }
  event.respondWith(cacheFirst(request));
});

// ---- Web Push: reserved for the push notifications of issue 13 (another change adds it; the payload format
// will be in docs/protocol.md). Add the `push` and `notificationclick` listeners here; a click opens
// `/#session=<id>`, which the page turns into that session's tab (src/route.ts). ----
