// End-to-end tests of the Files pane in Chromium against the real server, at phone and laptop size: browse,
// ignored files hidden then shown, search, open with highlighting, edit and save, a save refused after the
// file changed on disk, upload, download, delete with confirmation.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, contextFor, fits, projectDir, startSession, startShared, stopShared, SIZES } from './harness.mjs';

let server;

const row = (path) => `[data-testid="files-tree"] [data-testid="files-row"][data-path="${path}"]`;

function makeProject(name) {
  const dir = projectDir(name);
  mkdirSync(join(dir, 'src'), { recursive: true });
  mkdirSync(join(dir, 'build'), { recursive: true });
  writeFileSync(join(dir, '.gitignore'), 'build/\n');
  writeFileSync(join(dir, 'src', 'main.rs'), 'fn main() {\n    println!("hi");\n}\n');
  writeFileSync(join(dir, 'build', 'out.txt'), 'built\n');
  writeFileSync(join(dir, 'logo.bin'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 1]));
  return dir;
}

/** Back to the tree (on a phone the open file covers it). */
async function showTree(page) {
  if (await page.isVisible('[data-testid="files-back"]')) await page.click('[data-testid="files-back"]');
  // the tree shows when no search is typed (on a phone a search may have stayed behind the open file)
  await page.fill('[data-testid="files-search"]', '');
  await page.waitForSelector('[data-testid="files-tree"]');
}

describe('the Files pane in Chromium', { concurrency: 1 }, () => {
  before(async () => {
    ({ server } = await startShared());
  });
  after(stopShared);

  for (const [size, options] of SIZES) {
    it(`browses, searches, edits, refuses a stale save, uploads, downloads and deletes (${size})`, async () => {
      const dir = makeProject(`files-${size}`);
      const context = await contextFor(server, { ...options, acceptDownloads: true });
      const page = await context.newPage();
      await page.goto(`${server.url}/`);
      await startSession(page, dir, 'hello files');
      await page.click('[data-testid="files-button"]');
      await page.waitForSelector('[data-testid="files-pane"]');

      // the tree: ignored entries hidden, then shown, then hidden again
      await page.waitForSelector(row('src'));
      assert.equal(await page.$(row('build')), null, 'build/ is ignored');
      await page.click(row('src'));
      await page.waitForSelector(row('src/main.rs'));
      await page.check('[data-testid="files-show-ignored"]');
      await page.waitForSelector(`${row('build')}`);
      await page.uncheck('[data-testid="files-show-ignored"]');
      await eventually(async () => (await page.$(row('build'))) === null, 'build/ hidden again');
      assert.ok(await fits(page), 'no horizontal scroll');

      // search and open with highlighting
      await page.fill('[data-testid="files-search"]', 'mainrs');
      await page.click('[data-testid="files-hit"][data-path="src/main.rs"]');
      await page.waitForSelector('[data-testid="files-editor"][data-language="Rust"]');
      await eventually(async () => (await page.$$('[data-testid="files-editor"] .cm-line span')).length > 0, 'highlighted tokens');
      // on a phone the open file takes the whole pane (the tree and its search come back with Back)
      if (await page.isVisible('[data-testid="files-search"]')) await page.fill('[data-testid="files-search"]', '');

      // edit and save
      await page.click('[data-testid="files-edit"]');
      await page.click('[data-testid="files-editor"] .cm-content');
      await page.keyboard.press('Control+End');
      await page.keyboard.type('// saved from the browser\n');
      await page.click('[data-testid="files-save"]');
      await page.waitForSelector('[data-testid="files-note"]:has-text("Saved src/main.rs")');
      const main = join(dir, 'src', 'main.rs');
      assert.match(readFileSync(main, 'utf8'), /\/\/ saved from the browser\n$/);

      // the file changes on disk: the next save is refused and the disk keeps the other version
      writeFileSync(main, 'changed by claude\n');
      await page.click('[data-testid="files-editor"] .cm-content'); // Save has the focus: back to the editor
      await page.keyboard.press('Control+End');
      await page.keyboard.type('// mine\n');
      await page.click('[data-testid="files-save"]');
      const conflict = await page.waitForSelector('[data-testid="files-conflict"]');
      assert.match(await conflict.textContent(), /changed on disk since it was opened/);
      assert.equal(readFileSync(main, 'utf8'), 'changed by claude\n');
      assert.ok(await fits(page), 'no horizontal scroll with the editor open');

      // binary files are described, never shown
      await showTree(page);
      await page.click(row('logo.bin'));
      const binary = await page.waitForSelector('[data-testid="files-binary"]');
      assert.match(await binary.textContent(), /Binary file, 8 bytes/);

      // upload into the selected folder
      await showTree(page);
      await page.click(row('src'));
      await page.click(row('src'));
      await page.setInputFiles('[data-testid="files-upload-input"]', [
        { name: 'photo.jpg', mimeType: 'image/jpeg', buffer: Buffer.from([0xff, 0xd8, 0xff, 0xe0]) },
        { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('uploaded notes\n') },
      ]);
      await page.waitForSelector(row('src/notes.txt'));
      assert.equal(readFileSync(join(dir, 'src', 'notes.txt'), 'utf8'), 'uploaded notes\n');
      assert.deepEqual([...readFileSync(join(dir, 'src', 'photo.jpg'))], [0xff, 0xd8, 0xff, 0xe0]);

      // download it
      await page.click(row('src/notes.txt'));
      await page.waitForSelector('[data-testid="files-viewer"][data-path="src/notes.txt"]');
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="files-download"]')]);
      assert.equal(download.suggestedFilename(), 'notes.txt');
      assert.equal(readFileSync(await download.path(), 'utf8'), 'uploaded notes\n');

      // delete asks first; Keep keeps, Delete deletes
      await showTree(page);
      await page.click('[data-testid="files-delete"]');
      await page.click('[data-testid="files-keep"]');
      assert.ok(existsSync(join(dir, 'src', 'notes.txt')));
      await page.click('[data-testid="files-delete"]');
      await page.click('[data-testid="files-confirm-delete"]');
      await eventually(() => !existsSync(join(dir, 'src', 'notes.txt')), 'notes.txt deleted');
      await eventually(async () => (await page.$(row('src/notes.txt'))) === null, 'gone from the tree');
      assert.ok(await fits(page), 'no horizontal scroll');
      await context.close();
    });
  }
});
