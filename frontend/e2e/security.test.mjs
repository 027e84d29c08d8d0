// Browser security in Chromium against the real server: a page on another port of 127.0.0.1 (same-site, so
// SameSite=Strict lets the cookie through) tries to drive the server with the user's cookie (fetch with
// credentials, a form POST, an image GET) and to frame the UI: all refused, and nothing runs. Then devices
// at phone and laptop size: pair a second browser through a one-time link, see it listed, revoke it, and its
// open socket closes and its page says it is no longer authorised.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { contextFor, eventually, fits, noClaudeLeft, projectDir, SIZES, startSession, startShared, statusOf, stopShared } from './harness.mjs';

let server;
let browser;
let context;

/** A tiny server on another port of 127.0.0.1 that serves `html` at `/`; resolves with its origin. */
function attackerPage(html) {
  const http = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(html);
  });
  return new Promise((ok) => http.listen(0, '127.0.0.1', () => ok({ http, origin: `http://127.0.0.1:${http.address().port}` })));
}

/** The session's status as the server's runs list has it (with the token: a script). */
async function runStatus(sid) {
  const res = await fetch(`${server.url}/api/sessions/running`, { headers: { authorization: `Bearer ${server.token}` } });
  const body = await res.json();
  return body.data.find((r) => r.session_id === sid)?.status;
}

/** Ends a live session with the token (a script), so no claude is left behind. */
async function endWithToken(sid) {
  await fetch(`${server.url}/api/sessions/${sid}/end`, { method: 'POST', headers: { authorization: `Bearer ${server.token}` } });
}

describe('browser security in Chromium', { concurrency: 1 }, () => {
  before(async () => {
    ({ server, browser, context } = await startShared());
    const page = await context.newPage();
    await page.goto(`${server.url}/?token=${server.token}`);
    await page.waitForSelector('[data-testid="new-tab"]');
    await page.close();
  });

  after(stopShared);

  it('a page on another port of the same host cannot act with the cookie or frame the UI; nothing runs', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    const dir = projectDir('csrf');
    const sid = await startSession(page, dir, 'please @tool', { live: true });
    const card = await page.waitForSelector('[data-testid="approval-card"]');
    const rid = await card.getAttribute('data-request-id');
    const base = server.url;
    const html = `<!doctype html><html><body>
      <form id="f" method="POST" action="${base}/api/sessions/${sid}/end" enctype="text/plain"><input name='{"behavior":"allow","x":"' value='"}'></form>
      <iframe id="ui" src="${base}/" width="400" height="300"></iframe>
      <img id="img" src="${base}/api/sessions/${sid}/cancel">
      <script>
        window.results = {};
        const allow = JSON.stringify({ behavior: 'allow' });
        const tries = [
          ['allow-cors', () => fetch('${base}/api/sessions/${sid}/permissions/${rid}', { method: 'POST', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: allow })],
          ['allow-no-cors', () => fetch('${base}/api/sessions/${sid}/permissions/${rid}', { method: 'POST', mode: 'no-cors', credentials: 'include', body: allow })],
          ['cancel', () => fetch('${base}/api/sessions/${sid}/cancel', { method: 'POST', mode: 'no-cors', credentials: 'include' })],
          ['cancel-get', () => fetch('${base}/api/sessions/${sid}/cancel', { mode: 'no-cors', credentials: 'include' })],
          ['read', () => fetch('${base}/api/projects', { credentials: 'include' }).then((r) => r.text())],
        ];
        Promise.all(tries.map(([name, f]) => f().then((r) => { window.results[name] = typeof r === 'string' ? r : 'opaque'; }, (e) => { window.results[name] = 'refused: ' + e.message; })))
          .then(() => { window.done = true; });
      </script></body></html>`;
    const attacker = await attackerPage(html);
    try {
      const evil = await context.newPage();
      const uiBlocked = new Promise((ok) => evil.on('console', (m) => /frame-ancestors|Refused to (frame|display)/i.test(m.text()) && ok(m.text())));
      await evil.goto(attacker.origin);
      await eventually(() => evil.evaluate(() => window.done === true), 'the attacker page tried everything');
      const results = await evil.evaluate(() => window.results);
      assert.match(results['allow-cors'], /^refused/, 'a CORS fetch from another origin gets no answer it may read');
      assert.match(results.read, /^refused/, 'and cannot read');
      // the framed UI was refused by the browser (frame-ancestors 'none'), so nothing of it rendered
      await uiBlocked;
      const frame = evil.frames().find((f) => f !== evil.mainFrame());
      assert.equal(await frame.$('[data-testid="new-tab"]').catch(() => null), null, 'the UI did not render in the frame');
      // the form POST lands on the server's refusal
      await evil.evaluate(() => document.getElementById('f').submit());
      await evil.waitForURL(`${base}/api/sessions/${sid}/end`);
      assert.match(await evil.textContent('body'), /cross-origin request refused/);
      await evil.close();
      // nothing ran: the approval still waits, the tool did not run, the session was neither ended nor cancelled
      assert.equal(existsSync(join(dir, 'tool-ran.txt')), false, 'the tool did not run');
      assert.equal(await runStatus(sid), 'running');
      assert.equal(await page.locator('[data-testid="approval-card"]').count(), 1, 'the approval is still pending');
      // the UI itself (same origin, under its CSP) still acts
      await page.click('[data-testid="approve-button"]');
      await eventually(() => existsSync(join(dir, 'tool-ran.txt')), 'the tool ran once the UI allowed it');
      await page.click('[data-testid="end-button"]');
      await eventually(async () => (await statusOf(page)) === 'success', 'ended from the UI');
      await noClaudeLeft(dir);
    } finally {
      attacker.http.close();
      await page.close();
    }
  });

  for (const [size, options] of SIZES) {
    it(`devices at ${size} size: pair a second browser with a one-time link, see it, revoke it, its socket closes`, async () => {
      const owner = await contextFor(server, options);
      const page = await owner.newPage();
      await page.goto(`${server.url}/`);
      await page.click('[data-testid="devices-open"]');
      await page.waitForSelector('[data-testid="devices-page"] [data-testid="device-row"][data-current="true"]');
      assert.ok(await fits(page), 'no horizontal scroll on the devices page');
      await page.click('[data-testid="pair-device"]');
      const url = await (await page.waitForSelector('[data-testid="pairing-link"]')).getAttribute('data-url');
      assert.match(url, /\/pair\?code=[0-9a-f]{64}$/);
      await eventually(() => page.evaluate(() => document.querySelector('[data-testid="pairing-qr"]')?.naturalWidth > 0), 'the QR code shows (data: image under the CSP)');
      const box = await page.locator('[data-testid="pair-device"]').boundingBox();
      assert.ok(box.height >= 44, `tap target ${box.height}px`);

      // the second browser opens the link and pairs
      const other = await browser.newContext(options);
      const second = await other.newPage();
      await second.goto(url);
      await second.click('[data-testid="pair-confirm"]');
      await second.waitForSelector('[data-testid="new-tab"]');
      const cookies = await other.cookies(server.url);
      assert.ok(cookies.some((c) => c.name === 'opcode_device'), 'the second browser has a credential of its own');
      // the link is spent: opening it again says so
      const third = await browser.newContext(options);
      const spent = await third.newPage();
      const again = await spent.goto(url);
      assert.equal(again.status(), 410);
      assert.match(await spent.textContent('[data-testid="pair-refused"]'), /already used/);
      await third.close();

      // the second browser keeps a socket open: a live session waiting for an approval
      const dir = projectDir(`devices-${size}`);
      const sid = await startSession(second, dir, 'please @tool', { live: true });
      await second.waitForSelector('[data-testid="approval-card"]');

      // the owner sees it listed, and revokes it
      await page.click('[data-testid="activity-open"]');
      await page.click('[data-testid="devices-open-from-audit"]');
      const secondId = await second.evaluate(() => fetch('/api/devices').then((r) => r.json()).then((b) => b.data.current));
      const row = page.locator(`[data-testid="device-row"][data-device-id="${secondId}"]`);
      await row.waitFor();
      assert.match(await row.textContent(), /127\.0\.0\.1/);
      await row.locator('[data-testid="device-revoke"]').click();
      await row.locator('[data-testid="device-revoke-confirm"]').click();
      await second.waitForSelector('[data-testid="unauthorized"]');
      assert.match(await second.textContent('[data-testid="unauthorized"]'), /no longer/);
      // its cookie no longer works: a reload shows the same page
      await second.reload();
      await second.waitForSelector('[data-testid="unauthorized"]');
      // the activity page lists the pairing and the revocation
      await page.click('[data-testid="activity-open"]');
      await page.waitForSelector('[data-testid="audit-row"][data-action="device_revoked"]');
      await page.waitForSelector('[data-testid="audit-row"][data-action="run_started"]');
      assert.ok(await fits(page), 'no horizontal scroll on the activity page');
      // the run itself was not the device's to keep: end it with the token
      assert.equal(existsSync(join(dir, 'tool-ran.txt')), false);
      await endWithToken(sid);
      await noClaudeLeft(dir);
      await other.close();
      await owner.close();
    });
  }
});
