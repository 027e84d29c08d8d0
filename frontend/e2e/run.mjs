// End-to-end tests: the real opcode-web server (OPCODE_WEB_BIN, default ../target/debug/opcode-web) with
// the fake claude (FAKE_CLAUDE_BIN, default ../target/debug/fake-claude), driven through Debian's Chromium
// by playwright-core. Run with `npm run e2e` (node:test). Every wait is a polled condition, never a sleep.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const frontend = resolve(here, '..');
const SERVER_BIN = resolve(frontend, process.env.OPCODE_WEB_BIN ?? '../target/debug/opcode-web');
const FAKE_CLAUDE = resolve(frontend, process.env.FAKE_CLAUDE_BIN ?? '../target/debug/fake-claude');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOT_DIR = resolve(frontend, '../target/e2e');
const TIMEOUT = 20_000;

let server; // { proc, url, token, output }
let browser;
let context;
let home;

/** Starts the server and resolves with its base URL, parsed from "listening on http://…" on stdout. */
function startServer() {
  home = mkdtempSync(join(tmpdir(), 'opcode-e2e-'));
  const dataDir = join(home, 'data');
  mkdirSync(dataDir);
  const token = randomBytes(16).toString('hex');
  const args = ['--port', '0', '--token', token, '--claude-bin', FAKE_CLAUDE, '--data-dir', dataDir];
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

function stopServer() {
  if (server?.proc && server.proc.exitCode === null) server.proc.kill('SIGKILL');
  if (home) rmSync(home, { recursive: true, force: true });
}
process.on('exit', stopServer);

/** Polls `fn` until it returns a truthy value (or stops throwing). */
async function eventually(fn, what, timeout = TIMEOUT) {
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

function projectDir(name) {
  const dir = join(home, 'projects', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Types a prompt in the home view and starts a new session; returns its session id. */
async function startSession(page, dir, prompt) {
  await page.click('[data-testid="new-tab"]');
  await page.fill('[data-testid="project-path-input"]', dir);
  await page.fill('[data-testid="prompt-input"]', prompt);
  await page.click('[data-testid="send-button"]');
  const view = await page.waitForSelector('[data-testid="session-view"][data-session-id]:not([data-session-id=""])');
  return view.getAttribute('data-session-id');
}

const statusOf = (page) => page.textContent('[data-testid="run-status"]');
const connOf = (page) => page.textContent('[data-testid="conn-state"]');
const assistantTexts = (page) =>
  page.$$eval('[data-testid="session-view"] [data-testid="message-assistant"]', (els) => els.map((e) => e.textContent.trim()));

async function openTab(page, sessionId) {
  await page.click(`[data-testid="tab"][data-session-id="${sessionId}"] .tab-main`);
  await page.waitForSelector(`[data-testid="session-view"][data-session-id="${sessionId}"]`);
}

describe('opcode-web in Chromium', { concurrency: 1 }, () => {
  before(async () => {
    for (const [what, path] of [['server', SERVER_BIN], ['fake claude', FAKE_CLAUDE], ['chromium', CHROMIUM]]) {
      if (!existsSync(path)) throw new Error(`${what} not found at ${path}`);
    }
    await startServer();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    context = await browser.newContext();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    stopServer();
  });

  it('without the token shows the not-authorised page, with it sets the cookie and hides the token', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    const text = await (await page.waitForSelector('[data-testid="unauthorized"]')).textContent();
    assert.match(text, /Not authorised/);
    assert.match(text, /\?token=/);

    await page.goto(`${server.url}/?token=${server.token}`);
    await page.waitForSelector('[data-testid="project-path-input"]');
    assert.ok(!page.url().includes('token'), `address bar still has the token: ${page.url()}`);
    const cookies = await context.cookies(server.url);
    assert.ok(cookies.some((c) => c.name === 'opcode_token'), 'opcode_token cookie set');
    await page.close();
  });

  it('starts a session and shows the streamed reply once, then the result', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    const sid = await startSession(page, projectDir('hello'), 'hello e2e world @delay=150');
    assert.match(sid, /^[0-9a-f-]{36}$/);
    // token deltas show up live in a streaming bubble before the whole message arrives
    await page.waitForSelector('[data-testid="message-streaming"]:has-text("Echo:")', { timeout: TIMEOUT });
    await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: hello e2e world")', { timeout: TIMEOUT });
    await eventually(async () => (await statusOf(page)) === 'success', 'run-status success');
    await page.waitForSelector('[data-testid="result-summary"]');
    await eventually(async () => (await connOf(page)) === 'closed', 'conn-state closed after the run');
    const echoes = (await assistantTexts(page)).filter((t) => t.includes('Echo: hello e2e world'));
    assert.equal(echoes.length, 1, 'streamed text replaced by the whole message, not duplicated');
    assert.equal(await page.$('[data-testid="message-streaming"]'), null);
    await page.close();
  });

  it('shows stderr lines and a failed exit as errors', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await startSession(page, projectDir('errors'), 'oops @stderr=2 @exit=3');
    await page.waitForSelector('[data-testid="message-error"]:has-text("fake stderr 1")');
    await eventually(async () => (await statusOf(page)) === 'error', 'run-status error');
    await page.close();
  });

  it('shows a refused request (request error frame) in the tab', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await page.click('[data-testid="new-tab"]');
    await page.fill('[data-testid="project-path-input"]', join(home, 'does', 'not', 'exist'));
    await page.fill('[data-testid="prompt-input"]', 'hello');
    await page.click('[data-testid="send-button"]');
    await page.waitForSelector('[data-testid="session-view"] [data-testid="message-error"]');
    await eventually(async () => (await statusOf(page)) === 'error', 'run-status error');
    await eventually(async () => (await connOf(page)) === 'closed', 'conn closed');
    await page.close();
  });

  it('renders tool calls and collapsible results', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await startSession(page, projectDir('tools'), 'use a tool @tool');
    await page.waitForSelector('[data-testid="tool-use"]:has-text("Bash")');
    const result = await page.waitForSelector('details[data-testid="tool-result"]');
    assert.equal(await result.evaluate((d) => d.open), false);
    await eventually(async () => (await statusOf(page)) === 'success', 'run-status success');
    await page.close();
  });

  it('cancels a slow run', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await startSession(page, projectDir('slow'), 'slow @lines=50 @delay=100');
    await page.waitForSelector('[data-testid="message-assistant"]:has-text("line 1")');
    assert.equal(await statusOf(page), 'running');
    await page.click('[data-testid="cancel-button"]');
    await eventually(async () => (await statusOf(page)) === 'cancelled', 'run-status cancelled');
    await page.waitForSelector('[data-testid="message-cancelled"]');
    const lines = (await assistantTexts(page)).filter((t) => /^line \d+$/.test(t));
    assert.ok(lines.length < 50, `run stopped early (${lines.length} lines)`);
    await page.close();
  });

  it('keeps two sessions in two tabs apart', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    const a = await startSession(page, projectDir('alpha'), 'alpha @lines=6 @delay=60');
    const b = await startSession(page, projectDir('bravo'), 'bravo @lines=6 @delay=60');
    assert.notEqual(a, b);
    for (const sid of [a, b]) assert.equal(await page.locator(`[data-testid="tab"][data-session-id="${sid}"]`).count(), 1);
    for (const [sid, mine, theirs] of [[a, 'alpha', 'bravo'], [b, 'bravo', 'alpha']]) {
      await openTab(page, sid);
      await eventually(async () => (await statusOf(page)) === 'success', `${mine} finished`);
      const texts = await page.textContent('[data-testid="transcript"]');
      assert.ok(texts.includes(mine), `${mine} tab shows its prompt`);
      assert.ok(!texts.includes(theirs), `${mine} tab shows nothing of ${theirs}`);
      const lines = (await assistantTexts(page)).filter((t) => /^line \d+$/.test(t));
      assert.deepEqual(lines, [0, 1, 2, 3, 4, 5].map((i) => `line ${i}`));
    }
    await page.setViewportSize({ width: 1280, height: 800 });
    mkdirSync(SHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SHOT_DIR, 'desktop.png') });
    await page.close();
  });

  it('reconnects after the socket drops mid-run and ends with a complete, duplicate-free transcript', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await startSession(page, projectDir('reconnect'), 'recon @lines=30 @delay=80');
    await page.waitForSelector('[data-testid="message-assistant"]:has-text("line 2")');
    // record every text the indicator shows, so a short 'reconnecting' is not missed
    await page.evaluate(() => {
      window.__seenConn = [];
      const el = document.querySelector('[data-testid="conn-state"]');
      new MutationObserver(() => window.__seenConn.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
    });
    assert.ok((await page.evaluate(() => window.__opcodeDebug.dropSockets())) >= 1, 'a socket was dropped');
    await page.waitForSelector('[data-testid="message-assistant"]:has-text("line 12")');
    await eventually(async () => (await connOf(page)) === 'connected', 'reconnected');
    assert.ok((await page.evaluate(() => window.__opcodeDebug.dropSockets())) >= 1, 'dropped again');
    const seen = await page.evaluate(() => window.__seenConn);
    assert.ok(seen.includes('reconnecting'), `indicator showed reconnecting (${seen.join(', ')})`);
    await eventually(async () => (await statusOf(page)) === 'success', 'run-status success after reconnects');
    await eventually(async () => (await connOf(page)) === 'closed', 'closed after the run, not reconnecting');
    const lines = (await assistantTexts(page)).filter((t) => /^line \d+$/.test(t));
    assert.deepEqual(lines, Array.from({ length: 30 }, (_, i) => `line ${i}`));
    assert.equal(await page.locator('[data-testid="result-summary"]').count(), 1);
    assert.equal(await page.locator('[data-testid="run-start"]').count(), 1);
    await page.close();
  });

  it('lists the project and opens a past session with its history', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    const dir = projectDir('history');
    const sid = await startSession(page, dir, 'remember me');
    await eventually(async () => (await statusOf(page)) === 'success', 'first run done');
    await page.click(`[data-testid="tab"][data-session-id="${sid}"] [data-testid="tab-close"]`);
    await page.click('[data-testid="new-tab"]');
    await page.click('button[aria-label="Refresh projects"]');
    await page.click(`[data-testid="project-item"][title="${dir}"]`);
    await page.click(`[data-testid="session-item"][data-session-id="${sid}"]`);
    await page.waitForSelector('[data-testid="message-user"]:has-text("remember me")');
    await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: remember me")');
    // a follow-up resumes the same session in the same tab
    await page.fill('[data-testid="prompt-input"]', 'and again');
    await page.click('[data-testid="send-button"]');
    await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: and again")');
    await eventually(async () => (await statusOf(page)) === 'success', 'resumed run done');
    assert.equal(await page.getAttribute('[data-testid="session-view"]', 'data-session-id'), sid);
    await page.close();
  });

  it('fits a phone (390×844): no horizontal scroll, 44px tap targets; saves a screenshot', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    await phone.addCookies(await context.cookies(server.url));
    const page = await phone.newPage();
    await page.goto(`${server.url}/`);
    await page.waitForSelector('[data-testid="project-path-input"]');
    const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    assert.ok(await fits(), 'home view fits');
    mkdirSync(SHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SHOT_DIR, 'phone-home.png') });
    await startSession(
      page,
      projectDir('phone-with-a-rather-long-directory-name-to-check-wrapping'),
      'show me **markdown** and a tool @tool @stderr=1 @lines=3',
    );
    await eventually(async () => (await statusOf(page)) !== 'running', 'phone run finished');
    assert.ok(await fits(), 'session view fits');
    for (const id of ['send-button', 'cancel-button', 'prompt-input', 'new-tab']) {
      const box = await page.locator(`[data-testid="${id}"]`).first().boundingBox();
      assert.ok(box && box.height >= 44, `${id} is at least 44px tall (${box?.height})`);
    }
    const composer = await page.locator('[data-testid="prompt-input"]').boundingBox();
    assert.ok(composer.y + composer.height <= 844 && composer.y > 844 - 200, `prompt box at the bottom (${composer.y})`);
    mkdirSync(SHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SHOT_DIR, 'phone.png') });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: join(SHOT_DIR, 'phone-dark.png') });
    await phone.close();
  });
});
