// Slash commands and live settings in Chromium against the real server, at phone and laptop sizes:
// a `/` at the start of the prompt opens a menu with the project's command (and its description), the
// user's and claude's built-ins; it filters as you type, the keyboard (↑ ↓ Enter Esc) and a tap work, and
// choosing fills the composer with `/name ` with the cursor after it. In a live session the model and
// mode switch between turns (disabled while a turn runs); the transcript says so and the next turn's
// init names the new model. Nothing may scroll the page sideways.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHOT_DIR, TIMEOUT, contextFor, eventually, projectDir, startSession, SIZES, fits, statusOf, startShared, stopShared } from './harness.mjs';

let server;
let home;

const menu = (page) => page.locator('[data-testid="slash-menu"]');
const items = (page) => page.locator('[data-testid="slash-item"]');
const activeName = (page) => page.getAttribute('[data-testid="slash-item"][aria-selected="true"]', 'data-name');
const promptValue = (page) => page.inputValue('[data-testid="prompt-input"]');

describe('slash commands and live settings in Chromium', { concurrency: 1 }, () => {
  before(async () => {
    ({ server, home } = await startShared());
  });

  after(stopShared);

  for (const [size, options] of SIZES) {
    it(`${size}: / lists the project's command with its description; filter, keyboard and tap fill the composer`, async () => {
      const dir = projectDir(`slash-${size}`);
      mkdirSync(join(dir, '.claude/commands/team'), { recursive: true });
      writeFileSync(
        join(dir, '.claude/commands/team/greet.md'),
        `---\ndescription: Greet the team on ${size}\nargument-hint: <name>\n---\nSay hello to $ARGUMENTS\n`,
      );
      mkdirSync(join(home, '.claude/commands'), { recursive: true });
      writeFileSync(join(home, '.claude/commands', `standup-${size}.md`), `Write the standup for ${size}\n`);

      const ctx = await contextFor(server, options);
      const page = await ctx.newPage();
      await page.goto(`${server.url}/`);
      await page.click('[data-testid="new-tab"]');
      await page.fill('[data-testid="project-path-input"]', dir);

      // the menu opens on "/" and shows every source
      await page.fill('[data-testid="prompt-input"]', '/');
      await menu(page).waitFor({ timeout: TIMEOUT });
      const greet = page.locator('[data-testid="slash-item"][data-name="team:greet"]');
      await greet.waitFor({ timeout: TIMEOUT });
      assert.equal(await greet.getAttribute('data-source'), 'project');
      assert.match(await greet.textContent(), new RegExp(`Greet the team on ${size}`));
      assert.match(await greet.textContent(), /<name>/);
      await page.locator(`[data-testid="slash-item"][data-name="standup-${size}"][data-source="user"]`).waitFor();
      await page.locator('[data-testid="slash-item"][data-name="compact"][data-source="builtin"]').waitFor();
      assert.equal(await page.locator('[data-testid="slash-item"][data-name="config"]').count(), 0, 'no interactive-only command');
      assert.ok(await fits(page), `${size}: the menu does not widen the page`);
      const [height, why] = await greet.evaluate((el) => {
        const st = getComputedStyle(el);
        return [el.getBoundingClientRect().height, `${st.display} min-height ${st.minHeight} ${el.parentElement.outerHTML.slice(0, 300)}`];
      });
      assert.ok(height >= 44, `${size}: a row is a 44 px tap target (${height}; ${why})`);
      mkdirSync(SHOT_DIR, { recursive: true });
      await page.screenshot({ path: join(SHOT_DIR, `slash-menu-${size}.png`) });

      // it filters as you type; ↑ ↓ move, Enter chooses: "/name " with the cursor after it
      await page.fill('[data-testid="prompt-input"]', '/gree');
      await eventually(async () => (await items(page).count()) >= 1 && (await activeName(page)) === 'team:greet', 'filtered to greet');
      await page.fill('[data-testid="prompt-input"]', '/c');
      await eventually(async () => (await items(page).count()) >= 2, 'several matches for /c');
      const first = await activeName(page);
      await page.keyboard.press('ArrowDown');
      const second = await activeName(page);
      assert.notEqual(second, first, 'ArrowDown moves');
      await page.keyboard.press('ArrowUp');
      assert.equal(await activeName(page), first, 'ArrowUp moves back');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      assert.equal(await promptValue(page), `/${second} `);
      assert.equal(await menu(page).count(), 0, 'the menu closed');
      const caret = await page.$eval('[data-testid="prompt-input"]', (t) => [t.selectionStart, t.value.length, document.activeElement === t]);
      assert.deepEqual(caret, [`/${second} `.length, `/${second} `.length, true], 'the cursor is after the command');

      // Esc closes it
      await page.fill('[data-testid="prompt-input"]', '/');
      await menu(page).waitFor();
      await page.keyboard.press('Escape');
      await eventually(async () => (await menu(page).count()) === 0, 'Esc closed the menu');
      assert.equal(await promptValue(page), '/', 'Esc leaves the text');

      // a tap (phone) or click (laptop) chooses
      await page.fill('[data-testid="prompt-input"]', '/team');
      await greet.waitFor();
      if (options.hasTouch) await greet.tap();
      else await greet.click();
      assert.equal(await promptValue(page), '/team:greet ');
      assert.equal(await menu(page).count(), 0);
      await ctx.close();
    });

    it(`${size}: the model switched between turns shows in the transcript and in the next turn's init`, async () => {
      const dir = projectDir(`settings-${size}`);
      const ctx = await contextFor(server, options);
      const page = await ctx.newPage();
      await page.goto(`${server.url}/`);
      await startSession(page, dir, 'first', { live: true });
      await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: first (turn 1)")');
      const model = page.locator('[data-testid="live-model-select"]');
      const mode = page.locator('[data-testid="live-mode-select"]');
      await eventually(async () => !(await model.isDisabled()), 'the model select is enabled between turns');
      await page.waitForSelector('[data-testid="system-init"]:has-text("claude-fake-1")');

      await model.selectOption('opus');
      await page.waitForSelector('[data-testid="settings-changed"]:has-text("Model changed to opus")');
      assert.equal(await model.inputValue(), 'opus', 'the bar follows the change');
      await mode.selectOption('plan');
      await page.waitForSelector('[data-testid="settings-changed"]:has-text("Permission mode: plan")');
      await eventually(async () => /live \(plan\)/.test(await page.textContent('[data-testid="session-id"]')), 'the bar shows the mode');
      assert.ok(await fits(page), `${size}: the settings do not widen the page`);
      await page.screenshot({ path: join(SHOT_DIR, `live-settings-${size}.png`) });

      // a turn that takes a while: the selects are disabled while it runs
      await page.fill('[data-testid="prompt-input"]', 'second @lines=4 @delay=300');
      await page.click('[data-testid="send-button"]');
      await eventually(async () => await model.isDisabled(), 'disabled during the turn');
      assert.ok(await mode.isDisabled());
      await page.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: second (turn 2)")');
      await page.waitForSelector('[data-testid="system-init"]:has-text("opus")');
      await eventually(async () => !(await model.isDisabled()), 'enabled again after the turn');

      await page.click('[data-testid="end-button"]');
      await eventually(async () => (await statusOf(page)) === 'success', 'ended');
      await ctx.close();
    });
  }
});
