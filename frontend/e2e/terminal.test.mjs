// The Terminal pane in Chromium, at phone and laptop size, against the real server: type a command and
// see its output, colours, Ctrl-C from the extra key row, reload and reattach to the same screen, close
// and the shell is gone; and a server started with --no-terminal offers none.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  SHOT_DIR, TIMEOUT, startShared, stopShared, eventually, projectDir, startSession, statusOf, fits, SIZES, ownHome, launchServer, killServer, contextFor,
} from './harness.mjs';

let server;
let browser;

/** The text on the terminal's screen (xterm.js's DOM rows). */
const screenText = (page) => page.locator('[data-testid="terminal-screen"] .xterm-rows').innerText();

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Pids of processes whose command line is exactly `cmdline` (words joined by spaces). */
function pidsOf(cmdline) {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() === cmdline;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Pids of the processes working in `dir`. */
function pidsIn(dir) {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/cwd`) === dir;
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function typeInTerminal(page, text) {
  await page.click('[data-testid="terminal-screen"]');
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

async function openTerminal(page) {
  await page.click('[data-testid="terminal-button"]');
  await page.waitForSelector('[data-testid="terminal-pane"][data-phase="open"]', { timeout: TIMEOUT });
  return page.getAttribute('[data-testid="terminal-pane"]', 'data-terminal-id');
}

describe('the Terminal pane in Chromium', { concurrency: 1 }, () => {
  before(async () => {
    ({ server, browser } = await startShared());
  });

  after(stopShared);

  for (const [size, options] of SIZES) {
    it(`at ${size} size: type and see, colours, Ctrl-C from the key row, reload reattaches, close kills the shell`, async () => {
      const context = await browser.newContext(options);
      const page = await context.newPage();
      await page.goto(`${server.url}/?token=${server.token}`);
      const dir = projectDir(`terminal-${size}`);
      await startSession(page, dir, 'hello terminal');
      await eventually(async () => (await statusOf(page)) === 'success', 'the run finished');

      const id = await openTerminal(page);
      assert.match(id, /^[0-9a-f]{32}$/);
      await typeInTerminal(page, 'pwd; echo hi-$((6*7))');
      await eventually(async () => (await screenText(page)).includes('hi-42'), 'the output of echo');
      assert.ok((await screenText(page)).includes(dir), 'the shell started in the project folder');

      // colours: xterm.js draws SGR 31 as its red class
      await typeInTerminal(page, "printf '\\033[31mRED-%s\\033[0m\\n' $((2*5))");
      await eventually(
        async () => (await page.locator('[data-testid="terminal-screen"] .xterm-rows span.xterm-fg-1', { hasText: 'RED-10' }).count()) > 0,
        'red text',
      );

      // Ctrl-C from the extra key row interrupts a foreground sleep; the shell goes on
      const nap = size === 'phone' ? 'sleep 1004' : 'sleep 1005';
      await typeInTerminal(page, nap);
      const sleepers = await eventually(async () => pidsOf(nap).length && pidsOf(nap), `${nap} running`);
      await page.click('[data-testid="key-ctrl"]');
      assert.equal(await page.getAttribute('[data-testid="key-ctrl"]', 'aria-pressed'), 'true');
      await page.keyboard.type('c');
      await eventually(async () => sleepers.every((p) => !alive(p)), 'the sleep was interrupted');
      await typeInTerminal(page, 'echo back-$((1+2))');
      await eventually(async () => (await screenText(page)).includes('back-3'), 'the shell took the next line');
      if (size === 'phone') assert.ok(await fits(page), 'the pane fits 390 px');
      await page.screenshot({ path: join(SHOT_DIR, `terminal-${size}.png`) });

      // the terminal's shell: the one process whose folder is the project (the browser never sees a pid)
      const [shell] = pidsIn(dir);
      assert.ok(shell && alive(shell), `a shell in ${dir}`);

      // reload: the same terminal, its screen drawn again
      await page.reload();
      await page.waitForSelector('[data-testid="session-view"]');
      assert.equal(await openTerminal(page), id, 'the same terminal');
      await eventually(async () => (await screenText(page)).includes('back-3'), 'the screen after reattaching');
      await typeInTerminal(page, 'echo again-$((3+4))');
      await eventually(async () => (await screenText(page)).includes('again-7'), 'it goes on after reattaching');

      // close: the shell is gone
      await page.click('[data-testid="terminal-close"]');
      await page.waitForSelector('[data-testid="terminal-pane"][data-phase="closed"]');
      await eventually(async () => !alive(shell), 'the shell was killed');
      const left = await page.evaluate(async () => (await (await fetch('/api/terminals')).json()).data.length);
      assert.equal(left, 0, 'no terminal left');
      await context.close();
    });
  }

  it('a server started with --no-terminal offers no terminal', async () => {
    const own = await launchServer({ home: ownHome(), token: randomBytes(16).toString('hex'), args: ['--no-terminal'] });
    try {
      const context = await contextFor(own);
      const page = await context.newPage();
      await page.goto(`${own.url}/`);
      await startSession(page, projectDir('no-terminal', own.home), 'hello');
      await eventually(async () => (await statusOf(page)) === 'success', 'the run finished');
      const answer = await page.evaluate(async () => {
        const r = await fetch('/api/terminals');
        return { status: r.status, body: await r.json() };
      });
      assert.equal(answer.status, 403);
      assert.match(answer.body.error, /--no-terminal/);
      assert.equal(await page.locator('[data-testid="terminal-button"]').count(), 0, 'no Terminal button');
      await context.close();
    } finally {
      await killServer(own, 'SIGTERM');
    }
  });
});
