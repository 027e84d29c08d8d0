// The Git pane and "what did this turn change", in Chromium against the real server, at phone and laptop
// sizes: a one-shot run of the fake claude writes a file (`@write=PATH`); its turn shows "Changed 1 file"
// with the diff; the pane lists the file, shows its diff, stages, commits, discards after a confirmation,
// switches branch; a folder that is not a repository offers git init. Nothing may scroll the page sideways.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { TIMEOUT, contextFor, eventually, projectDir, startSession, SIZES, fits, statusOf, startShared, stopShared } from './harness.mjs';

let server;
let browser; // eslint-disable-line no-unused-vars
let home; // eslint-disable-line no-unused-vars

const git = (dir, ...args) =>
  execFileSync('git', ['-c', 'user.name=E2E', '-c', 'user.email=e2e@example.invalid', ...args], { cwd: dir, encoding: 'utf8' });

/** A repository with one commit and a local identity (for commits from the pane). */
function repo(name) {
  const dir = projectDir(name);
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.name', 'E2E');
  git(dir, 'config', 'user.email', 'e2e@example.invalid');
  writeFileSync(join(dir, 'a.txt'), 'one\n');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'first');
  return dir;
}

const fileRow = (page, group, path) => page.locator(`[data-testid="git-file"][data-group="${group}"][data-path="${path}"]`);

describe('Git pane and per-turn changes in Chromium', { concurrency: 1 }, () => {
  before(async () => {
    ({ server, browser, home } = await startShared());
  });

  after(stopShared);

  for (const [size, options] of SIZES) {
    it(`${size}: a turn that writes a file shows its change under the turn, and the pane stages, commits, discards and switches`, async () => {
      const dir = repo(`git-${size}`);
      git(dir, 'branch', 'other');
      const ctx = await contextFor(server, options);
      const page = await ctx.newPage();
      await page.goto(`${server.url}/`);
      await startSession(page, dir, `change it @write=made.txt @write=long.txt`);
      await eventually(async () => (await statusOf(page)) === 'success', 'run-status success');
      // a long line must scroll inside the diff box, never the page
      writeFileSync(join(dir, 'long.txt'), `${'x'.repeat(600)}\n`);

      const changes = page.locator('[data-testid="turn-changes"][data-turn="1"]');
      await changes.waitFor({ timeout: TIMEOUT });
      assert.match(await changes.locator('summary').textContent(), /Changed 2 files/);
      await changes.locator('summary').click();
      await changes.locator('[data-testid="diff-view"]:has-text("+fake claude wrote made.txt")').waitFor({ timeout: TIMEOUT });
      assert.ok(await fits(page), `${size}: the turn's diff does not widen the page`);

      await page.click('[data-testid="git-button"]');
      const pane = page.locator('[data-testid="git-pane"]');
      await pane.waitFor();
      await fileRow(page, 'untracked', 'made.txt').waitFor({ timeout: TIMEOUT });
      assert.match(await page.textContent('[data-testid="git-branch"]'), /main/);

      // the diff of a file, with a 600-character line, inside its box
      await fileRow(page, 'untracked', 'long.txt').locator('[data-testid="git-file-open"]').click();
      await fileRow(page, 'untracked', 'long.txt').locator('[data-testid="diff-view"]').waitFor();
      assert.ok(await fits(page), `${size}: a long diff line does not widen the page`);
      const box = await fileRow(page, 'untracked', 'long.txt').locator('[data-testid="diff-view"]').evaluate((el) => ({
        scroll: el.scrollWidth,
        client: el.clientWidth,
      }));
      assert.ok(box.scroll > box.client, 'the diff box scrolls sideways itself');

      // stage, then commit
      await fileRow(page, 'untracked', 'made.txt').locator('[data-testid="git-stage"]').click();
      await fileRow(page, 'staged', 'made.txt').waitFor();
      await page.fill('[data-testid="git-commit-message"]', 'made by the turn');
      await page.click('[data-testid="git-commit"]');
      await page.locator('[data-testid="git-note"]:has-text("Committed")').waitFor();
      assert.equal(git(dir, 'log', '-1', '--format=%s').trim(), 'made by the turn');
      assert.equal(await fileRow(page, 'staged', 'made.txt').count(), 0);

      // discard asks first; "Keep" keeps, "Discard" deletes the untracked file
      await fileRow(page, 'untracked', 'long.txt').locator('[data-testid="git-discard"]').click();
      await page.click('[data-testid="git-discard-no"]');
      assert.ok(existsSync(join(dir, 'long.txt')));
      await fileRow(page, 'untracked', 'long.txt').locator('[data-testid="git-discard"]').click();
      await page.click('[data-testid="git-discard-yes"]');
      await eventually(() => !existsSync(join(dir, 'long.txt')), 'long.txt deleted');

      // a tracked change: discard restores it
      writeFileSync(join(dir, 'a.txt'), 'changed\n');
      await page.click('[data-testid="git-refresh"]');
      await fileRow(page, 'unstaged', 'a.txt').locator('[data-testid="git-discard"]').click();
      await page.click('[data-testid="git-discard-yes"]');
      await page.locator('[data-testid="git-clean"]').waitFor();
      assert.equal(readFileSync(join(dir, 'a.txt'), 'utf8'), 'one\n');

      // branches: switch to the other one
      await page.click('[data-testid="git-branch"]');
      await page.click('[data-testid="git-switch-other"]');
      await eventually(async () => /other/.test(await page.textContent('[data-testid="git-branch"]')), 'switched to other');
      assert.equal(git(dir, 'branch', '--show-current').trim(), 'other');
      assert.ok(await fits(page), `${size}: the pane fits`);
      await ctx.close();
    });

    it(`${size}: a folder that is not a repository offers git init`, async () => {
      const dir = projectDir(`plain-${size}`);
      const ctx = await contextFor(server, options);
      const page = await ctx.newPage();
      await page.goto(`${server.url}/`);
      await startSession(page, dir, 'hello');
      await eventually(async () => (await statusOf(page)) === 'success', 'run-status success');
      assert.equal(await page.locator('[data-testid="turn-changes"]').count(), 0, 'no per-turn diff without a repository');
      await page.click('[data-testid="git-button"]');
      await page.locator('[data-testid="git-not-repo"]').waitFor();
      await page.click('[data-testid="git-init"]');
      await page.locator('[data-testid="git-branch"]').waitFor({ timeout: TIMEOUT });
      assert.ok(existsSync(join(dir, '.git')));
      assert.ok(await fits(page));
      await ctx.close();
    });
  }
});
