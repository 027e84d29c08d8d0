// opcode-web as replicas of a cluster, in Chromium at phone and laptop size, as a new user runs it on one
// machine: a real nats-server with JetStream (NATS_SERVER_BIN), one opcode-worker running the fake claude,
// and two opcode-web replicas (`--nats-url`) sharing the machine's project folders and Claude's files. A run
// started on replica 1 streams and finishes as on a server on its own, and replica 2 shows the same
// transcript; a live session started on replica 1 waits for an approval that replica 2's page (opened from
// the session's address) allows, and the tool runs.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  SERVER_BIN, FAKE_CLAUDE, SIZES, startShared, stopShared, launchServer, killServer, contextFor, eventually, statusOf, connOf, assistantTexts, userBubbles, fits, noClaudeLeft, waitOrExplain,
} from './harness.mjs';

const NATS_SERVER = process.env.NATS_SERVER_BIN;
const WORKER_BIN = join(dirname(SERVER_BIN), 'opcode-worker');

let browser;
let root; // every folder of this file: NATS's store, the worker's data, the replicas' homes, Claude's files, projects
let nats; // { proc, exited, url, output }
let worker; // { proc, exited, output }
const replicas = [];

/** A free loopback port (the OS picks one; nats-server needs a number). */
function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/** Spawns `bin` with `args`, collecting its output; `exited` resolves with how it ended. */
function spawnChild(bin, args, env) {
  const proc = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const child = { proc, output: '' };
  child.exited = new Promise((ok) => proc.on('exit', (code, signal) => ok({ code, signal })));
  proc.stdout.on('data', (d) => {
    child.output += d;
  });
  proc.stderr.on('data', (d) => {
    child.output += d;
  });
  return child;
}

const running = (child) => child && child.proc.exitCode === null && child.proc.signalCode === null;

/** Stops a child with SIGTERM and waits until it is gone (SIGKILL if it has not gone in 10 s). */
async function stopChild(child) {
  if (!child) return;
  if (running(child)) child.proc.kill('SIGTERM');
  const timer = setTimeout(() => running(child) && child.proc.kill('SIGKILL'), 10_000);
  await child.exited;
  clearTimeout(timer);
}

process.on('exit', () => {
  for (const child of [worker, nats]) if (running(child)) child.proc.kill('SIGKILL');
});

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
const accepts = (port) =>
  new Promise((ok) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      ok(true);
    });
    socket.on('error', () => ok(false));
  });

async function startNats() {
  if (!NATS_SERVER) throw new Error('NATS_SERVER_BIN is not set: the cluster e2e tests need a nats-server 2.11+ binary (cargo xtask test installs one under target/tools/nats)');
  if (!existsSync(NATS_SERVER)) throw new Error(`NATS_SERVER_BIN: no nats-server at ${NATS_SERVER}`);
  const [port, monitor] = [await freePort(), await freePort()];
  const store = join(root, 'nats');
  mkdirSync(store);
  const child = spawnChild(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitor), '-js', '-sd', store], {});
  child.url = `nats://127.0.0.1:${port}`;
  nats = child;
  await eventually(async () => {
    if (!running(child)) throw new Error(`nats-server exited: ${child.output}`);
    if (!(await accepts(port))) return false;
    const res = await fetch(`http://127.0.0.1:${monitor}/healthz?js-enabled-only=true`);
    return res.ok;
  }, `nats-server with JetStream on port ${port}`, 30_000);
}

async function startWorker(claudeDir) {
  if (!existsSync(WORKER_BIN)) throw new Error(`opcode-worker not found at ${WORKER_BIN} (next to OPCODE_WEB_BIN)`);
  const data = join(root, 'worker');
  mkdirSync(data);
  const args = ['--nats-url', nats.url, '--worker-id', 'e2e-w1', '--data-dir', data, '--claude-bin', FAKE_CLAUDE, '--lease-ttl', '2'];
  worker = spawnChild(WORKER_BIN, args, { CLAUDE_CONFIG_DIR: claudeDir, HOME: join(root, 'worker-home') });
  await eventually(() => {
    if (!running(worker)) throw new Error(`opcode-worker exited: ${worker.output}`);
    return worker.output.includes('serving');
  }, 'opcode-worker serving', 30_000);
}

/** A project folder on this machine (the worker and both replicas see the same folders). */
function project(name) {
  const dir = join(root, 'projects', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Types a prompt on the home view and starts a session; returns its id. */
async function start(page, dir, prompt, live) {
  await page.click('[data-testid="new-tab"]');
  await page.fill('[data-testid="project-path-input"]', dir);
  await page.setChecked('[data-testid="live-toggle"]', live);
  await page.fill('[data-testid="prompt-input"]', prompt);
  await page.click('[data-testid="send-button"]');
  const view = await page.waitForSelector('[data-testid="session-view"][data-session-id]:not([data-session-id=""])');
  return view.getAttribute('data-session-id');
}

describe('opcode-web as replicas of a cluster, in Chromium', { concurrency: 1 }, () => {
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'opcode-e2e-cluster-'));
    ({ browser } = await startShared());
    await startNats();
    const claudeDir = join(root, 'claude'); // Claude's files of this machine, for the worker's claude and the replicas
    mkdirSync(claudeDir);
    await startWorker(claudeDir);
    const token = randomBytes(16).toString('hex'); // replicas behind one proxy share the token
    for (const name of ['replica-1', 'replica-2']) {
      const home = join(root, name);
      mkdirSync(join(home, 'data'), { recursive: true });
      replicas.push(await launchServer({ home, token, args: ['--nats-url', nats.url], env: { CLAUDE_CONFIG_DIR: claudeDir } }));
    }
  });

  after(async () => {
    try {
      if (root) await noClaudeLeft(root);
    } finally {
      for (const r of replicas.splice(0)) await killServer(r, 'SIGTERM');
      await stopChild(worker);
      await stopChild(nats);
      await stopShared();
      if (root) rmSync(root, { recursive: true, force: true });
    }
  });

  for (const [size, device] of SIZES) {
    it(`${size}: a run started on replica 1 streams and finishes; replica 2 shows the same transcript`, async () => {
      const [one, two] = replicas;
      const dir = project(`hello-${size}`);
      const ctx1 = await contextFor(one, device);
      const ctx2 = await contextFor(two, device);
      try {
        const page = await ctx1.newPage();
        await page.goto(`${one.url}/`);
        // the home view says what the replica runs on: one worker (and no run yet, or the other size's)
        const cluster = await page.waitForSelector('[data-testid="cluster-status"]');
        assert.match(await cluster.textContent(), /^Cluster: 1 worker · \d+ runs? in progress$/);
        const sid = await start(page, dir, `hello ${size} @lines=3 @delay=100`, false);
        assert.match(sid, /^[0-9a-f-]{36}$/);
        await waitOrExplain(page, '[data-testid="message-assistant"]:has-text("line 2")', one.url);
        await eventually(async () => (await statusOf(page)) === 'success', 'run-status success on replica 1');
        await page.waitForSelector('[data-testid="result-summary"]');
        await eventually(async () => (await connOf(page)) === 'closed', 'conn-state closed after the run');
        const lines = (await assistantTexts(page)).filter((t) => /^line \d+$/.test(t));
        assert.deepEqual(lines, ['line 0', 'line 1', 'line 2'], 'each streamed line once, in order');
        assert.deepEqual(await userBubbles(page), [`hello ${size} @lines=3 @delay=100`]);
        assert.ok(await fits(page), 'no horizontal scroll on replica 1');

        // replica 2, from the session's address (a shared link, a notification): the same transcript
        const other = await ctx2.newPage();
        await other.goto(`${two.url}/#session=${sid}`);
        await other.waitForSelector(`[data-testid="session-view"][data-session-id="${sid}"]`);
        await waitOrExplain(other, '[data-testid="result-summary"]', two.url);
        await eventually(async () => (await statusOf(other)) === 'success', 'run-status success on replica 2');
        assert.deepEqual(await assistantTexts(other), await assistantTexts(page), 'replica 2 shows what replica 1 showed');
        assert.ok(await fits(other), 'no horizontal scroll on replica 2');
        // the session's events are the same from either replica
        const events = async (p, r) => p.evaluate(async (u) => (await fetch(u)).json(), `${r.url}/api/sessions/${sid}/output`);
        const [fromOne, fromTwo] = [await events(page, one), await events(other, two)];
        assert.equal(fromOne.success, true, JSON.stringify(fromOne));
        assert.equal(fromOne.data.at(-1).type, 'completion');
        assert.deepEqual(fromTwo, fromOne);

        // and in replica 2's project list (this machine's Claude files): the session with Claude's transcript
        const past = await ctx2.newPage();
        await past.goto(`${two.url}/`);
        await past.click('[data-testid="new-tab"]');
        await past.click('button[aria-label="Refresh projects"]');
        await past.click(`[data-testid="project-item"][title="${dir}"]`);
        await past.click(`[data-testid="session-item"][data-session-id="${sid}"]`);
        await past.waitForSelector(`[data-testid="session-view"][data-session-id="${sid}"]`);
        await past.waitForSelector(`[data-testid="message-user"]:has-text("hello ${size}")`);
        await past.waitForSelector(`[data-testid="message-assistant"]:has-text("Echo: hello ${size}")`);
      } finally {
        await ctx1.close();
        await ctx2.close();
      }
    });

    it(`${size}: a live session started on replica 1 is allowed from replica 2's page, and the tool runs`, async () => {
      const [one, two] = replicas;
      const dir = project(`live-${size}`);
      const ctx1 = await contextFor(one, device);
      const ctx2 = await contextFor(two, device);
      try {
        const page = await ctx1.newPage();
        await page.goto(`${one.url}/`);
        const sid = await start(page, dir, 'please @tool', true);
        await waitOrExplain(page, '[data-testid="approval-card"]', one.url);
        assert.match(await page.textContent('[data-testid="approval-command"]'), /echo hi > tool-ran\.txt/);
        assert.equal(existsSync(join(dir, 'tool-ran.txt')), false, 'nothing ran before the answer');

        // the same session on replica 2, opened from its address (a shared link, a notification)
        const other = await ctx2.newPage();
        await other.goto(`${two.url}/#session=${sid}`);
        await other.waitForSelector(`[data-testid="session-view"][data-session-id="${sid}"]`);
        const card = await waitOrExplain(other, '[data-testid="approval-card"]', two.url);
        assert.match(await card.textContent(), /Bash/);
        assert.equal(await statusOf(other), 'running');
        assert.ok(await fits(other), 'no horizontal scroll on replica 2');
        await other.click('[data-testid="approve-button"]');
        await other.waitForSelector('[data-testid="approval-resolved"]:has-text("Allowed")');
        await page.waitForSelector('[data-testid="approval-resolved"]:has-text("Allowed")');
        for (const p of [other, page]) {
          const result = await p.waitForSelector('[data-testid="tool-result"]:not(.is-error)');
          assert.match(await result.evaluate((d) => d.querySelector('pre').textContent), /ran/);
          await p.waitForSelector('[data-testid="message-assistant"]:has-text("Echo: please (turn 1)")');
          assert.equal(await p.locator('[data-testid="approval-card"]').count(), 0, 'no card left');
          assert.deepEqual(await userBubbles(p), ['please @tool'], 'the prompt, once');
        }
        assert.deepEqual(await assistantTexts(other), await assistantTexts(page), 'both replicas show the same reply');
        await eventually(() => existsSync(join(dir, 'tool-ran.txt')), 'tool-ran.txt in the project folder');

        // ended from replica 2, replica 1 sees it end too
        await other.click('[data-testid="end-button"]');
        await eventually(async () => (await statusOf(other)) === 'success', 'ended on replica 2');
        await eventually(async () => (await statusOf(page)) === 'success', 'ended, as replica 1 sees it');
        await noClaudeLeft(dir);
      } finally {
        await ctx1.close();
        await ctx2.close();
      }
    });
  }
});
