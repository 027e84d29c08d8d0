// The end-to-end harness: the real opcode-web server (OPCODE_WEB_BIN, default ../target/debug/opcode-web)
// with the fake claude (FAKE_CLAUDE_BIN, default ../target/debug/fake-claude), driven through Debian's
// Chromium by playwright-core. Each `*.test.mjs` file of this folder imports it, calls `startShared()` in
// its `before` and `stopAll()` in its `after`; `npm run e2e` runs the files one after another (node:test).
// Every wait is a polled condition, never a sleep.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const frontend = resolve(here, '..');
export const SERVER_BIN = resolve(frontend, process.env.OPCODE_WEB_BIN ?? '../target/debug/opcode-web');
export const FAKE_CLAUDE = resolve(frontend, process.env.FAKE_CLAUDE_BIN ?? '../target/debug/fake-claude');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SHOT_DIR = resolve(frontend, '../target/e2e');
export const TIMEOUT = 20_000;

// E2E_UI=dist: the browser gets this checkout's `dist/` (served by a small proxy in front of the server,
// which forwards /api, /ws and /?token=) instead of the UI embedded in the server binary at its build.
export const SERVE_DIST = process.env.E2E_UI === 'dist';

let server; // { proc, url, token, output }
let proxy; // { http, port } when SERVE_DIST
let browser;
let context;
let home;

/** Starts the server and resolves with its base URL, parsed from "listening on http://…" on stdout. */
export function startServer() {
  home = mkdtempSync(join(tmpdir(), 'opcode-e2e-'));
  const dataDir = join(home, 'data');
  mkdirSync(dataDir);
  const token = randomBytes(16).toString('hex');
  const args = ['--port', '0', '--token', token, '--claude-bin', FAKE_CLAUDE, '--data-dir', dataDir];
  if (proxy) args.push('--allowed-origin', `http://127.0.0.1:${proxy.port}`);
  const [cmd, argv] = SERVER_BIN.endsWith('.mjs') ? [process.execPath, [SERVER_BIN, ...args]] : [SERVER_BIN, args];
  const proc = spawn(cmd, argv, { env: { ...process.env, HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not print its address in 30 s:\n${output}`)), 30_000);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited early (code ${code}, signal ${signal}):\n${output}`));
    });
    proc.stderr.on('data', (d) => {
      output += d;
    });
    proc.stdout.on('data', (d) => {
      output += d;
      const m = output.match(/listening on (http:\/\/[^\s]+)/);
      if (m) {
        clearTimeout(timer);
        server = { proc, url: m[1].replace(/\/$/, ''), token, get output() { return output; } };
        resolveUrl(server);
      }
    });
  });
}

/** Serves dist/ (or `dir`; the proxy's `front.dir` may be changed later to serve another build) and forwards
 *  everything of the server's (REST, WebSockets, the token URL) to it (to `backend()`, the server's URL, by
 *  default the shared server's). */
export function startDistProxy(backend = () => server.backend, dir = resolve(frontend, 'dist')) {
  if (!existsSync(join(dir, 'index.html'))) throw new Error(`${dir}: no index.html (E2E_UI=dist: run \`npm run build\` first)`);
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.webmanifest': 'application/manifest+json', '.png': 'image/png' };
  const target = () => new URL(backend());
  const http = createServer((req, res) => {
    if (http.front?.down) return req.socket.destroy(); // as if the network were gone
    const url = new URL(req.url, 'http://x');
    const dist = http.front.dir;
    const file = join(dist, url.pathname === '/' ? 'index.html' : url.pathname);
    const toServer = url.pathname.startsWith('/api/') || url.pathname.startsWith('/ws/') || url.searchParams.has('token');
    if (!toServer && file.startsWith(dist) && existsSync(file) && statSync(file).isFile()) {
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
      return res.end(readFileSync(file));
    }
    const t = target();
    const up = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  http.on('upgrade', (req, socket, head) => {
    if (http.front?.down) return socket.destroy();
    const t = target();
    const up = connect(Number(t.port), t.hostname, () => {
      let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      up.write(`${raw}\r\n`);
      if (head?.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    const end = () => { up.destroy(); socket.destroy(); };
    up.on('error', end);
    socket.on('error', end);
    up.on('close', end);
    socket.on('close', end);
  });
  return new Promise((ok) =>
    http.listen(0, '127.0.0.1', () => {
      http.front = { http, port: http.address().port, down: false, dir };
      ok(http.front);
    }),
  );
}

export function stopServer() {
  proxy?.http.close();
  if (server?.proc && server.proc.exitCode === null) server.proc.kill('SIGKILL');
  if (home) rmSync(home, { recursive: true, force: true });
  for (const s of ownServers) if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
  for (const dir of ownDirs) rmSync(dir, { recursive: true, force: true });
  for (const p of ownProxies) p.http.close();
}
process.on('exit', stopServer);

/** Stops every server, proxy and folder this file's tests made (also done at exit). */
export const stopAll = stopServer;

// ---- servers of their own (tests that restart the server, or need a data dir to themselves) ----

export const ownServers = new Set();
export const ownDirs = new Set();
export const ownProxies = new Set();

/** A temp folder (HOME, data dir, projects) for one test; removed at exit. */
export function ownHome() {
  const dir = mkdtempSync(join(tmpdir(), 'opcode-e2e-own-'));
  ownDirs.add(dir);
  mkdirSync(join(dir, 'data'));
  return dir;
}

/** Starts the server binary on `home`'s data dir (port 0: any) and resolves once it listens. With
 *  E2E_UI=dist the browser talks to it through a proxy serving dist/ (pass the proxy of the server it
 *  replaces to keep the browser's address). */
export async function launchServer({ home: dir, token, port = 0, via = null, args = [], env = {} }) {
  let front = via;
  if (SERVE_DIST && !front) {
    front = await startDistProxy(() => front.backend);
    ownProxies.add(front);
  }
  const s = await spawnOwnServer({ home: dir, token, port, front, args, env });
  if (front) {
    front.backend = s.url;
    s.backend = s.url;
    s.url = `http://127.0.0.1:${front.port}`;
    s.front = front;
  }
  return s;
}

/** Spawns the server binary (`args`: more flags, e.g. `--tls-local-ca`; `env`: more environment, e.g.
 *  `CLAUDE_CONFIG_DIR`); resolves once it listens (`url`: its http:// or https:// address). */
export function spawnOwnServer({ home: dir, token, port, front, args: more = [], env = {} }) {
  const args = ['--port', String(port), '--token', token, '--claude-bin', FAKE_CLAUDE, '--data-dir', join(dir, 'data'), ...more];
  if (front) args.push('--allowed-origin', `http://127.0.0.1:${front.port}`);
  const [cmd, argv] = SERVER_BIN.endsWith('.mjs') ? [process.execPath, [SERVER_BIN, ...args]] : [SERVER_BIN, args];
  const proc = spawn(cmd, argv, { env: { ...process.env, HOME: dir, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((ok) => proc.on('exit', (code, signal) => ok({ code, signal })));
  const s = { proc, exited, token, home: dir, output: '', url: null, port: null };
  ownServers.add(s);
  return new Promise((resolveServer, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not print its address in 30 s:\n${s.output}`)), 30_000);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (!s.url) reject(new Error(`server exited early (code ${code}, signal ${signal}):\n${s.output}`));
    });
    proc.stderr.on('data', (d) => {
      s.output += d;
    });
    proc.stdout.on('data', (d) => {
      s.output += d;
      const m = !s.url && s.output.match(/listening on (https?:\/\/[^\s]+)/);
      if (m) {
        clearTimeout(timer);
        s.url = m[1].replace(/\/$/, '');
        s.port = Number(new URL(s.url).port); // the server's own port (not the proxy's)
        resolveServer(s);
      }
    });
  });
}

/** Stops a server of its own with `signal` and waits until it is gone. */
export async function killServer(s, signal) {
  if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill(signal);
  const how = await s.exited;
  ownServers.delete(s);
  return how;
}

/** Pids of fake claudes still running in `dir` (their working directory is a project under it). */
export function fakeClaudesIn(dir) {
  const pids = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('fake-claude') && !cmd.includes('fake-claude-live')) continue;
      if (readlinkSync(`/proc/${pid}/cwd`).startsWith(dir)) pids.push(Number(pid));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

/** The fake claudes of `dir` end (a foreign process's death has no event: polled); any left is killed and
 *  the test fails. */
export async function noClaudeLeft(dir) {
  try {
    await eventually(() => fakeClaudesIn(dir).length === 0, `no fake claude left in ${dir}`);
  } catch (e) {
    for (const pid of fakeClaudesIn(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    throw e;
  }
}

/** A browser context holding `s`'s cookie (the token URL sets it). */
export async function contextFor(s, options = {}) {
  const ctx = await browser.newContext(options);
  const page = await ctx.newPage();
  await page.goto(`${s.url}/?token=${s.token}`);
  await page.waitForSelector('[data-testid="new-tab"]');
  await page.close();
  return ctx;
}

/** Polls `fn` until it returns a truthy value (or stops throwing). */
export async function eventually(fn, what, timeout = TIMEOUT) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = new Error(`not yet: ${what}`);
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${last?.message ?? last}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits for `selector` like `page.waitForSelector`; when it does not come, the error also carries what the
 * session view shows (its transcript, errors and notes) and the session's event log from the server, so a
 * failure in CI says what happened instead of only what did not.
 */
export async function waitOrExplain(page, selector, serverUrl) {
  try {
    return await page.waitForSelector(selector);
  } catch (e) {
    const view = await page.textContent('[data-testid="session-view"]').catch(() => '(no session view)');
    const sid = await page.getAttribute('[data-testid="session-view"]', 'data-session-id').catch(() => null);
    let log = '(no session id)';
    if (sid && serverUrl) {
      log = await page
        .evaluate(async (u) => (await fetch(u)).text(), `${serverUrl}/api/sessions/${sid}/output`)
        .catch((err) => `(events unreadable: ${err})`);
    }
    const tail = (t) => (t && t.length > 4000 ? `…${t.slice(-4000)}` : t);
    throw new Error(`${e.message}\n--- the session view shows:\n${tail(view)}\n--- the server's events:\n${tail(log)}`);
  }
}

export function projectDir(name, under = home) {
  const dir = join(under, 'projects', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Types a prompt in the home view and starts a new session (one-shot unless `live`); returns its id. */
export async function startSession(page, dir, prompt, { live = false, mode } = {}) {
  await page.click('[data-testid="new-tab"]');
  await page.fill('[data-testid="project-path-input"]', dir);
  await page.setChecked('[data-testid="live-toggle"]', live);
  if (live && mode) await page.selectOption('[data-testid="permission-mode-select"]', mode);
  await page.fill('[data-testid="prompt-input"]', prompt);
  await page.click('[data-testid="send-button"]');
  const view = await page.waitForSelector('[data-testid="session-view"][data-session-id]:not([data-session-id=""])');
  return view.getAttribute('data-session-id');
}

export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
export const LAPTOP = { viewport: { width: 1280, height: 800 } };
export const SIZES = [['phone', PHONE], ['laptop', LAPTOP]];
export const fits = (page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
export const userBubbles = (page) => page.$$eval('[data-testid="session-view"] [data-testid="message-user"]', (els) => els.map((e) => e.textContent.trim()));

export const statusOf = (page) => page.getAttribute('[data-testid="run-status"]', 'data-status');
export const connOf = (page) => page.textContent('[data-testid="conn-state"]');
export const assistantTexts = (page) =>
  page.$$eval('[data-testid="session-view"] [data-testid="message-assistant"]', (els) => els.map((e) => e.textContent.trim()));

export async function openTab(page, sessionId) {
  await page.click(`[data-testid="tab"][data-session-id="${sessionId}"] .tab-main`);
  await page.waitForSelector(`[data-testid="session-view"][data-session-id="${sessionId}"]`);
}


/** Checks the binaries, starts the shared server (behind the dist proxy with E2E_UI=dist) and Chromium,
 *  and resolves with `{ server, browser, context, home, proxy }` for the calling test file. */
export async function startShared() {
  for (const [what, path] of [['server', SERVER_BIN], ['fake claude', FAKE_CLAUDE], ['chromium', CHROMIUM]]) {
    if (!existsSync(path)) throw new Error(`${what} not found at ${path}`);
  }
  if (SERVE_DIST) proxy = await startDistProxy();
  await startServer();
  if (proxy) {
    server.backend = server.url;
    server.url = `http://127.0.0.1:${proxy.port}`;
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext();
  return { server, browser, context, home, proxy };
}

/** Closes Chromium and stops everything `startShared()` and the tests started. */
export async function stopShared() {
  await browser?.close().catch(() => {});
  stopServer();
}

