// End-to-end tests of the project panes (CLAUDE.md, MCP servers) and a session's timeline (fork, restore
// files), in Chromium at phone and laptop size, against the real server with the fake claude (see
// harness.mjs). The genuine CLI's behaviour is covered by bins/opcode-web/tests/panes_genuine.rs.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FAKE_CLAUDE, SHOT_DIR, SIZES, eventually, fits, projectDir, startSession, statusOf, startShared, stopShared } from './harness.mjs';

let server;
let browser;
let home;

const FAKE_MCP = join(FAKE_CLAUDE, '..', 'fake-mcp-server');

describe('project panes in Chromium', { concurrency: 1 }, () => {
  before(async () => {
    ({ server, browser, home } = await startShared());
    mkdirSync(SHOT_DIR, { recursive: true });
  });

  after(stopShared);

  async function pageAt(size) {
    const context = await browser.newContext(size);
    const page = await context.newPage();
    await page.goto(`${server.url}/?token=${server.token}`);
    await page.waitForSelector('[data-testid="project-path-input"]');
    return { page, context };
  }

  /** Chooses a project in "New session" and opens one of its panes from the sidebar. */
  async function openPane(page, dir, button) {
    await page.fill('[data-testid="project-path-input"]', dir);
    await page.click(`[data-testid="${button}"]`);
  }

  for (const [name, size] of SIZES) {
    it(`CLAUDE.md: create, preview, edit, and a save over a changed file is refused (${name})`, async () => {
      const { page, context } = await pageAt(size);
      const dir = projectDir(`md-${name}`);
      mkdirSync(join(dir, 'docs'), { recursive: true });
      writeFileSync(join(dir, 'docs', 'CLAUDE.md'), '# Docs rules\n\n- **bold** item\n');
      await openPane(page, dir, 'open-claude-md');
      await page.waitForSelector('[data-testid="claude-md-pane"]');
      const files = await page.$$eval('[data-testid="claude-md-file"]', (els) => els.map((e) => `${e.dataset.scope}:${e.dataset.path}:${e.dataset.exists}`));
      assert.deepEqual(files, ['user:CLAUDE.md:false', 'project:CLAUDE.md:false', 'project:docs/CLAUDE.md:true']);
      assert.ok(await fits(page), 'the pane fits');

      // the nested file renders as Markdown
      await page.click('[data-testid="claude-md-file"][data-path="docs/CLAUDE.md"]');
      await page.waitForSelector('[data-testid="claude-md-preview"] strong:has-text("bold")');

      // create the project's CLAUDE.md
      await page.click('[data-testid="claude-md-file"][data-scope="project"][data-path="CLAUDE.md"]');
      await page.waitForSelector('[data-testid="claude-md-text"]');
      await page.fill('[data-testid="claude-md-text"]', '# Project\n\nUse *tabs*.\n');
      await page.click('[data-testid="claude-md-save"]');
      await page.waitForSelector('[data-testid="claude-md-note"]:has-text("Created")');
      await page.waitForSelector('[data-testid="claude-md-preview"] em:has-text("tabs")');
      assert.equal(readFileSync(join(dir, 'CLAUDE.md'), 'utf8'), '# Project\n\nUse *tabs*.\n');

      // edit while claude changes the file on disk: refused, the text kept; Reload shows the disk
      await page.click('[data-testid="claude-md-edit"]');
      await page.fill('[data-testid="claude-md-text"]', '# Mine\n');
      writeFileSync(join(dir, 'CLAUDE.md'), '# Changed by claude\n');
      await page.click('[data-testid="claude-md-save"]');
      await page.waitForSelector('[data-testid="claude-md-save-error"]:has-text("changed on disk")');
      assert.equal(await page.inputValue('[data-testid="claude-md-text"]'), '# Mine\n', 'the typed text is kept');
      assert.equal(readFileSync(join(dir, 'CLAUDE.md'), 'utf8'), '# Changed by claude\n', 'nothing overwritten');
      await page.click('[data-testid="claude-md-reload"]');
      await page.waitForSelector('[data-testid="claude-md-preview"]:has-text("Changed by claude")');
      assert.ok(await fits(page), 'still fits');
      await page.screenshot({ path: join(SHOT_DIR, `claude-md-${name}.png`) });
      await context.close();
    });

    it(`MCP servers: add a command, test it, paste JSON, import Claude Desktop, remove (${name})`, async () => {
      const { page, context } = await pageAt(size);
      const dir = projectDir(`mcp-${name}`);
      await openPane(page, dir, 'open-mcp');
      await page.waitForSelector('[data-testid="mcp-pane"]');
      const server1 = `echo-${name}`;
      // a stdio server, local to the project
      await page.click('[data-testid="mcp-add-open"]');
      await page.fill('[data-testid="mcp-name"]', server1);
      await page.fill('[data-testid="mcp-command"]', FAKE_MCP);
      await page.fill('[data-testid="mcp-args"]', '--tool\nextra');
      await page.fill('[data-testid="mcp-env"]', 'TOKEN=abc');
      assert.ok(await fits(page), 'the form fits');
      await page.click('[data-testid="mcp-add-submit"]');
      const row = `[data-testid="mcp-server"][data-name="${server1}"][data-scope="local"]`;
      await page.waitForSelector(row);
      const config = JSON.parse(readFileSync(join(home, '.claude.json'), 'utf8'));
      assert.equal(config.projects[dir].mcpServers[server1].env.TOKEN, 'abc', "written to claude's own file");
      // test: it starts and lists its tools
      await page.click(`${row} [data-testid="mcp-test"]`);
      await page.waitForSelector(`${row} [data-testid="mcp-test-result"][data-ok="true"]`);
      const tools = await page.$$eval(`${row} [data-testid="mcp-tools"] code`, (els) => els.map((e) => e.textContent));
      assert.deepEqual(tools, ['echo', 'extra']);
      // pasted JSON, in the user's scope
      await page.click('[data-testid="mcp-add-open"]');
      await page.click('[data-testid="mcp-mode-json"]');
      await page.selectOption('[data-testid="mcp-scope"]', 'user');
      await page.fill('[data-testid="mcp-name"]', `web-${name}`);
      await page.fill('[data-testid="mcp-json"]', '{"type": "http", "url": "http://127.0.0.1:9/mcp"}');
      await page.click('[data-testid="mcp-add-submit"]');
      await page.waitForSelector(`[data-testid="mcp-server"][data-name="web-${name}"][data-scope="user"]`);
      // a bad configuration says why
      await page.click('[data-testid="mcp-add-open"]');
      await page.click('[data-testid="mcp-mode-json"]');
      await page.fill('[data-testid="mcp-name"]', 'bad');
      await page.fill('[data-testid="mcp-json"]', '{"type": "http"}');
      await page.click('[data-testid="mcp-add-submit"]');
      await page.waitForSelector('[data-testid="mcp-add-error"]:has-text("url")');
      // import a Claude Desktop config file
      const desktop = join(dir, 'claude_desktop_config.json');
      writeFileSync(desktop, JSON.stringify({ mcpServers: { [`desk-${name}`]: { command: FAKE_MCP, args: [] } } }));
      await page.click('[data-testid="mcp-mode-desktop"]');
      await page.setInputFiles('[data-testid="mcp-desktop-file"]', desktop);
      await page.waitForSelector(`[data-testid="mcp-server"][data-name="desk-${name}"]`);
      await page.waitForSelector(`[data-testid="mcp-note"]:has-text("Imported desk-${name}")`);
      // remove, with a confirmation
      await page.click(`${row} [data-testid="mcp-remove"]`);
      await page.click(`${row} [data-testid="mcp-remove-confirm"]`);
      await eventually(async () => (await page.locator(row).count()) === 0, 'removed from the list');
      const after = JSON.parse(readFileSync(join(home, '.claude.json'), 'utf8'));
      assert.equal(after.projects[dir].mcpServers[server1], undefined, 'gone from the file');
      assert.ok(await fits(page), 'still fits');
      await page.screenshot({ path: join(SHOT_DIR, `mcp-${name}.png`) });
      await context.close();
    });

    it(`Timeline: turns with their tools; fork after a turn opens the new session; no checkpoint says so (${name})`, async () => {
      const { page, context } = await pageAt(size);
      const dir = projectDir(`timeline-${name}`);
      const sid = await startSession(page, dir, 'first step @tool');
      await eventually(async () => (await statusOf(page)) === 'success', 'first run done');
      await page.click('[data-testid="timeline-button"]');
      await page.waitForSelector('[data-testid="timeline-turn"]');
      const prompts = await page.$$eval('[data-testid="timeline-turn"] .timeline-prompt .pre-wrap', (els) => els.map((e) => e.textContent));
      assert.deepEqual(prompts, ['first step @tool']);
      assert.ok(await fits(page), 'the timeline fits');
      // the fake claude keeps no checkpoints: restoring says so
      await page.click('[data-testid="timeline-rewind"]');
      await page.waitForSelector('[data-testid="rewind-none"]:has-text("No file checkpoint")');
      // fork after the turn: a new session opens and runs the prompt
      await page.click('[data-testid="timeline-fork"]');
      await page.fill('[data-testid="fork-prompt"]', 'forked step');
      await page.click('[data-testid="fork-submit"]');
      await eventually(async () => {
        const id = await page.getAttribute('[data-testid="session-view"]', 'data-session-id');
        return id && id !== sid;
      }, 'the fork opened in its own tab');
      await page.waitForSelector('[data-testid="message-assistant"]:has-text("forked step")');
      assert.ok(existsSync(join(home, '.claude', 'projects')), 'transcripts exist');
      assert.ok(await fits(page), 'still fits');
      await page.screenshot({ path: join(SHOT_DIR, `timeline-${name}.png`) });
      await context.close();
    });
  }
});
