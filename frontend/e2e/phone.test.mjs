// The phone app's service worker and HTTPS in Chromium at phone size (issue 13): pushes delivered to the
// worker through the DevTools protocol (ServiceWorker.deliverPushMessage) and its notification handlers run
// in the worker itself (Runtime.evaluate on its target, through playwright's Worker.evaluate); a new server
// build replacing the cached shell; pushsubscriptionchange; the UI over HTTPS with the local CA trusted by
// Chromium for real (an NSS database in the browser's own HOME).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { chromium } from 'playwright-core';
import {
  CHROMIUM, PHONE, SIZES, TIMEOUT, fits, eventually, killServer, launchServer, noClaudeLeft, ownHome, ownProxies, projectDir, spawnOwnServer, startDistProxy, startSession, startShared, stopShared,
} from './harness.mjs';

let server;
let browser;

/** A 1×1 PNG and a 1×1 GIF. */
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const GIF = 'R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7';

/** A phone-sized context on `s` with the notifications permission and the token cookie. */
async function phoneContext(s, options = {}) {
  const ctx = await browser.newContext({ ...PHONE, ...options });
  await ctx.grantPermissions(['notifications'], { origin: s.url });
  const page = await ctx.newPage();
  await page.goto(`${s.url}/?token=${s.token}`);
  await page.waitForSelector('[data-testid="new-tab"]');
  return { ctx, page };
}

/** Waits until the page is controlled by an active service worker; resolves with playwright's Worker. */
async function controlledBy(ctx, page) {
  await eventually(() => page.evaluate(async () => !!(await navigator.serviceWorker.ready).active && !!navigator.serviceWorker.controller), 'the page controlled by the service worker');
  return eventually(() => ctx.serviceWorkers()[0], 'playwright sees the service worker');
}

/** The DevTools session of `page` with the ServiceWorker domain on; `registrationId()` once it is known. */
async function swDevtools(ctx, page) {
  const cdp = await ctx.newCDPSession(page);
  const registrations = new Map();
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: list }) => {
    for (const r of list) if (!r.isDeleted) registrations.set(r.scopeURL, r.registrationId);
  });
  await cdp.send('ServiceWorker.enable');
  const origin = new URL(page.url()).origin;
  const registrationId = () => eventually(() => registrations.get(`${origin}/`), 'the registration id');
  /** Delivers `payload` (JSON) to the worker as a push. */
  const push = async (payload) =>
    cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId: await registrationId(), data: JSON.stringify(payload) });
  return { cdp, push };
}

/** The notifications the page's registration shows (as plain objects). */
const notifications = (page) =>
  page.evaluate(async () =>
    (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, actions: n.actions.map((a) => ({ action: a.action, title: a.title })), data: n.data })),
  );

/** Dispatches `notificationclick` (with `action`, '' for a tap on the body) in the worker for the notification tagged `tag`. */
const clickNotification = (sw, tag, action) =>
  sw.evaluate(
    async ([tag, action]) => {
      const [notification] = await self.registration.getNotifications({ tag });
      if (!notification) throw new Error(`no notification tagged ${tag}`);
      self.dispatchEvent(new NotificationEvent('notificationclick', { notification, action }));
      return true;
    },
    [tag, action],
  );

describe('the phone app in Chromium (390 × 844)', { concurrency: 1 }, () => {
  before(async () => {
    ({ server, browser } = await startShared());
  });

  after(stopShared);

  it('a pushed permission request shows Allow/Deny with the tool; Allow from the notification runs the tool; a finished run is shown and a tap opens the session', async () => {
    const { ctx, page } = await phoneContext(server);
    try {
      const sw = await controlledBy(ctx, page);
      const { push } = await swDevtools(ctx, page);
      const dir = projectDir('pushed');
      const sid = await startSession(page, dir, 'please @tool', { live: true });
      const card = await page.waitForSelector('[data-testid="approval-card"]');
      const requestId = await card.getAttribute('data-request-id');
      const summary = (await page.textContent('[data-testid="approval-card"] [data-testid="approval-command"]')).trim();

      // what the server's notifier sends for this request (docs/protocol.md "The payload")
      const answerUrl = `/api/sessions/${sid}/permissions/${requestId}`;
      await push({
        v: 1, kind: 'permission_request', title: 'pushed: allow Bash?', body: summary, tag: `perm:${requestId}`, url: `/?session=${sid}`,
        session_id: sid, project: 'pushed', sent_at: Date.now(),
        permission: { request_id: requestId, tool_name: 'Bash', summary, expires_at: Date.now() + 60_000, answer_url: answerUrl },
      });
      const [shown] = await eventually(async () => {
        const list = await notifications(page);
        return list.length === 1 && list;
      }, 'the permission notification');
      assert.equal(shown.title, 'pushed: allow Bash?');
      assert.match(shown.body, /echo hi > tool-ran\.txt/);
      assert.equal(shown.tag, `perm:${requestId}`);
      assert.deepEqual(shown.actions, [{ action: 'allow', title: 'Allow' }, { action: 'deny', title: 'Deny' }]);
      assert.equal(shown.data.answer_url, answerUrl);
      assert.equal(existsSync(join(dir, 'tool-ran.txt')), false, 'nothing ran before the answer');

      // Allow, from the notification: the worker answers the server, which resolves the request
      await clickNotification(sw, `perm:${requestId}`, 'allow');
      await eventually(() => existsSync(join(dir, 'tool-ran.txt')), 'the tool ran (tool-ran.txt)');
      await page.waitForSelector(`[data-testid="approval-resolved"][data-request-id="${requestId}"]`);
      assert.equal(await page.locator('[data-testid="approval-card"]').count(), 0, 'the card went away: the server got the answer');
      await eventually(async () => (await notifications(page)).length === 0, 'the notification closed');
      // the request is answered: a second answer is refused (first answer wins)
      const again = await page.evaluate(async (url) => (await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"behavior":"allow"}' })).status, answerUrl);
      assert.equal(again, 409);

      // the end of the turn: a `finished` push
      await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: please (turn 1)")');
      await page.waitForSelector('[data-testid="result-summary"]');
      await push({ v: 1, kind: 'finished', title: 'pushed: done', body: 'Echo: please (turn 1)', tag: `run:${sid}`, url: `/?session=${sid}`, session_id: sid, project: 'pushed', sent_at: Date.now() });
      const [done] = await eventually(async () => {
        const list = await notifications(page);
        return list.length === 1 && list;
      }, 'the finished notification');
      assert.equal(done.title, 'pushed: done');
      assert.equal(done.body, 'Echo: please (turn 1)');
      assert.deepEqual(done.actions, [], 'no actions on a finished run');
      assert.equal(done.data.url, `/#session=${sid}`);

      // the user went elsewhere (the home view); a tap on the notification opens the session in this page
      await page.click('[data-testid="new-tab"]');
      await page.waitForSelector('[data-testid="project-path-input"]');
      await clickNotification(sw, `run:${sid}`, '');
      await page.waitForSelector(`[data-testid="session-view"][data-session-id="${sid}"]`);
      await eventually(async () => (await notifications(page)).length === 0, 'the tapped notification closed');
      await page.click('[data-testid="end-button"]');
      await noClaudeLeft(dir);
    } finally {
      await ctx.close();
    }
  });

  it('pushsubscriptionchange: the worker subscribes again with the server\'s key and saves the new subscription under the device, replacing the old one', async () => {
    const { ctx, page } = await phoneContext(server);
    try {
      // no push service is reachable here: stand-in pushManagers (page and worker) whose subscriptions carry
      // real P-256 keys; everything else (the page's enabling, the worker's handler, the server) is real
      await ctx.addInitScript(() => {
        const b64u = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
        let current = null;
        PushManager.prototype.getSubscription = async () => current;
        PushManager.prototype.subscribe = async () => {
          const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
          const json = { endpoint: 'https://push.example.invalid/sub/old', expirationTime: null, keys: { p256dh: b64u(await crypto.subtle.exportKey('raw', pair.publicKey)), auth: b64u(crypto.getRandomValues(new Uint8Array(16))) } };
          current = { toJSON: () => json, unsubscribe: async () => ((current = null), true) };
          return current;
        };
      });
      await page.reload();
      const sw = await controlledBy(ctx, page);
      await page.click('[data-testid="push-enable"]');
      await page.waitForSelector('[data-testid="notifications-panel"][data-status="on"]');
      const device = await page.evaluate(() => localStorage.getItem('opcode-device-id'));
      assert.ok(device);
      const testPush = () => page.evaluate(async (device) => {
        const res = await fetch('/api/push/test', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ device_id: device }) });
        return { status: res.status, body: await res.json() };
      }, device);
      const before = await testPush();
      assert.equal(before.status, 502, JSON.stringify(before.body));
      assert.match(before.body.error, /sub\/old/, 'the server pushes to the old endpoint');

      const vapid = await page.evaluate(async () => (await (await fetch('/api/push/vapid-public-key')).json()).data.public_key);
      // the push service renewed the subscription: the worker gets pushsubscriptionchange
      await sw.evaluate(async () => {
        const b64u = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
        PushManager.prototype.subscribe = async (opts) => {
          self.__subscribedWith = b64u(opts.applicationServerKey);
          const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
          const json = { endpoint: 'https://push.example.invalid/sub/renewed', expirationTime: null, keys: { p256dh: b64u(await crypto.subtle.exportKey('raw', pair.publicKey)), auth: b64u(crypto.getRandomValues(new Uint8Array(16))) } };
          return { toJSON: () => json };
        };
        self.dispatchEvent(new ExtendableEvent('pushsubscriptionchange'));
      });
      assert.equal(await eventually(() => sw.evaluate(() => self.__subscribedWith), 'the worker subscribed again'), vapid, 'with the server\'s VAPID key');
      const after = await eventually(async () => {
        const r = await testPush();
        return /sub\/renewed/.test(r.body.error ?? '') && r;
      }, 'the server pushes to the renewed endpoint');
      assert.equal(after.status, 502);
      assert.doesNotMatch(after.body.error, /sub\/old/);
    } finally {
      await ctx.close();
    }
  });

  it('a new server build replaces the cached shell whole: after a reload only the new files run, the old cache is gone, and offline opens the new shell', async () => {
    const home = ownHome();
    const token = randomBytes(16).toString('hex');
    // the build under test, as a browser gets it (through the dist proxy with E2E_UI=dist)
    const first = await launchServer({ home, token });
    const v1 = await fetchShell(first.url, token, join(home, 'v1'));
    await killServer(first, 'SIGTERM');
    // the same build with its entry script and style changed: new hashed names and a new worker version
    const v2 = newBuildOf(v1, join(home, 'v2'));

    const front = await startDistProxy(() => front.backend, v1.dir);
    ownProxies.add(front);
    const serveWith = async () => {
      const s = await spawnOwnServer({ home, token, port: 0, front });
      front.backend = s.url;
      s.url = `http://127.0.0.1:${front.port}`;
      return s;
    };
    let s = await serveWith();
    const { ctx, page } = await phoneContext(s);
    try {
      await controlledBy(ctx, page);
      const shells = () => page.evaluate(async () => (await caches.keys()).filter((k) => k.startsWith('opcode-shell-')));
      await eventually(async () => JSON.stringify(await shells()) === JSON.stringify([`opcode-shell-${v1.version}`]), 'the first build cached');
      assert.deepEqual(await loadedFiles(page), v1.entry, 'the page runs the first build');

      // the server restarts with the new build
      await killServer(s, 'SIGTERM');
      front.dir = v2.dir;
      s = await serveWith();
      await page.reload();
      await page.waitForSelector('[data-testid="new-tab"]');
      assert.equal(await page.evaluate(() => window.__opcodeBuild), 'v2', 'the new script runs');
      const loaded = await loadedFiles(page);
      assert.deepEqual(loaded, v2.entry, 'every script and style of the page is the new build\'s');
      for (const f of loaded) assert.ok(!v1.files.includes(f), `${f} is not a file of the old build`);
      // the new worker takes over (the page is its build) and deletes the old shell
      await eventually(async () => JSON.stringify(await shells()) === JSON.stringify([`opcode-shell-${v2.version}`]), 'only the new shell is cached');
      await eventually(() => page.evaluate((v) => navigator.serviceWorker.controller && caches.has(`opcode-shell-${v}`), v2.version), 'the new worker controls the page');

      // offline: the new shell opens from the cache
      front.down = true;
      await page.reload();
      await page.waitForSelector('[data-testid="new-tab"]');
      assert.equal(await page.evaluate(() => window.__opcodeBuild), 'v2', 'offline, the new build opens');
      assert.deepEqual(await loadedFiles(page), v2.entry);
      front.down = false;
    } finally {
      await ctx.close();
    }
  });
  it('over HTTPS with the local CA, trusted by Chromium through an NSS database: a secure context, the worker registers, the cookie is Secure, HSTS is sent, plain HTTP on the port is redirected', async () => {
    const home = ownHome();
    const token = randomBytes(16).toString('hex');
    const s = await spawnOwnServer({ home, token, port: 0, args: ['--tls-local-ca'] });
    assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    // a name of the certificate that is not loopback (so only TLS can make the page a secure context):
    // `<host name>.local`, resolved to 127.0.0.1 by Chromium's own resolver
    const sans = await leafNames(s.port);
    const name = sans.find((n) => n.endsWith('.local'));
    assert.ok(name, `the certificate names <host>.local: ${sans}`);
    await killServer(s, 'SIGTERM');
    const tls = await spawnOwnServer({ home, token, port: 0, args: ['--tls-local-ca', '--allowed-host', name] });
    const url = `https://${name}:${tls.port}`;

    // Chromium's HOME of its own, whose NSS database trusts the CA (what a user does once per device)
    const browserHome = join(home, 'browser-home');
    const nssdb = join(browserHome, '.pki', 'nssdb');
    mkdirSync(nssdb, { recursive: true });
    execFileSync('certutil', ['-N', '-d', `sql:${nssdb}`, '--empty-password']);
    execFileSync('certutil', ['-A', '-d', `sql:${nssdb}`, '-n', 'opcode-web local CA', '-t', 'C,,', '-i', join(home, 'data', 'tls', 'opcode-web-ca.pem')]);
    const trusting = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      env: { ...process.env, HOME: browserHome },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--host-resolver-rules=MAP ${name} 127.0.0.1`],
    });
    try {
      const ctx = await trusting.newContext({ ...PHONE }); // no ignoreHTTPSErrors: the certificate must verify
      const page = await ctx.newPage();
      const res = await page.goto(`${url}/?token=${token}`);
      await page.waitForSelector('[data-testid="new-tab"]');
      assert.equal(res.headers()['strict-transport-security'], 'max-age=31536000');
      assert.equal(await page.evaluate(() => window.isSecureContext && location.protocol), 'https:');
      const [cookie] = (await ctx.cookies(url)).filter((c) => c.name === 'opcode_device');
      assert.ok(cookie?.secure, `the cookie is Secure: ${JSON.stringify(cookie)}`);
      await eventually(() => page.evaluate(async () => !!(await navigator.serviceWorker.ready).active), 'the service worker registered');
      const sessions = await page.evaluate(async () => (await fetch('/api/sessions/running')).status);
      assert.equal(sessions, 200, 'the API answers over HTTPS with the Secure cookie');
      await ctx.close();
    } finally {
      await trusting.close();
    }

    // plain HTTP on the same port: a redirect to the same URL on https
    const plain = await plainGet(tls.port, name, '/some/path?x=1');
    assert.equal(plain.status, 308);
    assert.equal(plain.location, `https://${name}:${tls.port}/some/path?x=1`);
    await killServer(tls, 'SIGTERM');
  });


  for (const [size, viewport] of SIZES) {
    it(`images in prompts (${size}): picked with the file input, checked, thumbnailed, removable, sent to claude and shown in the user's bubble`, async () => {
      const ctx = await browser.newContext({ ...viewport });
      try {
        const page = await ctx.newPage();
        await page.goto(`${server.url}/?token=${server.token}`);
        await page.waitForSelector('[data-testid="new-tab"]');
        const dir = projectDir(`images-${size}`);
        await page.click('[data-testid="new-tab"]');
        await page.fill('[data-testid="project-path-input"]', dir);
        await page.setChecked('[data-testid="live-toggle"]', size === 'laptop');
        // a file that is not an image Claude can see is refused with a sentence, and nothing is attached
        await page.setInputFiles('[data-testid="image-input"]', { name: 'notes.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg/>') });
        assert.match(await page.textContent('[data-testid="image-error"]'), /notes\.svg is not a PNG, JPEG, GIF or WebP image/);
        assert.equal(await page.locator('[data-testid="attached-image"]').count(), 0);
        // two images, one removed again before sending
        await page.setInputFiles('[data-testid="image-input"]', [
          { name: 'dot.png', mimeType: 'image/png', buffer: Buffer.from(PNG, 'base64') },
          { name: 'dot.gif', mimeType: 'image/gif', buffer: Buffer.from(GIF, 'base64') },
        ]);
        await eventually(async () => (await page.locator('[data-testid="attached-image"]').count()) === 2, 'two thumbnails');
        assert.equal(await page.locator('[data-testid="image-error"]').count(), 0, 'the error went with the next good pick');
        await page.locator('[data-testid="remove-image"]').nth(1).click();
        assert.equal(await page.locator('[data-testid="attached-image"]').count(), 1);
        assert.ok(await fits(page), 'no horizontal scroll with a thumbnail');
        const remove = await page.locator('[data-testid="remove-image"]').boundingBox();
        assert.ok(remove.width >= 44 && remove.height >= 44, `remove is a 44 px target: ${JSON.stringify(remove)}`);
        await page.fill('[data-testid="prompt-input"]', 'what is this');
        await page.click('[data-testid="send-button"]');
        const view = await page.waitForSelector('[data-testid="session-view"][data-session-id]:not([data-session-id=""])');
        const sid = await view.getAttribute('data-session-id');
        // claude got the picture as an image block (the fake says which types it saw)
        await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: what is this [images: image/png]")');
        const shown = await page.$$eval('[data-testid="message-user"] [data-testid="message-image"]', (imgs) => imgs.map((i) => ({ src: i.getAttribute('src'), loaded: i.complete && i.naturalWidth === 1 })));
        assert.deepEqual(shown, [{ src: `data:image/png;base64,${PNG}`, loaded: true }], 'the image is in the user bubble, once');
        assert.equal(await page.locator('[data-testid="attached-image"]').count(), 0, 'the composer is empty again');
        if (size === 'laptop') {
          // a follow-up of the live session with an image, then the session's log shows both on a reload
          await page.setInputFiles('[data-testid="image-input"]', { name: 'dot.gif', mimeType: 'image/gif', buffer: Buffer.from(GIF, 'base64') });
          await page.waitForSelector('[data-testid="attached-image"]');
          await page.fill('[data-testid="prompt-input"]', 'and this');
          await page.click('[data-testid="send-button"]');
          await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: and this [images: image/gif] (turn 2)")');
          await page.reload();
          await page.waitForSelector(`[data-testid="session-view"][data-session-id="${sid}"] [data-testid="message-assistant"]:has-text("(turn 2)")`);
          const types = await page.$$eval('[data-testid="message-user"] [data-testid="message-image"]', (imgs) => imgs.map((i) => i.dataset.mediaType));
          assert.deepEqual(types, ['image/png', 'image/gif'], 'both images in their bubbles after a reload');
          await page.click('[data-testid="end-button"]');
        }
        await eventually(async () => (await page.getAttribute('[data-testid="run-status"]', 'data-status')) === 'success', 'the run ended');
        await noClaudeLeft(dir);
      } finally {
        await ctx.close();
      }
    });
  }

});

/** Downloads the app shell (`/sw.js` and every file of its SHELL_FILES) of the server at `url` into `dir`. */
async function fetchShell(url, token, dir) {
  const get = async (path) => {
    const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, `GET ${path}`);
    return Buffer.from(await res.arrayBuffer());
  };
  const sw = (await get('/sw.js')).toString();
  const files = JSON.parse(sw.match(/const SHELL_FILES = (\[[^\]]*\]);/)[1]);
  const version = sw.match(/const VERSION = '([0-9a-f]+)';/)[1];
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(dir, 'sw.js'), sw);
  for (const f of files) writeFileSync(join(dir, f), await get(f));
  return shellOf(dir, files, version);
}

/** What the index.html of `dir` loads (its entry script and style), and the build's files and version. */
function shellOf(dir, files, version) {
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  const entry = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]).sort();
  assert.equal(entry.length, 2, `one entry script and one style in index.html: ${entry}`);
  return { dir, files, version, entry };
}

/** A copy of build `v1` as a new build: its entry files renamed and changed, index.html and sw.js following. */
function newBuildOf(v1, dir) {
  mkdirSync(join(dir, 'assets'), { recursive: true });
  const renamed = new Map(v1.entry.map((f) => [f, f.replace(/\.(js|css)$/, 'v2.$1')]));
  const version = `${v1.version}v2`;
  const rename = (text) => [...renamed].reduce((t, [a, b]) => t.replaceAll(a, b), text);
  for (const f of v1.files) {
    let body = readFileSync(join(v1.dir, f));
    if (f.endsWith('.js') && renamed.has(f)) body = Buffer.concat([body, Buffer.from("\nwindow.__opcodeBuild = 'v2';\n")]);
    if (f.endsWith('.css') && renamed.has(f)) body = Buffer.concat([body, Buffer.from('\n/* v2 */\n')]);
    if (f === '/index.html') body = Buffer.from(rename(body.toString()));
    writeFileSync(join(dir, renamed.get(f) ?? f), body);
  }
  const sw = rename(readFileSync(join(v1.dir, 'sw.js'), 'utf8')).replace(`const VERSION = '${v1.version}';`, `const VERSION = '${version}';`);
  writeFileSync(join(dir, 'sw.js'), sw);
  return shellOf(dir, v1.files.map((f) => renamed.get(f) ?? f), version);
}

/** The same-origin scripts and styles the page loaded (its DOM and its resource timing), sorted. */
const loadedFiles = (page) =>
  page.evaluate(() => {
    const urls = new Set();
    for (const e of document.querySelectorAll('script[src], link[rel="stylesheet"][href]')) urls.add(e.src || e.href);
    for (const e of performance.getEntriesByType('resource')) if (/\.(js|css)$/.test(new URL(e.name).pathname)) urls.add(e.name);
    return [...urls].map((u) => new URL(u)).filter((u) => u.origin === location.origin).map((u) => u.pathname).sort();
  });

/** The DNS names of the certificate the server at 127.0.0.1:`port` presents. */
function leafNames(port) {
  return new Promise((ok, fail) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const san = socket.getPeerCertificate().subjectaltname ?? '';
      socket.end();
      ok(san.split(', ').filter((e) => e.startsWith('DNS:')).map((e) => e.slice(4)));
    });
    socket.on('error', fail);
  });
}

/** A plain HTTP GET to 127.0.0.1:`port` with `Host: host:port`; its status and Location. */
function plainGet(port, host, path) {
  return new Promise((ok, fail) => {
    const req = httpGet({ host: '127.0.0.1', port, path, headers: { host: `${host}:${port}` } }, (res) => {
      res.resume();
      ok({ status: res.statusCode, location: res.headers.location });
    });
    req.on('error', fail);
  });
}
