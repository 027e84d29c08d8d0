// End-to-end tests of the chat, live sessions, approvals, reconnects, restarts and the phone app, in
// Chromium against the real server (see harness.mjs).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import {
  SERVER_BIN, FAKE_CLAUDE, CHROMIUM, SHOT_DIR, TIMEOUT, SERVE_DIST, startServer, startDistProxy, stopServer, ownServers, ownDirs, ownProxies, ownHome, launchServer, spawnOwnServer, killServer, fakeClaudesIn, noClaudeLeft, contextFor, eventually, projectDir, startSession, PHONE, LAPTOP, SIZES, fits, userBubbles, statusOf, connOf, assistantTexts, openTab, startShared, stopShared, waitOrExplain,
} from './harness.mjs';

let server; // { proc, url, token, output }
let browser;
let context;
let home;
let proxy; // { http, port } when E2E_UI=dist

describe('opcode-web in Chromium', { concurrency: 1 }, () => {
  before(async () => {
    ({ server, browser, context, home, proxy } = await startShared());
  });

  after(stopShared);

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
    assert.ok(cookies.some((c) => c.name === 'opcode_device'), 'opcode_device cookie set (the device credential)');
    assert.ok(!cookies.some((c) => c.value.includes(server.token)), 'the cookie does not carry the token');
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

  it('a project directory that does not exist is refused with a sentence on the home view, and no tab opens', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await page.click('[data-testid="new-tab"]');
    const tabs = await page.locator('[data-testid="tab"]').count(); // tabs of earlier tests come back
    const missing = join(home, 'does', 'not', 'exist');
    await page.fill('[data-testid="project-path-input"]', missing);
    await page.setChecked('[data-testid="live-toggle"]', false);
    await page.fill('[data-testid="prompt-input"]', 'hello');
    await page.click('[data-testid="send-button"]');
    const err = await page.waitForSelector('[data-testid="start-error"]');
    assert.match(await err.textContent(), /Cannot start in .*does\/not\/exist: .*not an existing directory/);
    assert.equal(await page.locator('[data-testid="tab"]').count(), tabs, 'no dead tab');
    assert.equal(await page.inputValue('[data-testid="prompt-input"]'), 'hello', 'the prompt is kept to try again');
    // a directory that exists starts at once
    await page.fill('[data-testid="project-path-input"]', projectDir('refused-then-ok'));
    await page.click('[data-testid="send-button"]');
    await page.waitForSelector('[data-testid="session-view"][data-session-id]:not([data-session-id=""])');
    assert.equal(await page.locator('[data-testid="start-error"]').count(), 0);
    await eventually(async () => (await statusOf(page)) === 'success', 'run-status success');
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
    // Cancel asks first; "Keep" leaves the run alone
    await page.click('[data-testid="cancel-button"]');
    await page.click('[data-testid="keep-running"]');
    assert.equal(await statusOf(page), 'running');
    await page.click('[data-testid="cancel-button"]');
    await page.click('[data-testid="confirm-cancel"]');
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

  it('live session: the approval card shows the Bash command; Allow runs the tool', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    const dir = projectDir('live-allow');
    const sid = await startSession(page, dir, 'please @tool', { live: true });
    const card = await page.waitForSelector('[data-testid="approval-card"]');
    assert.match(await card.textContent(), /Bash/);
    assert.match(await page.textContent('[data-testid="approval-card"] [data-testid="approval-command"]'), /echo hi > tool-ran\.txt/);
    assert.ok(await card.getAttribute('data-request-id'), 'card names its request');
    assert.equal(await page.textContent(`[data-testid="tab"][data-session-id="${sid}"] [data-testid="approval-badge"]`), '1');
    assert.equal(existsSync(join(dir, 'tool-ran.txt')), false, 'nothing ran before the answer');
    await page.click('[data-testid="approve-button"]');
    await page.waitForSelector('[data-testid="approval-resolved"]:has-text("Allowed")');
    const result = await page.waitForSelector('[data-testid="tool-result"]:not(.is-error)');
    assert.match(await result.evaluate((d) => d.querySelector('pre').textContent), /ran/);
    await page.waitForSelector('[data-testid="result-summary"]');
    await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: please (turn 1)")');
    await eventually(() => existsSync(join(dir, 'tool-ran.txt')), 'tool-ran.txt in the project dir');
    assert.equal(await page.locator('[data-testid="approval-card"]').count(), 0, 'no card left');
    assert.equal(await page.locator(`[data-testid="tab"][data-session-id="${sid}"] [data-testid="approval-badge"]`).count(), 0);
    const bubbles = await page.$$eval('[data-testid="message-user"]', (els) => els.map((e) => e.textContent.trim()));
    assert.deepEqual(bubbles, ['please @tool'], 'one user bubble: the optimistic one confirmed by user_prompt');
    // the live session stays up between turns: the prompt box writes to it; End finishes it
    assert.equal(await page.getAttribute('[data-testid="session-view"]', 'data-composer-mode'), 'follow-up');
    assert.equal(await statusOf(page), 'running');
    await page.click('[data-testid="end-button"]');
    await eventually(async () => (await statusOf(page)) === 'success', 'ended live session: success');
    await eventually(async () => (await connOf(page)) === 'closed', 'conn closed after end');
    // a finished live session resumes as a live session again
    assert.equal(await page.getAttribute('[data-testid="session-view"]', 'data-composer-mode'), 'resume');
    await page.fill('[data-testid="prompt-input"]', 'after the end');
    await page.click('[data-testid="send-button"]');
    await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: after the end")');
    assert.equal(await page.locator('[data-testid="run-start"]').count(), 2, 'a second run');
    assert.equal(await page.getAttribute('[data-testid="session-view"]', 'data-session-id'), sid);
    await eventually(async () => (await page.getAttribute('[data-testid="session-view"]', 'data-composer-mode')) === 'follow-up', 'resumed live');
    await page.click('[data-testid="end-button"]');
    await eventually(async () => (await statusOf(page)) === 'success', 'ended again');
    await page.close();
  });

  it('live session: Deny (after a reconnect) gives Claude an error tool_result and runs nothing', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    const dir = projectDir('live-deny');
    await startSession(page, dir, 'please @tool', { live: true });
    await page.waitForSelector('[data-testid="approval-card"]');
    // the pending request comes back from the event log after the socket drops (since=)
    assert.ok((await page.evaluate(() => window.__opcodeDebug.dropSockets())) >= 1, 'a socket was dropped');
    await eventually(async () => (await connOf(page)) === 'connected', 'reconnected');
    assert.equal(await page.locator('[data-testid="approval-card"]').count(), 1, 'still exactly one card');
    await page.fill('[data-testid="deny-message"]', 'not on my watch');
    await page.click('[data-testid="deny-button"]');
    await page.waitForSelector('[data-testid="approval-resolved"]:has-text("Denied (by viewer)")');
    const res = await page.waitForSelector('[data-testid="tool-result"].is-error');
    assert.match(await res.evaluate((d) => d.querySelector('pre').textContent), /not on my watch/);
    await page.waitForSelector('[data-testid="result-summary"]');
    assert.equal(existsSync(join(dir, 'tool-ran.txt')), false, 'denied tool did not run');
    assert.equal(await page.locator('[data-testid="approval-card"]').count(), 0);
    await page.click('[data-testid="end-button"]');
    await eventually(async () => (await statusOf(page)) === 'success', 'ended');
    await page.close();
  });

  it('live session: "Always allow" keeps the rule, the next @tool runs unasked; removing it on the Rules page asks again', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    const dir = projectDir('live-remember');
    await startSession(page, dir, 'please @tool', { live: true });
    await page.waitForSelector('[data-testid="approval-card"]');
    assert.match(await page.textContent('[data-testid="always-allow-rules"]'), /Bash\(echo hi \*\)/);
    await page.click('[data-testid="always-allow-button"]');
    await page.waitForSelector('[data-testid="approval-resolved"]:has-text("Allowed · remembered")');
    await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: please (turn 1)")');
    await eventually(async () => (await page.locator('[data-testid="result-summary"]').count()) === 1, 'turn 1 done');
    // the second @tool runs with no approval card
    await page.fill('[data-testid="prompt-input"]', 'again @tool');
    await page.click('[data-testid="send-button"]');
    await eventually(async () => (await page.locator('[data-testid="result-summary"]').count()) === 2, 'turn 2 done');
    assert.equal(await page.locator('[data-testid="approval-card"]').count(), 0, 'no card for the remembered rule');
    assert.equal(await page.locator('[data-testid="approval-resolved"]').count(), 1, 'only the first request was asked');
    assert.equal(await page.locator('[data-testid="tool-result"]:not(.is-error)').count(), 2, 'the tool ran twice');
    // the Rules page lists it (on a phone-sized page too) and removes it
    await page.setViewportSize({ width: 390, height: 844 });
    await page.click('[data-testid="rules-button"]');
    const row = '[data-testid="rules-allow"] [data-testid="rule-row"][data-rule="Bash(echo hi *)"]';
    await page.waitForSelector(row);
    assert.ok(await fits(page), 'the rules page fits 390 px');
    await page.screenshot({ path: join(SHOT_DIR, 'rules-phone.png') });
    await page.click(`${row} [data-testid="rule-remove"]`);
    await page.waitForSelector('[data-testid="rules-note"]:has-text("Removed")');
    assert.equal(await page.locator(row).count(), 0, 'the rule is gone');
    await page.click('[data-testid="rules-close"]');
    // …and the next @tool asks again
    await page.fill('[data-testid="prompt-input"]', 'third @tool');
    await page.click('[data-testid="send-button"]');
    await page.waitForSelector('[data-testid="approval-card"]');
    await page.click('[data-testid="deny-button"]');
    await eventually(async () => (await page.locator('[data-testid="result-summary"]').count()) === 3, 'turn 3 done');
    await page.click('[data-testid="end-button"]');
    await eventually(async () => (await statusOf(page)) === 'success', 'ended');
    await page.close();
  });

  it('live session: a follow-up goes to the same process (turn 2); Interrupt stops a long turn', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    const sid = await startSession(page, projectDir('live-follow'), 'first words', { live: true, mode: 'acceptEdits' });
    await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: first words (turn 1)")');
    await eventually(async () => (await page.getAttribute('[data-testid="session-view"]', 'data-composer-mode')) === 'follow-up', 'follow-up mode');
    await eventually(async () => (await page.locator('[data-testid="interrupt-button"]').count()) === 0, 'no interrupt between turns');
    await page.fill('[data-testid="prompt-input"]', 'second words');
    await page.click('[data-testid="send-button"]');
    await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: second words (turn 2)")');
    assert.equal(await page.getAttribute('[data-testid="session-view"]', 'data-session-id'), sid, 'same session');
    assert.equal(await page.locator('[data-testid="run-start"]').count(), 1, 'same run: no second start');
    await eventually(async () => (await page.locator('[data-testid="result-summary"]').count()) === 2, 'two results');
    // a long turn, interrupted
    await page.fill('[data-testid="prompt-input"]', 'slow @lines=50 @delay=100');
    await page.click('[data-testid="send-button"]');
    await page.waitForSelector('[data-testid="message-assistant"]:has-text("line 1")');
    await page.click('[data-testid="interrupt-button"]');
    await eventually(async () => (await page.locator('[data-testid="result-summary"]').count()) === 3, 'interrupted turn ends with a result');
    await eventually(async () => (await page.locator('[data-testid="interrupt-button"]').count()) === 0, 'interrupt button gone');
    const lines = (await assistantTexts(page)).filter((t) => /^line \d+$/.test(t));
    assert.ok(lines.length < 50, `turn stopped early (${lines.length} lines)`);
    assert.equal(await statusOf(page), 'running', 'the session stays usable after an interrupt');
    const bubbles = await page.$$eval('[data-testid="message-user"]', (els) => els.map((e) => e.textContent.trim()));
    assert.deepEqual(bubbles, ['first words', 'second words', 'slow @lines=50 @delay=100']);
    await page.click('[data-testid="end-button"]');
    await eventually(async () => (await statusOf(page)) === 'success', 'ended');
    await page.close();
  });

  it('phone: a pending approval is pinned above the prompt box, a second viewer answers it; saves a screenshot', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    await phone.addCookies(await context.cookies(server.url));
    const page = await phone.newPage();
    await page.goto(`${server.url}/`);
    const dir = projectDir('phone-approval');
    const sid = await startSession(page, dir, 'tidy up the build script please @tool', { live: true });
    await page.waitForSelector('[data-testid="approval-card"]');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'fits the phone');
    for (const id of ['approve-button', 'deny-button', 'interrupt-button', 'end-button', 'prompt-input']) {
      const box = await page.locator(`[data-testid="${id}"]`).first().boundingBox();
      assert.ok(box && box.height >= 44, `${id} is at least 44px tall (${box?.height})`);
    }
    mkdirSync(SHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SHOT_DIR, 'phone-approval.png') });
    const card = await page.locator('[data-testid="approval-card"]').boundingBox();
    const prompt = await page.locator('[data-testid="prompt-input"]').boundingBox();
    assert.ok(card.y + card.height <= prompt.y + 1 && card.y >= 0, `card above the prompt box and on screen (${card.y}+${card.height} vs ${prompt.y})`);
    mkdirSync(SHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SHOT_DIR, 'phone-approval.png') });
    // a second viewer (another page of the same browser re-opens the remembered tab) sees and answers it
    const other = await phone.newPage();
    await other.goto(`${server.url}/`);
    await other.click(`[data-testid="tab"][data-session-id="${sid}"] .tab-main`);
    await other.waitForSelector('[data-testid="approval-card"]');
    await other.click('[data-testid="approve-button"]');
    await page.waitForSelector('[data-testid="approval-resolved"]:has-text("Allowed")');
    assert.equal(await page.locator('[data-testid="approval-card"]').count(), 0, 'the first viewer\'s card went away');
    await page.waitForSelector('[data-testid="result-summary"]');
    await eventually(() => existsSync(join(dir, 'tool-ran.txt')), 'tool ran');
    assert.equal(readFileSync(join(dir, 'tool-ran.txt'), 'utf8').trim(), 'hi');
    await page.click('[data-testid="end-button"]');
    await eventually(async () => (await statusOf(page)) === 'success', 'ended');
    await phone.close();
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
    for (const id of ['send-button', 'prompt-input', 'new-tab']) {
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

  it('restart: a live session whose server is killed (SIGKILL) reattaches by itself, shows the restart and Resume; Resume makes it live again', async () => {
    const dir = ownHome();
    const token = randomBytes(16).toString('hex');
    const first = await launchServer({ home: dir, token });
    const ctx = await contextFor(first, { viewport: { width: 1280, height: 800 } });
    try {
      const page = await ctx.newPage();
      await page.goto(`${first.url}/`);
      const project = projectDir('restart', dir);
      const sid = await startSession(page, project, 'before the restart', { live: true });
      await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: before the restart (turn 1)")');
      await eventually(async () => (await page.getAttribute('[data-testid="session-view"]', 'data-composer-mode')) === 'follow-up', 'live, between turns');
      assert.equal(await connOf(page), 'connected');

      // kill -9: no shutdown, no completion written by it; its claude loses its stdin and ends
      assert.equal((await killServer(first, 'SIGKILL')).signal, 'SIGKILL');
      await eventually(async () => (await connOf(page)) === 'reconnecting', 'the tab notices and keeps retrying');
      await noClaudeLeft(dir);

      // the same data dir, the same port: the run is still there, ended by the new server at start-up
      const second = await launchServer({ home: dir, token, port: first.port, via: first.front ?? null });
      assert.equal(second.url, first.url);
      const banner = await page.waitForSelector('[data-testid="run-stopped"][data-reason="server-restart"]');
      assert.match(await banner.textContent(), /The server restarted during this run/);
      assert.match(await page.textContent('[data-testid="run-stopped-message"]'), /the server restarted while this run was in progress/);
      await page.waitForSelector('[data-testid="message-error"]:has-text("the server restarted")');
      await eventually(async () => (await statusOf(page)) === 'error', 'run-status error');
      await eventually(async () => (await connOf(page)) === 'closed', 'the replay ended the link');
      assert.equal(await page.locator('[data-testid="resume-button"]').count(), 1, 'Resume offered');
      assert.equal(await page.getAttribute('[data-testid="session-view"]', 'data-session-id'), sid);
      const echoes = (await assistantTexts(page)).filter((t) => t.includes('Echo: before the restart'));
      assert.equal(echoes.length, 1, 'the transcript is whole and has no duplicate after the reattach');

      // a reload: the tab comes back (and is shown), replayed from the server's log, Resume still offered
      await page.reload();
      await page.waitForSelector(`[data-testid="session-view"][data-session-id="${sid}"] [data-testid="resume-button"]`);
      await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: before the restart (turn 1)")');
      mkdirSync(SHOT_DIR, { recursive: true });
      await page.screenshot({ path: join(SHOT_DIR, 'laptop-restarted.png') });
      // at phone width too: the banner and its button fit, above the prompt box
      await page.setViewportSize({ width: 390, height: 844 });
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'fits a phone');
      const resumeBox = await page.locator('[data-testid="resume-button"]').boundingBox();
      const promptBox = await page.locator('[data-testid="prompt-input"]').boundingBox();
      assert.ok(resumeBox.height >= 44 && resumeBox.x + resumeBox.width <= 390, `Resume on screen, 44px (${JSON.stringify(resumeBox)})`);
      assert.ok(resumeBox.y + resumeBox.height <= promptBox.y, 'Resume above the prompt box');
      await page.screenshot({ path: join(SHOT_DIR, 'phone-restarted.png') });
      await page.setViewportSize({ width: 1280, height: 800 });

      // the Runs view says the same: stopped unexpectedly, Resume offered
      await page.click('[data-testid="runs-tab"]');
      const row = `[data-testid="run-row"][data-session-id="${sid}"]`;
      await page.waitForSelector(`${row}[data-category="stopped"] [data-testid="run-resume"]`);
      assert.match(await page.textContent(`${row} [data-testid="run-state"]`), /stopped unexpectedly/);
      await page.screenshot({ path: join(SHOT_DIR, 'laptop-runs-stopped.png') });
      await openTab(page, sid);

      // one click: claude starts again on the session and waits; the next prompt gets its reply
      await page.click('[data-testid="resume-button"]');
      await eventually(async () => (await page.getAttribute('[data-testid="session-view"]', 'data-composer-mode')) === 'follow-up', 'live again');
      assert.equal(await statusOf(page), 'running');
      assert.equal(await page.locator('[data-testid="run-stopped"]').count(), 0);
      await page.fill('[data-testid="prompt-input"]', 'after the restart');
      await page.click('[data-testid="send-button"]');
      await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: after the restart (turn 1)")');
      assert.equal(await page.getAttribute('[data-testid="session-view"]', 'data-session-id'), sid, 'same session, same tab');
      assert.equal(await page.locator('[data-testid="run-start"]').count(), 2, 'the first run and the resumed one');
      await page.click('[data-testid="end-button"]');
      await eventually(async () => (await statusOf(page)) === 'success', 'ended');
      await page.close();
      assert.equal((await killServer(second, 'SIGTERM')).code, 0, 'graceful stop');
      await noClaudeLeft(dir);
    } finally {
      await ctx.close();
    }
  });

  it('phone: the Runs view shows a live run waiting for you with its health; Answer opens it', async () => {
    const dir = ownHome();
    const srv = await launchServer({ home: dir, token: randomBytes(16).toString('hex') });
    const phone = await contextFor(srv, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    try {
      const page = await phone.newPage();
      await page.goto(`${srv.url}/`);
      const project = projectDir('health', dir);
      const sid = await startSession(page, project, 'check the build please @tool', { live: true });
      await page.waitForSelector('[data-testid="approval-card"]');

      await page.click('[data-testid="runs-tab"]');
      const row = `[data-testid="run-row"][data-session-id="${sid}"]`;
      const badge = await page.waitForSelector(`${row}[data-category="waiting"] [data-testid="waiting-badge"]`);
      assert.equal((await badge.textContent()).trim(), 'waiting for you');
      assert.equal((await page.textContent(`${row} [data-testid="health-alive"]`)).trim(), 'alive');
      assert.match(await page.textContent(`${row} [data-testid="health-cpu"]`), /^CPU \d+(\.\d)? s$/);
      assert.match(await page.textContent(`${row} [data-testid="health-rss"]`), /^RSS \d+(\.\d)? (KB|MB)$/);
      assert.match(await page.textContent(`${row} [data-testid="health-quiet"]`), /^(output just now|quiet for \d+ s)$/);
      assert.match(await page.textContent('[data-testid="runs-summary"]'), /1 waiting for you/);
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'fits the phone');
      for (const id of ['runs-tab', 'run-open', 'run-cancel', 'runs-refresh']) {
        const box = await page.locator(`${id === 'runs-tab' || id === 'runs-refresh' ? '' : `${row} `}[data-testid="${id}"]`).first().boundingBox();
        assert.ok(box && box.height >= 44, `${id} is at least 44px tall (${box?.height})`);
      }
      const card = await page.locator(row).boundingBox();
      assert.ok(card.x >= 0 && card.x + card.width <= 390, `the run fits across (${card.x}+${card.width})`);
      mkdirSync(SHOT_DIR, { recursive: true });
      await page.screenshot({ path: join(SHOT_DIR, 'phone-runs.png') });

      // Answer: the session's tab, with the card; once answered the run is no longer waiting
      await page.click(`${row} [data-testid="run-open"]`);
      await page.waitForSelector(`[data-testid="session-view"][data-session-id="${sid}"] [data-testid="approval-card"]`);
      await page.click('[data-testid="approve-button"]');
      await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: check the build please (turn 1)")');
      await page.click('[data-testid="runs-tab"]');
      await page.waitForSelector(`${row}[data-category="running"] [data-testid="health-alive"]`);
      assert.equal(await page.locator(`${row} [data-testid="waiting-badge"]`).count(), 0);
      await openTab(page, sid);
      await page.click('[data-testid="end-button"]');
      await eventually(async () => (await statusOf(page)) === 'success', 'ended');
      await page.close();
      assert.equal((await killServer(srv, 'SIGTERM')).code, 0, 'graceful stop');
      await noClaudeLeft(dir);
    } finally {
      await phone.close();
    }
  });
  for (const [size, device] of SIZES) {
    it(`${size}: a prompt and an Allow sent without a connection wait, then go out once when it is back`, async () => {
      const ctx = await browser.newContext(device);
      await ctx.addCookies(await context.cookies(server.url));
      try {
        const page = await ctx.newPage();
        await page.goto(`${server.url}/`);
        const dir = projectDir(`offline-${size}`);
        const sid = await startSession(page, dir, 'first words', { live: true });
        await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: first words (turn 1)")');
        await eventually(async () => (await page.getAttribute('[data-testid="session-view"]', 'data-composer-mode')) === 'follow-up', 'live, between turns');

        // the phone loses the network: the socket drops and cannot come back, REST fails too
        await ctx.setOffline(true);
        await page.evaluate(() => window.__opcodeDebug.dropSockets());
        await eventually(async () => (await connOf(page)) === 'reconnecting', 'reconnecting');
        await page.fill('[data-testid="prompt-input"]', 'sent while offline');
        await page.click('[data-testid="send-button"]');
        const waiting = await page.waitForSelector('[data-testid="queued-prompt"][data-state="waiting"]');
        assert.match(await waiting.textContent(), /sent while offline/);
        assert.match(await waiting.textContent(), /Waiting for the connection/);
        assert.equal(await page.inputValue('[data-testid="prompt-input"]'), '', 'the box is free for the next one');
        assert.equal(await page.locator('[data-testid="message-error"]').count(), 0, 'no raw error');
        assert.ok(await fits(page), 'fits');
        await page.screenshot({ path: join(SHOT_DIR, `${size}-offline-waiting.png`) });

        // back online: it goes out by itself, exactly once
        await ctx.setOffline(false);
        await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: sent while offline (turn 2)")');
        await eventually(async () => (await page.locator('[data-testid="queued-prompt"]').count()) === 0, 'outbox empty');
        assert.deepEqual(await userBubbles(page), ['first words', 'sent while offline']);

        // an approval answered without a connection
        await page.fill('[data-testid="prompt-input"]', 'now a tool @tool');
        await page.click('[data-testid="send-button"]');
        await page.waitForSelector('[data-testid="approval-card"]');
        await ctx.setOffline(true);
        await page.evaluate(() => window.__opcodeDebug.dropSockets());
        await eventually(async () => (await connOf(page)) === 'reconnecting', 'reconnecting again');
        await page.click('[data-testid="approve-button"]');
        await page.waitForSelector('[data-testid="system-note"]:has-text("will be sent when the connection is back")');
        assert.equal(await page.locator('[data-testid="message-error"]').count(), 0, 'no "Failed to fetch"');
        await ctx.setOffline(false);
        await page.waitForSelector('[data-testid="approval-resolved"]:has-text("Allowed")');
        await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: now a tool (turn 3)")');
        await eventually(() => existsSync(join(dir, 'tool-ran.txt')), 'the tool ran');
        assert.equal(await page.getAttribute('[data-testid="session-view"]', 'data-session-id'), sid);
        await page.click('[data-testid="end-button"]');
        await eventually(async () => (await statusOf(page)) === 'success', 'ended');
      } finally {
        await ctx.close();
      }
    });

    it(`${size}: while a turn runs the composer queues prompts (edit, remove); Interrupt reads as an interruption; queued → sent`, async () => {
      const ctx = await browser.newContext(device);
      await ctx.addCookies(await context.cookies(server.url));
      try {
        const page = await ctx.newPage();
        await page.goto(`${server.url}/`);
        await startSession(page, projectDir(`queue-${size}`), 'warm up', { live: true });
        await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: warm up (turn 1)")');
        await eventually(async () => (await page.getAttribute('[data-testid="session-view"]', 'data-composer-mode')) === 'follow-up', 'between turns');
        await page.fill('[data-testid="prompt-input"]', 'slow @lines=4000 @delay=15');
        await page.click('[data-testid="send-button"]');
        await page.waitForSelector('[data-testid="message-assistant"]:has-text("line 1")');
        assert.equal(await page.getAttribute('[data-testid="prompt-input"]', 'placeholder'), 'Queue a follow-up…');
        for (const text of ['queued one', 'queued two']) {
          await page.fill('[data-testid="prompt-input"]', text);
          await page.click('[data-testid="send-button"]');
          await page.waitForSelector(`[data-testid="queued-prompt"][data-state="queued"]:has-text("${text}")`);
        }
        const one = page.locator('[data-testid="queued-prompt"]', { hasText: 'queued one' });
        assert.match(await one.locator('[data-testid="queued-state"]').textContent(), /Queued: goes out when the current turn ends/);
        await one.locator('[data-testid="queued-edit"]').click();
        await one.locator('[data-testid="queued-edit-input"]').fill('queued one, edited');
        await one.locator('[data-testid="queued-save"]').click();
        await page.waitForSelector('[data-testid="queued-prompt"][data-state="queued"]:has-text("queued one, edited")');
        await page.locator('[data-testid="queued-prompt"]', { hasText: 'queued two' }).locator('[data-testid="queued-remove"]').click();
        await eventually(async () => (await page.locator('[data-testid="queued-prompt"]').count()) === 1, 'queued two removed');
        assert.ok(await fits(page), 'fits');
        for (const id of ['queued-edit', 'queued-remove']) {
          const box = await page.locator(`[data-testid="${id}"]`).first().boundingBox();
          assert.ok(box && box.height >= 44, `${id} is at least 44px tall (${box?.height})`);
        }
        await page.screenshot({ path: join(SHOT_DIR, `${size}-queued.png`) });

        // Interrupt: the turn ends as an interruption (not a red error), then the queued prompt goes out
        await page.click('[data-testid="interrupt-button"]');
        await waitOrExplain(page, '[data-testid="result-summary"][data-interrupted="true"]:has-text("Interrupted")', server.url);
        assert.equal(await page.locator('[data-testid="result-summary"].is-error').count(), 0, 'no error result');
        await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: queued one, edited (turn 3)")');
        await eventually(async () => (await page.locator('[data-testid="queued-prompt"]').count()) === 0, 'nothing queued');
        assert.deepEqual(await userBubbles(page), ['warm up', 'slow @lines=4000 @delay=15', 'queued one, edited']);
        const text = await page.textContent('[data-testid="transcript"]');
        assert.ok(!text.includes('queued two'), 'the removed prompt never went out');
        assert.equal(await page.locator('[data-testid="system-init"]').count(), 1, 'claude\'s init shown once for three turns');
        assert.ok(!text.includes('status: requesting'));
        await page.click('[data-testid="end-button"]');
        await eventually(async () => (await statusOf(page)) === 'success', 'ended');
        assert.equal((await page.textContent('[data-testid="run-status"]')).trim(), 'finished');
        assert.equal(await page.isVisible('[data-testid="conn-state"]'), false, 'no grey "closed" on a finished session');
      } finally {
        await ctx.close();
      }
    });
  }

  it('needs you first: a second device sees every session with its state, waiting first, the count in the title; a reload reopens the session', async () => {
    const dir = ownHome();
    const srv = await launchServer({ home: dir, token: randomBytes(16).toString('hex') });
    const laptop = await contextFor(srv, LAPTOP);
    const phone = await contextFor(srv, PHONE);
    try {
      const lp = await laptop.newPage();
      await lp.goto(`${srv.url}/`);
      const done = await startSession(lp, projectDir('finished-one', dir), 'an old question');
      await eventually(async () => (await statusOf(lp)) === 'success', 'one-shot finished');
      const busy = await startSession(lp, projectDir('busy', dir), 'keep going', { live: true });
      await lp.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: keep going (turn 1)")');
      const asks = await startSession(lp, projectDir('asks', dir), 'may I @tool', { live: true });
      await lp.waitForSelector('[data-testid="approval-card"]');
      await eventually(async () => (await lp.title()) === '(1) opcode', 'the laptop title counts it');

      // the phone never opened any of them
      const pp = await phone.newPage();
      await pp.goto(`${srv.url}/`);
      const row = (id) => `[data-testid="overview-row"][data-session-id="${id}"]`;
      await pp.waitForSelector(`${row(asks)}[data-state="waiting"]`);
      await pp.waitForSelector(`${row(busy)}[data-state="running"]`);
      await pp.waitForSelector(`${row(done)}[data-state="finished"]`);
      const order = await pp.$$eval('[data-testid="overview-row"]', (els) => els.map((e) => e.getAttribute('data-session-id')));
      assert.equal(order[0], asks, 'waiting for you comes first');
      assert.ok(order.indexOf(busy) < order.indexOf(done), 'running before finished');
      assert.match(await pp.textContent(row(done)), /an old question/, 'a finished one reads with its first prompt');
      assert.match(await pp.textContent('[data-testid="overview-summary"]'), /1 waiting for you · 1 running/);
      await eventually(async () => (await pp.title()) === '(1) opcode', 'the phone title counts it');
      assert.ok(await fits(pp), 'fits');
      const box = await pp.locator(row(asks)).boundingBox();
      assert.ok(box.height >= 44 && box.y < 400, `the waiting one is near the top and tappable (${JSON.stringify(box)})`);
      await pp.screenshot({ path: join(SHOT_DIR, 'phone-needs-you.png') });
      await lp.click('[data-testid="new-tab"]');
      await lp.waitForSelector(`${row(asks)}[data-state="waiting"]`);
      assert.match(await lp.textContent(row(asks)), /may I @tool/, 'a device with the tab knows its first prompt');
      await lp.screenshot({ path: join(SHOT_DIR, 'laptop-needs-you.png') });

      // the phone opens it from there; a reload keeps it open, at its address
      await pp.click(row(asks));
      await pp.waitForSelector(`[data-testid="session-view"][data-session-id="${asks}"] [data-testid="approval-card"]`);
      await eventually(async () => new URL(pp.url()).hash === `#session=${asks}`, 'the address names the session');
      await pp.reload();
      await pp.waitForSelector(`[data-testid="session-view"][data-session-id="${asks}"] [data-testid="approval-card"]`);
      // tabs are told apart: project name and first prompt; the bar shows the whole path and id
      assert.equal((await pp.textContent(`[data-testid="tab"][data-session-id="${asks}"] [data-testid="tab-project"]`)).trim(), 'asks');
      assert.equal((await pp.textContent(`[data-testid="tab"][data-session-id="${asks}"] [data-testid="tab-title"]`)).trim(), 'may I @tool');
      assert.equal((await pp.textContent('[data-testid="session-path"]')).trim(), join(dir, 'projects', 'asks'));
      assert.match(await pp.textContent('[data-testid="session-id"]'), new RegExp(asks));
      for (const sel of ['[data-testid="session-id"]', '[data-testid="tab-title"]', '[data-testid="run-status"]']) {
        const px = await pp.$eval(sel, (e) => parseFloat(getComputedStyle(e).fontSize));
        assert.ok(px >= 14, `${sel} is at least 14px (${px})`);
      }
      await pp.click('[data-testid="approve-button"]');
      await pp.waitForSelector('[data-testid="approval-resolved"]:has-text("Allowed")');
      await eventually(async () => (await pp.title()) === 'opcode', 'nothing waits any more');
      await eventually(async () => (await lp.title()) === 'opcode', 'the laptop agrees');

      // a second device opening a session's address (a link from a notification) lands in it
      const other = await contextFor(srv, PHONE);
      const op = await other.newPage();
      await op.goto(`${srv.url}/#session=${busy}`);
      await op.waitForSelector(`[data-testid="session-view"][data-session-id="${busy}"] [data-testid="message-assistant"]:has-text("Echo: keep going (turn 1)")`);
      await other.close();

      for (const sid of [busy, asks]) {
        await openTab(lp, sid);
        await lp.click('[data-testid="end-button"]');
        await eventually(async () => (await statusOf(lp)) === 'success', 'ended');
      }
      assert.equal((await killServer(srv, 'SIGTERM')).code, 0, 'graceful stop');
      await noClaudeLeft(dir);
    } finally {
      await laptop.close();
      await phone.close();
    }
  });

  it('a live session without a transcript yet is found in its project\'s list from another device', async () => {
    const dir = ownHome();
    const srv = await launchServer({ home: dir, token: randomBytes(16).toString('hex') });
    const laptop = await contextFor(srv, LAPTOP);
    const phone = await contextFor(srv, PHONE);
    try {
      const lp = await laptop.newPage();
      await lp.goto(`${srv.url}/`);
      const project = projectDir('listed', dir);
      const first = await startSession(lp, project, 'a past one');
      await eventually(async () => (await statusOf(lp)) === 'success', 'past one done');
      const live = await startSession(lp, project, 'wait for me @tool', { live: true });
      await lp.waitForSelector('[data-testid="approval-card"]');
      const pp = await phone.newPage();
      await pp.goto(`${srv.url}/`);
      await pp.click(`[data-testid="project-item"][title="${project}"]`);
      await pp.waitForSelector(`[data-testid="session-item"][data-session-id="${first}"]`);
      const item = await pp.waitForSelector(`[data-testid="session-item"][data-session-id="${live}"][data-state="waiting"]`);
      assert.match(await item.textContent(), /waiting for you/);
      await item.click();
      await pp.waitForSelector(`[data-testid="session-view"][data-session-id="${live}"] [data-testid="approval-card"]`);
      await pp.click('[data-testid="deny-button"]');
      await pp.waitForSelector('[data-testid="approval-resolved"]');
      await pp.click('[data-testid="end-button"]');
      await eventually(async () => (await statusOf(pp)) === 'success', 'ended');
      assert.equal((await killServer(srv, 'SIGTERM')).code, 0);
      await noClaudeLeft(dir);
    } finally {
      await laptop.close();
      await phone.close();
    }
  });

  it('"Load older" adds the earlier messages above and keeps the reader\'s place (phone and laptop)', async () => {
    const dir = projectDir('long-history');
    const sid = '0f0f0f0f-1111-4222-8333-444444444444';
    const folder = join(home, '.claude', 'projects', dir.replace(/[^A-Za-z0-9]/g, '-'));
    mkdirSync(folder, { recursive: true });
    const lines = [];
    for (let i = 0; i < 300; i++) {
      const ts = new Date(Date.UTC(2026, 10, 1, 0, 0, i)).toISOString();
      lines.push(JSON.stringify({ type: 'user', message: { role: 'user', content: `question ${i}` }, sessionId: sid, cwd: dir, timestamp: ts, uuid: `u${i}` }));
      lines.push(JSON.stringify({ type: 'assistant', message: { role: 'assistant', content: [{ type: 'text', text: `answer ${i}` }] }, sessionId: sid, cwd: dir, timestamp: ts, uuid: `a${i}` }));
    }
    writeFileSync(join(folder, `${sid}.jsonl`), `${lines.join('\n')}\n`);
    for (const [size, device] of SIZES) {
      const ctx = await browser.newContext(device);
      await ctx.addCookies(await context.cookies(server.url));
      try {
        const page = await ctx.newPage();
        await page.goto(`${server.url}/`);
        await page.click('button[aria-label="Refresh projects"]');
        await page.click(`[data-testid="project-item"][title="${dir}"]`);
        await page.click(`[data-testid="session-item"][data-session-id="${sid}"]`);
        await page.waitForSelector('[data-testid="message-assistant"]:has-text("answer 299")');
        await page.waitForSelector('[data-testid="load-older"]');
        assert.equal(await page.locator('[data-testid="message-user"]:has-text("question 150")').count(), 0, 'the first page is the newest');
        // read from the top of what is loaded
        await page.$eval('[data-testid="transcript"]', (el) => {
          el.scrollTop = 0;
        });
        const topText = async () =>
          page.$eval('[data-testid="transcript"]', (el) => {
            const top = el.getBoundingClientRect().top;
            const first = [...el.querySelectorAll('[data-testid="message-user"], [data-testid="message-assistant"]')].find((m) => m.getBoundingClientRect().bottom > top + 60);
            return { text: first.textContent.trim(), y: first.getBoundingClientRect().top };
          });
        const before = await topText();
        await page.click('[data-testid="load-older"]');
        await page.waitForSelector('[data-testid="message-user"]:has-text("question 150")', { state: 'attached' });
        const after = await topText();
        assert.equal(after.text, before.text, `${size}: the same message stays in view`);
        assert.ok(Math.abs(after.y - before.y) < 80, `${size}: at about the same place (${before.y} → ${after.y})`);
        assert.equal(await page.locator('[data-testid="show-earlier"]').count(), 0, `${size}: everything loaded is shown`);
        await page.screenshot({ path: join(SHOT_DIR, `${size}-load-older.png`) });
      } finally {
        await ctx.close();
      }
    }
  });

  it('PWA: installable (PNG icons), the service worker opens the app with no network and shows the last-known sessions, then it reconnects by itself', async () => {
    const dir = ownHome();
    const token = randomBytes(16).toString('hex');
    const first = await launchServer({ home: dir, token });
    const ctx = await contextFor(first, PHONE);
    try {
      const page = await ctx.newPage();
      await page.goto(`${first.url}/`);
      // the manifest and its icons are real PNGs of the sizes they claim
      const manifest = await page.evaluate(async () => (await fetch('/manifest.webmanifest')).json());
      const pngs = manifest.icons.filter((i) => i.type === 'image/png');
      for (const want of ['192x192', '512x512']) assert.ok(pngs.some((i) => i.sizes === want && i.purpose === 'any'), `a ${want} PNG icon`);
      assert.ok(pngs.some((i) => i.purpose === 'maskable'), 'a maskable icon');
      const touch = await page.getAttribute('link[rel="apple-touch-icon"]', 'href');
      for (const src of [...pngs.map((i) => `${i.src}|${i.sizes}`), `${touch}|180x180`]) {
        const [path, sizes] = src.split('|');
        const dims = await page.evaluate(async (p) => {
          const res = await fetch(p);
          const b = new DataView(await res.arrayBuffer());
          return { type: res.headers.get('content-type'), sig: b.getUint32(0), w: b.getUint32(16), h: b.getUint32(20) };
        }, path);
        assert.equal(dims.sig, 0x89504e47, `${path} is a PNG`);
        assert.equal(`${dims.w}x${dims.h}`, sizes, `${path} is ${sizes}`);
      }

      // the worker takes control and keeps this build's shell in a cache named after the build
      await page.evaluate(() => navigator.serviceWorker.ready);
      await page.reload();
      await eventually(() => page.evaluate(() => navigator.serviceWorker.controller !== null), 'controlled by the service worker');
      const version = (await page.evaluate(async () => (await fetch('/sw.js')).text())).match(/const VERSION = '([0-9a-f]+)'/)[1];
      await eventually(async () => (await page.evaluate(() => caches.keys())).includes(`opcode-shell-${version}`), 'the shell cache of this build');

      // something to remember: a session, seen in the overview
      const sid = await startSession(page, projectDir('pwa', dir), 'remember me offline');
      await eventually(async () => (await statusOf(page)) === 'success', 'done');
      await page.click('[data-testid="new-tab"]');
      await page.waitForSelector(`[data-testid="overview-row"][data-session-id="${sid}"]`);

      // no server at all (and, with E2E_UI=dist, no proxy either): the app still opens from the worker,
      // with the last-known sessions
      assert.equal((await killServer(first, 'SIGTERM')).code, 0);
      if (first.front) first.front.down = true;
      assert.equal(await page.evaluate(() => fetch('/api/health').then(() => 'online', () => 'offline')), 'offline', 'the network is really gone');
      const res = await page.reload();
      assert.ok(res.fromServiceWorker(), 'the page came from the service worker');
      await page.waitForSelector('[data-testid="new-tab"]');
      await page.waitForSelector('[data-testid="offline-banner"]');
      await page.waitForSelector(`[data-testid="overview-row"][data-session-id="${sid}"]`);
      assert.match(await page.textContent(`[data-testid="overview-row"][data-session-id="${sid}"]`), /remember me offline/);
      assert.ok(await fits(page), 'fits the phone');
      await page.screenshot({ path: join(SHOT_DIR, 'phone-offline.png') });
      await page.setViewportSize(LAPTOP.viewport);
      await page.waitForSelector(`[data-testid="overview-row"][data-session-id="${sid}"]`);
      await page.screenshot({ path: join(SHOT_DIR, 'laptop-offline.png') });

      // the server comes back (same port): it reconnects by itself
      if (first.front) first.front.down = false;
      const second = await launchServer({ home: dir, token, port: first.port, via: first.front ?? null });
      assert.equal(second.url, first.url);
      await page.waitForSelector('[data-testid="offline-banner"]', { state: 'detached' });
      await page.click(`[data-testid="overview-row"][data-session-id="${sid}"]`);
      await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: remember me offline")');
      assert.equal((await killServer(second, 'SIGTERM')).code, 0);
      await noClaudeLeft(dir);
    } finally {
      await ctx.close();
    }
  });

  it('notifications: enabling subscribes with the server key and saves the subscription; Turn off deletes it; sockets report visibility', async () => {
    const ctx = await browser.newContext(PHONE);
    await ctx.addCookies(await context.cookies(server.url));
    try {
      // no push service reachable here: a stand-in pushManager whose subscription has a real P-256 key
      await ctx.addInitScript(() => {
        let permission = 'default';
        Object.defineProperty(Notification, 'permission', { get: () => permission, configurable: true });
        Notification.requestPermission = async () => (permission = 'granted');
        let current = null;
        const b64u = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
        PushManager.prototype.getSubscription = async () => current;
        PushManager.prototype.subscribe = async (opts) => {
          window.__subscribeKeyLength = new Uint8Array(opts.applicationServerKey).length;
          const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
          const raw = await crypto.subtle.exportKey('raw', pair.publicKey);
          const json = { endpoint: 'https://push.example.invalid/sub/1', expirationTime: null, keys: { p256dh: b64u(raw), auth: b64u(crypto.getRandomValues(new Uint8Array(16))) } };
          current = { toJSON: () => json, unsubscribe: async () => ((current = null), true) };
          return current;
        };
        const OrigWS = window.WebSocket;
        window.__wsSent = [];
        window.WebSocket = class extends OrigWS {
          send(d) {
            window.__wsSent.push(String(d));
            return super.send(d);
          }
        };
      });
      const page = await ctx.newPage();
      await page.goto(`${server.url}/`);
      await page.waitForSelector('[data-testid="notifications-panel"][data-status="off"]');
      const saved = page.waitForResponse((r) => r.url().endsWith('/api/push/subscriptions') && r.request().method() === 'POST');
      await page.click('[data-testid="push-enable"]');
      const res = await saved;
      assert.equal(res.status(), 200, `subscription saved: ${await res.text()}`);
      const device = await page.evaluate(() => localStorage.getItem('opcode-device-id'));
      assert.match(device, /^[0-9a-f-]{36}$/);
      assert.equal(JSON.parse(res.request().postData()).device_id, device);
      assert.equal(await page.evaluate(() => window.__subscribeKeyLength), 65, 'the VAPID key decoded to 65 bytes');
      await page.waitForSelector('[data-testid="notifications-panel"][data-status="on"]');
      assert.ok(await fits(page), 'fits 390 px');
      const off = page.waitForResponse((r) => r.url().endsWith('/api/push/subscriptions') && r.request().method() === 'DELETE');
      await page.click('[data-testid="push-disable"]');
      assert.deepEqual((await (await off).json()).data, { deleted: true });
      await page.waitForSelector('[data-testid="notifications-panel"][data-status="off"]');
      // a session's socket says this device is watching
      await startSession(page, projectDir('visibility'), 'hello there');
      await eventually(async () => (await statusOf(page)) === 'success', 'run done');
      const reports = (await page.evaluate(() => window.__wsSent)).map((m) => JSON.parse(m)).filter((m) => m.type === 'visibility');
      assert.ok(reports.length >= 1, 'a visibility report was sent');
      assert.deepEqual(reports[0], { type: 'visibility', device, visible: true });
    } finally {
      await ctx.close();
    }
  });

  it('dictation: the button shows where the browser has speech recognition and fills the prompt box', async () => {
    for (const [size, device] of SIZES) {
      const ctx = await browser.newContext(device);
      await ctx.addCookies(await context.cookies(server.url));
      try {
        // a stand-in for the recogniser (no microphone here), and a page without any
        await ctx.addInitScript(() => {
          // Chromium has its own (unprefixed too): replaced or removed
          delete window.SpeechRecognition;
          delete window.webkitSpeechRecognition;
          window.SpeechRecognition = undefined;
          window.webkitSpeechRecognition = undefined;
          if (location.hash === '#no-speech') return;
          window.webkitSpeechRecognition = class {
            start() {
              window.__rec = this;
            }
            stop() {
              this.onend?.();
            }
          };
        });
        const page = await ctx.newPage();
        await page.goto(`${server.url}/`);
        await page.fill('[data-testid="prompt-input"]', 'Please');
        await page.click('[data-testid="dictate-button"]');
        await eventually(() => page.evaluate(() => !!window.__rec), 'recognition started');
        await page.evaluate(() => {
          const r = [[{ transcript: 'run the tests' }]];
          r[0].isFinal = true;
          window.__rec.onresult({ resultIndex: 0, results: r });
        });
        assert.equal(await page.inputValue('[data-testid="prompt-input"]'), 'Please run the tests');
        const box = await page.locator('[data-testid="dictate-button"]').boundingBox();
        assert.ok(box.height >= 44 && box.width >= 44, `${size}: the button is a 44px target`);
        assert.ok(await fits(page), `${size}: fits`);
        await page.click('[data-testid="dictate-button"]');
        assert.equal(await page.getAttribute('[data-testid="dictate-button"]', 'aria-pressed'), 'false');
        await page.goto('about:blank'); // a fresh document (not a same-document hash change)
        await page.goto(`${server.url}/#no-speech`);
        await page.waitForSelector('[data-testid="prompt-input"]');
        assert.equal(await page.locator('[data-testid="dictate-button"]').count(), 0, `${size}: hidden without speech recognition`);
      } finally {
        await ctx.close();
      }
    }
  });
});
