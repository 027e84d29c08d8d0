// End-to-end tests of the Usage view in Chromium against the real server, at phone and laptop size, with
// Claude transcripts placed in the server's HOME (lines derived from one the genuine CLI wrote).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, fits, LAPTOP, PHONE, startShared, stopShared, TIMEOUT } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const GENUINE = resolve(
  here,
  '../../crates/opcode-testkit/fixtures/claude-cli/transcripts/-home-dev-project/11111111-2222-4333-8444-555555555555.jsonl',
);

let server;
let browser;
let home;

/** The genuine CLI's first assistant line, as a template. */
const template = () =>
  readFileSync(GENUINE, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .find((v) => v.type === 'assistant');

function assistant(session, id, ts, model, [input, output, cacheWrite, cacheRead]) {
  const v = template();
  delete v.cwd;
  Object.assign(v, { sessionId: session, timestamp: ts, requestRef: `req-${id}`, uuid: `u-${id}` });
  Object.assign(v.message, { id, model });
  Object.assign(v.message.usage, {
    input_tokens: input,
    output_tokens: output,
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
  });
  return `${JSON.stringify(v)}\n`;
}

const user = (session, cwd, ts) =>
  `${JSON.stringify({ type: 'user', sessionId: session, cwd, timestamp: ts, message: { role: 'user', content: 'hi' } })}\n`;

function transcript(project, session) {
  const dir = join(home, '.claude', 'projects', project);
  mkdirSync(dir, { recursive: true });
  return join(dir, `${session}.jsonl`);
}

const daysAgo = (n) => new Date(Date.now() - n * 86_400_000).toISOString();
const S1 = 'cccccccc-0000-4000-8000-000000000001';
const S2 = 'cccccccc-0000-4000-8000-000000000002';
const S3 = 'cccccccc-0000-4000-8000-000000000003';

const text = (page, id) => page.textContent(`[data-testid="${id}"]`);

async function openUsage(size) {
  const ctx = await browser.newContext(size);
  const page = await ctx.newPage();
  await page.goto(`${server.url}/?token=${server.token}`);
  await page.click('[data-testid="usage-tab"]');
  await page.waitForSelector('[data-testid="usage-view"]');
  return { ctx, page };
}

describe('the Usage view in Chromium', { concurrency: 1 }, () => {
  before(async () => {
    ({ server, browser, home } = await startShared());
    const app = transcript('-work-app', S1);
    appendFileSync(app, user(S1, '/work/app', daysAgo(0)));
    appendFileSync(app, assistant(S1, 'm1', daysAgo(0), 'claude-sonnet-4-5-20250929', [1000, 2000, 0, 0]));
    // the CLI writes one line per content block: the same message again, counted once
    appendFileSync(app, assistant(S1, 'm1', daysAgo(0), 'claude-sonnet-4-5-20250929', [1000, 2000, 0, 0]));
    const lib = transcript('-work-lib', S2);
    appendFileSync(lib, user(S2, '/work/lib', daysAgo(2)));
    appendFileSync(lib, assistant(S2, 'm2', daysAgo(2), 'claude-haiku-4-5-20251001', [500, 500, 0, 0]));
    const old = transcript('-work-old', S3);
    appendFileSync(old, user(S3, '/work/old', daysAgo(40)));
    appendFileSync(old, assistant(S3, 'm3', daysAgo(40), 'claude-opus-4-1-20250805', [1_000_000, 0, 0, 0]));
  });

  after(stopShared);

  for (const [name, size] of [
    ['phone', PHONE],
    ['laptop', LAPTOP],
  ]) {
    it(`${name}: totals, a chart by day, tables, periods and the CSV, with no sideways scroll`, async () => {
      const { ctx, page } = await openUsage(size);
      // 30 days by default: today's sonnet message once ($0.033) and the haiku one ($0.003)
      await eventually(async () => (await text(page, 'usage-total-cost')) === '$0.04', 'the 30-day cost');
      assert.equal(await text(page, 'usage-total-sessions'), '2');
      assert.equal(await text(page, 'usage-total-messages'), '2');
      assert.equal(await text(page, 'usage-input'), '1.5k');
      assert.equal(await text(page, 'usage-output'), '2.5k');
      await page.waitForSelector('[data-testid="usage-chart"][data-state="ready"]', { timeout: TIMEOUT });
      const bars = await page.$eval('[data-testid="usage-chart"] canvas', (c) => c.getBoundingClientRect().width);
      assert.ok(bars > 300, `the chart uses the width it has (${bars} px)`);
      const projects = await page.$$eval('[data-testid="usage-projects"] [data-testid="usage-row"]', (rows) =>
        rows.map((r) => r.getAttribute('data-key')),
      );
      assert.deepEqual(projects, ['-work-app', '-work-lib']);
      const models = await page.$$eval('[data-testid="usage-models"] [data-testid="usage-row"]', (rows) =>
        rows.map((r) => r.getAttribute('data-key')),
      );
      assert.deepEqual(models, ['claude-sonnet-4-5-20250929', 'claude-haiku-4-5-20251001']);
      assert.ok(await fits(page), 'no horizontal scroll');
      for (const id of ['usage-preset-7d', 'usage-preset-all', 'usage-csv', 'usage-tab']) {
        const box = await page.$eval(`[data-testid="${id}"]`, (e) => e.getBoundingClientRect().height);
        assert.ok(box >= 44, `${id} is a tap target (${box} px)`);
      }

      // all time: the old opus session too
      await page.click('[data-testid="usage-preset-all"]');
      await eventually(async () => (await text(page, 'usage-total-cost')) === '$15.04', 'the all-time cost');
      assert.equal(await text(page, 'usage-total-sessions'), '3');
      await page.click('[data-testid="usage-metric-tokens"]');
      await page.waitForSelector('[data-testid="usage-chart"][data-state="ready"]');
      assert.ok(await fits(page), 'no horizontal scroll with 41 days of bars');

      // the CSV of the period, as a download
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="usage-csv"]')]);
      assert.equal(download.suggestedFilename().endsWith('.csv'), true, download.suggestedFilename());
      const csv = readFileSync(await download.path(), 'utf8').trim().split('\n');
      assert.match(csv[0], /^date,project_path,session_id,model,messages,/);
      assert.equal(csv.length, 4, csv.join('\n'));
      await ctx.close();
    });
  }

  it('phone: dates the server would refuse are caught first; a new run shows up on refresh', async () => {
    const { ctx, page } = await openUsage(PHONE);
    await eventually(async () => (await text(page, 'usage-total-sessions')) === '2', 'the first report');
    await page.fill('[data-testid="usage-from"]', '2026-03-02');
    await page.fill('[data-testid="usage-to"]', '2026-03-01');
    await page.click('[data-testid="usage-apply-dates"]');
    assert.match(await text(page, 'usage-dates-error'), /on or before/);

    // a new run of the lib session, written while the view is open
    appendFileSync(transcript('-work-lib', S2), assistant(S2, 'm4', daysAgo(0), 'claude-haiku-4-5-20251001', [0, 10_000, 0, 0]));
    await page.click('[data-testid="usage-refresh"]');
    await eventually(async () => (await text(page, 'usage-total-messages')) === '3', 'the new run counted');
    assert.equal(await text(page, 'usage-output'), '12.5k');

    // the view has an address of its own
    await page.reload();
    await page.waitForSelector('[data-testid="usage-view"]');
    assert.ok(page.url().endsWith('#usage'), page.url());
    await ctx.close();
  });
});
