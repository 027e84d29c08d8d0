// End-to-end tests of the Agents pane in Chromium against the real server (see harness.mjs), at phone and
// laptop size: create, edit, export (a download), import (a file input), run on a project (the session's
// tab opens), the run history with its figures, opening a run from it, and delete with a confirmation.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHOT_DIR, TIMEOUT, eventually, projectDir, SIZES, fits, statusOf, assistantTexts, startShared, stopShared } from './harness.mjs';

let server;
let browser;
let context;

const card = (name) => `[data-testid="agent-card"][data-agent-name="${name}"]`;

async function tall(page, selector) {
  const box = await page.locator(selector).first().boundingBox();
  assert.ok(box && box.height >= 44, `${selector} is at least 44px tall (${box?.height})`);
}

describe('the Agents pane in Chromium', { concurrency: 1 }, () => {
  before(async () => {
    ({ server, browser, context } = await startShared());
    const page = await context.newPage();
    await page.goto(`${server.url}/?token=${server.token}`);
    await page.waitForSelector('[data-testid="new-tab"]');
    await page.close();
  });

  after(stopShared);

  for (const [size, device] of SIZES) {
    it(`${size}: create, edit, export, import, run, open a run from the history, delete`, async () => {
      const ctx = await browser.newContext({ ...device, acceptDownloads: true });
      await ctx.addCookies(await context.cookies(server.url));
      const page = await ctx.newPage();
      try {
        await page.goto(`${server.url}/`);
        // every pane's button is in view in the top bar, none under another (the lock stands for Devices on a phone)
        await page.waitForSelector('[data-testid="devices-open"]');
        const boxes = await page.evaluate(() =>
          ['new-tab', 'runs-tab', 'usage-tab', 'agents-tab', 'devices-open'].map((id) => {
            const r = document.querySelector(`[data-testid="${id}"]`).getBoundingClientRect();
            return { id, left: r.left, right: r.right, width: r.width };
          }),
        );
        for (const [a, b] of boxes.slice(0, -1).map((box, i) => [box, boxes[i + 1]])) {
          assert.ok(a.right <= b.left, `${a.id} ends before ${b.id} starts: ${JSON.stringify(boxes)}`);
        }
        assert.ok(boxes.at(-1).right <= device.viewport.width, `the top bar fits: ${JSON.stringify(boxes)}`);
        await tall(page, '[data-testid="devices-open"]');
        await page.click('[data-testid="agents-tab"]');
        await page.waitForSelector('[data-testid="agents-view"]');
        assert.ok(page.url().endsWith('#agents'), page.url());
        // an address changed on the open page (typed, a link) shows what it names
        await page.evaluate(() => {
          window.location.hash = '#usage';
        });
        await page.waitForSelector('[data-testid="usage-view"]');
        await page.evaluate(() => {
          window.location.hash = '#agents';
        });
        await page.waitForSelector('[data-testid="agents-view"]');

        // create
        const name = `Reviewer ${size}`;
        await page.click('[data-testid="agent-new"]');
        await page.fill('[data-testid="agent-name-input"]', name);
        await page.click('.icon-choice:has([data-testid="agent-icon-shield"])');
        await page.fill('[data-testid="agent-prompt-input"]', 'You are a careful reviewer.');
        await page.fill('[data-testid="agent-task-input"]', 'review first @lines=2');
        await page.selectOption('[data-testid="agent-form"] [data-testid="model-select"]', 'opus');
        await page.selectOption('[data-testid="agent-mode-select"]', 'plan');
        await page.fill('[data-testid="agent-allowed-input"]', 'Read\nBash(git diff:*)');
        assert.ok(await fits(page), 'the form fits');
        await page.click('[data-testid="agent-save"]');
        await page.waitForSelector(card(name));
        assert.match(await page.textContent(card(name)), /opus/);
        assert.match(await page.textContent(card(name)), /plan/);
        assert.ok(await fits(page), 'the list fits');
        for (const id of ['agents-tab', 'agent-new', 'agent-import-button']) await tall(page, `[data-testid="${id}"]`);
        for (const id of ['agent-run', 'agent-edit', 'agent-export', 'agent-delete']) await tall(page, `${card(name)} [data-testid="${id}"]`);

        // a form that does not check says why and keeps what was typed
        await page.click('[data-testid="agent-new"]');
        await page.fill('[data-testid="agent-name-input"]', 'no prompt');
        await page.click('[data-testid="agent-save"]');
        assert.match(await (await page.waitForSelector('[data-testid="agent-form-error"]')).textContent(), /system_prompt is missing/i);
        await page.click('[data-testid="agent-form-cancel"]');

        // edit
        await page.click(`${card(name)} [data-testid="agent-edit"]`);
        assert.equal(await page.inputValue('[data-testid="agent-allowed-input"]'), 'Read\nBash(git diff:*)');
        await page.fill('[data-testid="agent-task-input"]', 'review the diff @lines=2');
        await page.click('[data-testid="agent-save"]');
        await page.waitForSelector(`[data-testid="agents-note"]:has-text("Saved ${name}")`);

        // export: a download of Opcode's format
        const [download] = await Promise.all([page.waitForEvent('download'), page.click(`${card(name)} [data-testid="agent-export"]`)]);
        assert.equal(download.suggestedFilename(), `reviewer-${size}.opcode.json`);
        const file = JSON.parse(readFileSync(await download.path(), 'utf8'));
        assert.equal(file.version, 1);
        assert.equal(file.agent.name, name);
        assert.equal(file.agent.default_task, 'review the diff @lines=2');
        assert.deepEqual(file.agent.allowed_tools, ['Read', 'Bash(git diff:*)']);

        // import it under another name, and a file that is not one
        const dir = mkdtempSync(join(tmpdir(), 'agents-e2e-'));
        const copy = `Copy ${size}`;
        writeFileSync(join(dir, 'copy.opcode.json'), JSON.stringify({ ...file, agent: { ...file.agent, name: copy } }));
        await page.setInputFiles('[data-testid="agent-import-input"]', join(dir, 'copy.opcode.json'));
        await page.waitForSelector(card(copy));
        assert.match(await page.textContent('[data-testid="agents-note"]'), new RegExp(`Imported ${copy}`));
        writeFileSync(join(dir, 'bad.opcode.json'), JSON.stringify({ version: 2, agent: { name: 'x', system_prompt: 'y' } }));
        await page.setInputFiles('[data-testid="agent-import-input"]', join(dir, 'bad.opcode.json'));
        assert.match(await (await page.waitForSelector('[data-testid="agents-error"]')).textContent(), /version 2 is not supported/);

        // run on a project: the task is the default task; the session opens in a tab
        await page.click(`${card(name)} [data-testid="agent-run"]`);
        assert.equal(await page.inputValue('[data-testid="agent-run-task"]'), 'review the diff @lines=2');
        const project = projectDir(`agents-${size}`);
        await page.fill('[data-testid="agent-project-input"]', project);
        assert.ok(await fits(page), 'the run form fits');
        await page.click('[data-testid="agent-run-start"]');
        const view = await page.waitForSelector('[data-testid="session-view"][data-session-id]:not([data-session-id=""])');
        const sid = await view.getAttribute('data-session-id');
        await eventually(async () => (await statusOf(page)) === 'success', 'the agent run succeeded');
        assert.ok((await assistantTexts(page)).some((t) => t === 'line 1'), 'the run output is shown');

        // the run history: status, duration, tokens, cost; Open shows the run
        await page.click('[data-testid="agents-tab"]');
        const row = `[data-testid="agent-run-row"][data-session-id="${sid}"]`;
        await page.waitForSelector(`${row}[data-status="success"]`, { timeout: TIMEOUT });
        assert.equal((await page.textContent(`${row} [data-testid="agent-run-tokens"]`)).trim(), '15 tokens');
        assert.equal((await page.textContent(`${row} [data-testid="agent-run-cost"]`)).trim(), '$0.0001');
        assert.match(await page.textContent(`${row} [data-testid="agent-run-duration"]`), /^\d+(\.\d)? s$/);
        assert.ok(await fits(page), 'the history fits');
        mkdirSync(SHOT_DIR, { recursive: true });
        await page.screenshot({ path: join(SHOT_DIR, `${size}-agents.png`), fullPage: true });
        await tall(page, `${row} [data-testid="agent-run-open"]`);
        await page.click(`${row} [data-testid="agent-run-open"]`);
        await page.waitForSelector(`[data-testid="session-view"][data-session-id="${sid}"]`);
        await page.waitForSelector('[data-testid="message-assistant"]:has-text("line 1")');

        // delete asks first; Keep keeps it
        await page.click('[data-testid="agents-tab"]');
        await page.click(`${card(copy)} [data-testid="agent-delete"]`);
        await page.click(`${card(copy)} [data-testid="agent-keep"]`);
        assert.equal(await page.locator(card(copy)).count(), 1);
        await page.click(`${card(copy)} [data-testid="agent-delete"]`);
        await page.click(`${card(copy)} [data-testid="agent-confirm-delete"]`);
        await eventually(async () => (await page.locator(card(copy)).count()) === 0, 'the copy deleted');
        assert.equal(await page.locator(card(name)).count(), 1);
        // the run of the agent stays in the history
        assert.equal(await page.locator(row).count(), 1);
      } finally {
        await ctx.close();
      }
    });
  }
});
