// opcode-web's service worker (built into dist/sw.js by the `service-worker` plugin of vite.config.ts, which
// fills in VERSION, a hash of this build's files, and SHELL_FILES, the files of the app shell).
//
// - The app shell (index.html, the hashed assets, icons, manifest) is kept in a cache named after the
//   build, so the app opens from the home screen with no network. index.html is network first (a new server
//   version is seen at once); hashed assets are cache first (their names change with their content).
// - The last answers of the session lists (/api/sessions/running, /api/projects, /api/projects/*/sessions)
//   are kept; when the network fails the page gets them with the header `x-opcode-offline: 1`, so it shows
//   the last-known sessions and says that it is offline.
// - A new version installs beside the old one and waits; a page tells it to take over only when that page
//   runs the new version's own files (it was loaded with the new index.html: a reload), naming its script,
//   which must be one of the new SHELL_FILES; the new worker then deletes the old shell. A page still on the
//   old files never makes the new worker take over. Old and new files never mix: each version's files are in
//   its own cache.
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
  const d = event.data;
  if (!d || d.type !== 'SKIP_WAITING') return;
  // only a page of this very build (its script is one of this shell's files) lets this worker take over
  if (typeof d.script === 'string' && !SHELL_FILES.includes(d.script)) return;
  self.skipWaiting();
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

// ---- Web Push (docs/protocol.md "Web Push": the payload). A push shows its notification (Allow / Deny
// actions for a permission request); a tap on an action answers the request from here (same-origin: the
// token cookie goes along) and closes it; a tap on the body focuses a page of the app and opens the session
// (`#session=<id>`, which the page turns into that session's tab), or opens a new window on it. ----

/** The app's own address for a payload's `url`: `/?session=<id>` → `/#session=<id>`; other origins → `/`. */
function appUrl(url) {
  let u;
  try {
    u = new URL(url || '/', self.location.origin);
  } catch (e) {
    return '/';
  }
  if (u.origin !== self.location.origin) return '/';
  const session = u.searchParams.get('session');
  if (session) return `/#session=${encodeURIComponent(session)}`;
  return `${u.pathname}${u.search}${u.hash}`;
}

/** What to show for a push payload: [title, options]. */
function notificationFor(p) {
  const data = p && typeof p === 'object' ? p : {};
  const title = typeof data.title === 'string' && data.title ? data.title : 'opcode';
  const options = {
    body: typeof data.body === 'string' ? data.body : '',
    tag: typeof data.tag === 'string' && data.tag ? data.tag : undefined,
    icon: '/icon-192.png',
    badge: '/icon-192.png',
    data: {
      kind: data.kind,
      url: appUrl(data.url),
      session_id: data.session_id,
      answer_url: data.permission && typeof data.permission.answer_url === 'string' ? data.permission.answer_url : null,
    },
  };
  if (data.v === 1 && data.kind === 'permission_request' && options.data.answer_url) {
    options.actions = [
      { action: 'allow', title: 'Allow' },
      { action: 'deny', title: 'Deny' },
    ];
    options.requireInteraction = true;
    options.renotify = true;
  }
  return [title, options];
}

function pushPayload(event) {
  if (!event.data) return {};
  try {
    return event.data.json();
  } catch (e) {
    return { title: 'opcode', body: event.data.text() };
  }
}

/** Answers a permission request from a notification's action; returns the HTTP status (0: no network). */
async function answerFromNotification(data, action) {
  const body = action === 'allow' ? { behavior: 'allow' } : { behavior: 'deny', message: 'Denied from a notification' };
  try {
    const res = await fetch(data.answer_url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    return res.status;
  } catch (e) {
    return 0;
  }
}

/** Focuses a page of the app and has it open `url` (a hash route), or opens a new window on it. */
async function openApp(url) {
  const list = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const c of list) {
    let same = false;
    try {
      same = new URL(c.url).origin === self.location.origin;
    } catch (e) {
      same = false;
    }
    if (!same) continue;
    const hash = new URL(url, self.location.origin).hash;
    if (hash) c.postMessage({ type: 'opcode-open', hash });
    if ('focus' in c) return c.focus();
    return c;
  }
  return self.clients.openWindow ? self.clients.openWindow(url) : null;
}

async function onNotificationClick(notification, action) {
  const data = notification.data || {};
  if ((action === 'allow' || action === 'deny') && data.answer_url) {
    notification.close();
    const status = await answerFromNotification(data, action);
    // 200: claude got it; 409 / 404: answered already or gone. No network or a server error: open the
    // session so the answer can be given there.
    if (status === 0 || status >= 500) await openApp(data.url || '/');
    return status;
  }
  notification.close();
  await openApp(data.url || '/');
  return null;
}

self.addEventListener('push', (event) => {
  const [title, options] = notificationFor(pushPayload(event));
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener('notificationclick', (event) => {
  // the work starts before waitUntil, so it also runs for an event dispatched by a script (tests)
  event.waitUntil(onNotificationClick(event.notification, event.action));
});

// ---- pushsubscriptionchange: the push service renewed or dropped this worker's subscription. The worker
// subscribes again with the server's VAPID key and saves the new subscription under this device's id (which
// the page keeps for it in the cache DEVICE), replacing the old one on the server. ----

const DEVICE = 'opcode-device';
const DEVICE_KEY = '/__opcode/device-id';

async function storedDeviceId() {
  const hit = await (await caches.open(DEVICE)).match(DEVICE_KEY);
  return hit ? (await hit.text()).trim() : null;
}

function base64UrlToBytes(s) {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Subscribes again and tells the server; resolves with the server's HTTP status (null: no device id). */
async function resubscribe() {
  const device = await storedDeviceId();
  if (!device) return null; // notifications were never turned on in this browser
  const keyRes = await fetch('/api/push/vapid-public-key', { credentials: 'same-origin' });
  if (!keyRes.ok) return keyRes.status;
  const key = (await keyRes.json()).data.public_key;
  const sub = await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(key) });
  const res = await fetch('/api/push/subscriptions', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ device_id: device, subscription: sub.toJSON() }),
  });
  return res.status;
}

self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil(resubscribe());
});
