// A stand-in for the opcode-web server (docs/protocol.md), for frontend work while the Rust server is not
// built: serves dist/, the token cookie, the REST routes and both WebSockets, running the fake claude.
// Same command line as the real one, so `OPCODE_WEB_BIN=e2e/mock-server.mjs npm run e2e` exercises the
// UI against it. Not a product: no limits, minimal WebSocket framing, history is one page.
// Live sessions (`"live": true`) run `fake-claude-live.mjs` (or MOCK_LIVE_CLAUDE_BIN) over stdio and speak
// the control messages and permission events of docs/protocol.md. Runs are kept in `--data-dir` so they
// survive a restart (one left in progress ends with the restart error); the running list reports health.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { homedir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const PORT = Number(arg('--port', '8080'));
const TOKEN = arg('--token', 'dev');
const CLAUDE = arg('--claude-bin', 'claude');
const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '../dist');
const PERMISSION_TIMEOUT_MS = Number(arg('--permission-timeout', '1800')) * 1000;
const LIVE_CLAUDE = process.env.MOCK_LIVE_CLAUDE_BIN ?? join(dirname(fileURLToPath(import.meta.url)), 'fake-claude-live.mjs');
const CLAUDE_DIR = join(process.env.CLAUDE_CONFIG_DIR ?? join(homedir(), '.claude'), 'projects');
// runs survive a restart as the real server's do: each session's events and its latest run's meta in here
const RUNS_DIR = arg('--data-dir', null) ? join(arg('--data-dir'), 'mock-runs') : null;
const RESTART_MESSAGE = 'the server restarted while this run was in progress; its process is gone. Resume the session to go on';

const runs = new Map(); // session id -> { events, viewers:Set, child, live, project_path, command_type, model, started_at, ... }

// ---- tiny WebSocket ----
function wsAccept(req, socket) {
  const key = req.headers['sec-websocket-key'];
  const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  const ws = { socket, open: true, onText: () => {}, onClose: () => {} };
  let buf = Buffer.alloc(0);
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      if (buf.length < 2) return;
      const op = buf[0] & 0x0f;
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      const masked = buf[1] & 0x80;
      const mask = masked ? buf.subarray(off, off + 4) : null;
      if (masked) off += 4;
      if (buf.length < off + len) return;
      const payload = Buffer.from(buf.subarray(off, off + len));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
      buf = buf.subarray(off + len);
      if (op === 1) ws.onText(payload.toString('utf8'));
      else if (op === 8) wsClose(ws, payload.length >= 2 ? payload.readUInt16BE(0) : 1000);
      else if (op === 9) frame(ws, 10, payload);
    }
  });
  socket.on('close', () => { if (ws.open) { ws.open = false; ws.onClose(); } });
  socket.on('error', () => {});
  return ws;
}
function frame(ws, op, payload) {
  if (!ws.open) return;
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | op, n]) : n < 65536 ? Buffer.from([0x80 | op, 126, n >> 8, n & 255]) : Buffer.concat([Buffer.from([0x80 | op, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
  ws.socket.write(Buffer.concat([head, payload]));
}
const wsSend = (ws, obj) => frame(ws, 1, Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj)));
function wsClose(ws, code) {
  if (!ws.open) return;
  const p = Buffer.alloc(2);
  p.writeUInt16BE(code);
  frame(ws, 8, p);
  ws.open = false;
  ws.socket.end();
  ws.onClose();
}

// ---- sessions ----
const encodeProject = (p) => p.replace(/[^A-Za-z0-9]/g, '-');
function saveMeta(run, sid) {
  if (!RUNS_DIR) return;
  const { project_path, command_type, model, started_at, isLive, permission_mode, finished_at, outcome, unexpected } = run;
  writeFileSync(join(RUNS_DIR, `${sid}.meta.json`), JSON.stringify({ project_path, command_type, model, started_at, isLive, permission_mode, finished_at, outcome, unexpected }));
}
function emit(run, sid, ev) {
  const full = { type: ev.type, session_id: sid, seq: run.events.length, ...ev };
  run.events.push(full);
  if (ev.type === 'output') run.lastOutput = Date.now();
  if (ev.type === 'start') Object.assign(run, { finished_at: null, outcome: null, unexpected: false, lastOutput: Date.now(), endRequested: false });
  if (ev.type === 'completion') Object.assign(run, { finished_at: Math.floor(Date.now() / 1000), outcome: ev.status, unexpected: run.unexpected || (run.isLive && !run.cancelled && !run.endRequested) });
  if (RUNS_DIR) {
    appendFileSync(join(RUNS_DIR, `${sid}.jsonl`), `${JSON.stringify(full)}\n`);
    if (ev.type === 'start' || ev.type === 'completion') saveMeta(run, sid);
  }
  for (const v of run.viewers) wsSend(v, full);
  if (ev.type === 'completion') {
    run.live = false;
    for (const v of [...run.viewers]) if (v.attach) wsClose(v, 1000);
  }
}
function latestSession(projectPath) {
  const dir = join(CLAUDE_DIR, encodeProject(projectPath));
  if (!existsSync(dir)) return null;
  const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs })).sort((a, b) => b.t - a.t);
  return files[0]?.f.replace(/\.jsonl$/, '') ?? null;
}
function startRun(ws, req) {
  const takeUpLive = req?.command_type === 'resume' && req.live === true; // may come without a prompt
  if (!req || typeof req.prompt !== 'string' || (!req.prompt.trim() && !takeUpLive)) return wsSend(ws, { type: 'error', message: 'prompt must not be empty' });
  if (!req.project_path || !existsSync(req.project_path)) return wsSend(ws, { type: 'error', message: `project_path does not exist: ${req.project_path}`, session_id: req.session_id ?? null });
  let sid = req.session_id;
  const args = ['-p', req.prompt, '--output-format', 'stream-json', '--verbose'];
  if (req.command_type === 'continue') {
    sid = latestSession(req.project_path);
    if (!sid) return wsSend(ws, { type: 'error', message: 'no session to continue in this project' });
    args.push('--resume', sid);
  } else if (req.command_type === 'resume') {
    if (!sid) return wsSend(ws, { type: 'error', message: 'resume needs session_id' });
    args.push('--resume', sid);
  } else {
    sid ??= crypto.randomUUID();
    args.push('--session-id', sid);
  }
  if (req.model) args.push('--model', req.model);
  if (req.include_partial_messages) args.push('--include-partial-messages');
  if (req.live) return startLive(ws, req, sid);
  let run = runs.get(sid);
  if (run?.live) return wsSend(ws, { type: 'error', message: 'session is already running', session_id: sid });
  if (!run) { run = { events: [], viewers: new Set() }; runs.set(sid, run); }
  Object.assign(run, { live: true, isLive: false, project_path: req.project_path, command_type: req.command_type, model: req.model ?? null, started_at: Date.now() / 1000, cancelled: false });
  run.viewers.add(ws);
  ws.onClose = () => run.viewers.delete(ws);
  emit(run, sid, { type: 'start', message: `${req.command_type} in ${req.project_path}`, command_type: req.command_type, project_path: req.project_path, model: req.model ?? null });
  const child = spawn(CLAUDE, args, { cwd: req.project_path, stdio: ['ignore', 'pipe', 'pipe'] });
  run.child = child;
  let open = 2;
  const onLine = (kind) => (line) => {
    if (kind === 'err') return emit(run, sid, { type: 'error', message: line });
    let content;
    try { content = JSON.parse(line); } catch { content = line; }
    emit(run, sid, { type: 'output', content });
  };
  createInterface({ input: child.stdout }).on('line', onLine('out')).on('close', () => done());
  createInterface({ input: child.stderr }).on('line', onLine('err')).on('close', () => done());
  let exit = null;
  child.on('exit', (code, signal) => { exit = { code, signal }; done(); });
  child.on('error', (e) => { emit(run, sid, { type: 'error', message: `spawn failed: ${e.message}` }); exit = { code: null, signal: null }; open = 0; done(); });
  function done() {
    if (--open > 0 && exit === null) return;
    if (exit === null || open > 0 || !run.live) return;
    const status = run.cancelled ? 'cancelled' : exit.code === 0 ? 'success' : 'error';
    emit(run, sid, { type: 'completion', status, exit_code: exit.code, signal: exit.signal ? 15 : null });
  }
}

// ---- live sessions ----
function startLive(ws, req, sid) {
  let run = runs.get(sid);
  if (run?.live) return wsSend(ws, { type: 'error', message: 'session is already running', session_id: sid });
  if (!run) { run = { events: [], viewers: new Set() }; runs.set(sid, run); }
  const mode = req.permission_mode ?? 'default';
  if (!['default', 'acceptEdits', 'plan'].includes(mode)) return wsSend(ws, { type: 'error', message: `permission_mode not allowed: ${mode}`, session_id: sid });
  Object.assign(run, { live: true, isLive: true, permission_mode: mode, project_path: req.project_path, command_type: req.command_type, model: req.model ?? null, started_at: Date.now() / 1000, cancelled: false, perms: new Map() });
  run.viewers.add(ws);
  ws.onClose = () => run.viewers.delete(ws);
  const args = ['--output-format', 'stream-json', '--verbose', '--input-format', 'stream-json', '--permission-prompt-tool', 'stdio', '--permission-mode', mode];
  args.push(req.command_type === 'execute' ? '--session-id' : '--resume', sid);
  if (req.model) args.push('--model', req.model);
  if (req.include_partial_messages) args.push('--include-partial-messages');
  emit(run, sid, { type: 'start', message: `${req.command_type} in ${req.project_path} (live)`, command_type: req.command_type, project_path: req.project_path, model: req.model ?? null, live: true, permission_mode: mode });
  const [cmd, argv] = LIVE_CLAUDE.endsWith('.mjs') ? [process.execPath, [LIVE_CLAUDE, ...args]] : [LIVE_CLAUDE, args];
  const child = spawn(cmd, argv, { cwd: req.project_path, stdio: ['pipe', 'pipe', 'pipe'] });
  run.child = child;
  child.stdin.on('error', () => {});
  const write = (obj) => { if (!child.stdin.destroyed && child.stdin.writable) child.stdin.write(`${JSON.stringify(obj)}\n`); };
  run.write = write;
  write({ type: 'control_request', request_id: 'init-1', request: { subtype: 'initialize' } });
  createInterface({ input: child.stdout }).on('line', (line) => {
    let content;
    try { content = JSON.parse(line); } catch { content = line; }
    if (content?.type === 'control_response') return; // answers to our initialize / interrupt
    if (content?.type === 'control_request' && content.request?.subtype === 'can_use_tool') {
      const r = content.request;
      const request_id = content.request_id;
      const timer = setTimeout(() => resolvePerm(run, sid, request_id, { behavior: 'deny', message: 'timed out' }, 'timeout'), PERMISSION_TIMEOUT_MS);
      run.perms.set(request_id, { timer, input: r.input });
      return emit(run, sid, { type: 'permission_request', request_id, tool_name: r.tool_name, input: r.input, tool_use_id: r.tool_use_id ?? null, description: r.description ?? null, timeout_ms: PERMISSION_TIMEOUT_MS, expires_at: Date.now() + PERMISSION_TIMEOUT_MS });
    }
    emit(run, sid, { type: 'output', content });
  });
  createInterface({ input: child.stderr }).on('line', (line) => emit(run, sid, { type: 'error', message: line }));
  child.on('exit', (code, signal) => {
    for (const id of [...run.perms.keys()]) resolvePerm(run, sid, id, { behavior: 'deny', message: 'session ended' }, 'end');
    const status = run.cancelled ? 'cancelled' : code === 0 ? 'success' : 'error';
    emit(run, sid, { type: 'completion', status, exit_code: code, signal: signal ? 15 : null });
  });
  if (req.prompt.trim()) userPrompt(run, sid, req.prompt);
}
function userPrompt(run, sid, prompt) {
  emit(run, sid, { type: 'user_prompt', prompt });
  run.write({ type: 'user', message: { role: 'user', content: prompt } });
}
function resolvePerm(run, sid, request_id, answer, by) {
  const p = run.perms.get(request_id);
  if (!p) return false;
  clearTimeout(p.timer);
  run.perms.delete(request_id);
  const response = answer.behavior === 'allow'
    ? { behavior: 'allow', updatedInput: answer.updated_input ?? p.input }
    : { behavior: 'deny', message: answer.message ?? 'denied' };
  run.write({ type: 'control_response', response: { subtype: 'success', request_id, response } });
  emit(run, sid, { type: 'permission_resolved', request_id, behavior: answer.behavior, by, message: answer.message ?? null });
  return true;
}
/** A control message: returns null on success or an error text. */
function control(msg) {
  const sid = msg.session_id;
  const run = typeof sid === 'string' ? runs.get(sid) : null;
  if (!run) return 'no such session';
  if (!run.live || !run.isLive) return 'session is not a running live session';
  switch (msg.type) {
    case 'prompt':
      if (typeof msg.prompt !== 'string' || !msg.prompt.trim()) return 'prompt must not be empty';
      userPrompt(run, sid, msg.prompt);
      return null;
    case 'permission_response':
      if (msg.behavior !== 'allow' && msg.behavior !== 'deny') return 'behavior must be allow or deny';
      return resolvePerm(run, sid, msg.request_id, msg, 'viewer') ? null : 'permission request already resolved or unknown';
    case 'interrupt':
      run.write({ type: 'control_request', request_id: `int-${Date.now()}`, request: { subtype: 'interrupt' } });
      return null;
    case 'end':
      run.endRequested = true;
      run.child.stdin.end();
      return null;
    default:
      return `unknown message type ${msg.type}`;
  }
}
const CONTROL_TYPES = new Set(['prompt', 'permission_response', 'interrupt', 'end']);
function onControlText(ws, r) {
  const err = control(r);
  if (err) wsSend(ws, { type: 'error', message: err, session_id: r.session_id ?? null });
}
function readBody(req) {
  return new Promise((res) => {
    let b = '';
    req.on('data', (d) => { b += d; });
    req.on('end', () => { try { res(b ? JSON.parse(b) : {}); } catch { res(null); } });
  });
}

// ---- http ----
const authed = (req) => {
  const cookie = (req.headers.cookie ?? '').split(/;\s*/).find((c) => c.startsWith('opcode_token='));
  return cookie?.slice('opcode_token='.length) === TOKEN || req.headers.authorization === `Bearer ${TOKEN}`;
};
const json = (res, status, data, error = null) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ success: status < 400, data, error }));
};
function projects() {
  if (!existsSync(CLAUDE_DIR)) return [];
  return readdirSync(CLAUDE_DIR).map((id) => {
    const dir = join(CLAUDE_DIR, id);
    const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
    let path = id;
    for (const f of files) {
      const line = readFileSync(join(dir, f), 'utf8').split('\n').find((l) => l.includes('"cwd"'));
      if (line) { try { path = JSON.parse(line).cwd; break; } catch { /* next */ } }
    }
    const times = files.map((f) => statSync(join(dir, f)).mtimeMs / 1000);
    return { id, path, sessions: files.map((f) => f.replace(/\.jsonl$/, '')), created_at: Math.floor(statSync(dir).ctimeMs / 1000), most_recent_session: times.length ? Math.floor(Math.max(...times)) : null };
  }).sort((a, b) => (b.most_recent_session ?? 0) - (a.most_recent_session ?? 0));
}
/** The health of a run in progress, from /proc of its child (Linux; zeros elsewhere). */
function health(run) {
  const pid = run.child?.pid;
  let cpu = 0;
  let rss = 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    cpu = (Number(stat[11]) + Number(stat[12])) / 100;
    rss = Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) * 1024;
  } catch { /* not Linux, or gone */ }
  const alive = !!run.child && run.child.exitCode === null && run.child.signalCode === null;
  return { alive, processes: alive ? 1 : 0, cpu_seconds: cpu, rss_bytes: rss, seconds_since_output: Math.floor((Date.now() - (run.lastOutput ?? Date.now())) / 1000), waiting_for_you: run.perms?.size ?? 0 };
}
/** Start-up: the runs of the previous mock on this data dir; one it left in progress ends as the real server's do. */
function recover() {
  if (!RUNS_DIR) return;
  mkdirSync(RUNS_DIR, { recursive: true });
  for (const f of readdirSync(RUNS_DIR).filter((x) => x.endsWith('.meta.json'))) {
    const sid = f.replace(/\.meta\.json$/, '');
    const file = join(RUNS_DIR, `${sid}.jsonl`);
    const run = { ...JSON.parse(readFileSync(join(RUNS_DIR, f), 'utf8')), events: existsSync(file) ? readLines(file) : [], viewers: new Set(), live: false };
    runs.set(sid, run);
    if (run.events.at(-1)?.type !== 'completion') {
      run.unexpected = true;
      emit(run, sid, { type: 'error', message: RESTART_MESSAGE });
      emit(run, sid, { type: 'completion', status: 'error', exit_code: null, signal: null, error: RESTART_MESSAGE });
    }
  }
}

function readLines(file) {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).flatMap((l) => { try { return [JSON.parse(l)]; } catch { return []; } });
}

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const p = url.pathname;
  if (p === '/' && url.searchParams.has('token')) {
    if (url.searchParams.get('token') !== TOKEN) { res.writeHead(401, { 'content-type': 'text/html' }); return res.end('<h1>Wrong token</h1>'); }
    res.writeHead(303, { location: '/', 'set-cookie': `opcode_token=${TOKEN}; HttpOnly; SameSite=Strict; Path=/` });
    return res.end();
  }
  if (p === '/api/health') return json(res, 200, { status: 'ok', version: 'mock' });
  if (p.startsWith('/api/')) {
    if (!authed(req)) return json(res, 401, null, 'unauthorized');
    let m;
    if (p === '/api/projects') return json(res, 200, projects());
    if (p === '/api/sessions/new') {
      const dir = url.searchParams.get('path');
      if (dir !== null && (!dir.startsWith('/') || !existsSync(dir) || !statSync(dir).isDirectory())) {
        return json(res, 400, null, `project_path ${dir} is not an existing directory`);
      }
      return json(res, 200, crypto.randomUUID());
    }
    if ((m = p.match(/^\/api\/projects\/([^/]+)\/sessions$/))) {
      const dir = join(CLAUDE_DIR, decodeURIComponent(m[1]));
      if (!existsSync(dir)) return json(res, 200, []);
      const list = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => {
        const lines = readLines(join(dir, f));
        const first = lines.find((l) => l.type === 'user' && typeof l.message?.content === 'string');
        const st = statSync(join(dir, f));
        return { id: f.replace(/\.jsonl$/, ''), project_id: m[1], project_path: lines.find((l) => l.cwd)?.cwd ?? '', created_at: Math.floor(st.ctimeMs / 1000), first_message: first?.message.content ?? null, message_timestamp: first?.timestamp ?? null, t: st.mtimeMs };
      }).sort((a, b) => b.t - a.t);
      return json(res, 200, list);
    }
    if ((m = p.match(/^\/api\/sessions\/([^/]+)\/history\/([^/]+)$/))) {
      const file = join(CLAUDE_DIR, decodeURIComponent(m[2]), `${decodeURIComponent(m[1])}.jsonl`);
      if (!existsSync(file)) return json(res, 404, null, 'no such session');
      return json(res, 200, { messages: readLines(file), next_before: null });
    }
    if (p === '/api/sessions/running') {
      return json(res, 200, [...runs].map(([session_id, r]) => ({
        session_id, project_path: r.project_path, command_type: r.command_type, model: r.model, live: !!r.isLive,
        permission_mode: r.isLive ? (r.permission_mode ?? 'default') : null, started_at: Math.floor(r.started_at),
        status: r.live ? 'running' : 'finished', outcome: r.live ? null : (r.outcome ?? null), finished_at: r.live ? null : (r.finished_at ?? null),
        exited_unexpectedly: !r.live && !!r.unexpected, resumable: !r.live && !!r.unexpected && !!r.isLive, events: r.events.length,
        health: r.live ? health(r) : null, run_id: 1, process_type: r.live ? { ClaudeSession: { session_id } } : {},
      })).sort((a, b) => b.started_at - a.started_at));
    }
    if (req.method === 'POST' && (m = p.match(/^\/api\/sessions\/([^/]+)\/(prompt|interrupt|end|permissions\/([^/]+))$/))) {
      const sid = decodeURIComponent(m[1]);
      return void readBody(req).then((body) => {
        if (body === null) return json(res, 400, null, 'malformed body');
        const type = m[2].startsWith('permissions/') ? 'permission_response' : m[2];
        const err = control({ ...body, type, session_id: sid, ...(m[3] ? { request_id: decodeURIComponent(m[3]) } : {}) });
        if (!err) return json(res, 200, { ok: true });
        json(res, /already resolved/.test(err) ? 409 : /no such/.test(err) ? 404 : 400, null, err);
      });
    }
    if ((m = p.match(/^\/api\/sessions\/([^/]+)\/cancel$/))) {
      const run = runs.get(decodeURIComponent(m[1]));
      if (!run?.live) return json(res, 404, null, 'no such run');
      run.cancelled = true;
      emit(run, decodeURIComponent(m[1]), { type: 'cancelled' });
      run.child.kill('SIGTERM');
      return json(res, 200, { cancelled: true });
    }
    return json(res, 404, null, 'not found');
  }
  const file = join(DIST, p === '/' ? 'index.html' : p);
  if (!file.startsWith(DIST) || !existsSync(file) || statSync(file).isDirectory()) { res.writeHead(404); return res.end('not found'); }
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.webmanifest': 'application/manifest+json', '.png': 'image/png' };
  res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
  res.end(readFileSync(file));
});

server.on('upgrade', (req, socket) => {
  if (!authed(req)) { socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n'); return; }
  const url = new URL(req.url, 'http://x');
  const ws = wsAccept(req, socket);
  if (url.pathname === '/ws/claude') {
    ws.onText = (text) => { let r; try { r = JSON.parse(text); } catch { return wsSend(ws, { type: 'error', message: 'malformed request' }); } if (CONTROL_TYPES.has(r?.type)) return onControlText(ws, r); startRun(ws, r); };
    return;
  }
  const m = url.pathname.match(/^\/ws\/sessions\/([^/]+)$/);
  const run = m && runs.get(decodeURIComponent(m[1]));
  if (!run) return wsClose(ws, 4404);
  const since = url.searchParams.has('since') ? Number(url.searchParams.get('since')) : -1;
  for (const ev of run.events) if (ev.seq > since) wsSend(ws, ev);
  if (!run.live) return wsClose(ws, 1000);
  ws.attach = true;
  ws.onText = (text) => { let r; try { r = JSON.parse(text); } catch { return wsSend(ws, { type: 'error', message: 'malformed message' }); } onControlText(ws, r); };
  run.viewers.add(ws);
  ws.onClose = () => run.viewers.delete(ws);
});

// SIGINT/SIGTERM: cancel what runs (its completion is logged), then exit 0, as the real server does
const shutdown = () => {
  const waits = [];
  for (const [sid, run] of runs) {
    if (!run.live || !run.child || run.child.exitCode !== null || run.child.signalCode !== null) continue;
    run.cancelled = true;
    emit(run, sid, { type: 'cancelled' });
    waits.push(new Promise((ok) => run.child.once('exit', ok)));
    run.child.kill('SIGTERM');
  }
  server.close();
  void Promise.all(waits).then(() => setImmediate(() => process.exit(0)));
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

recover();
server.listen(PORT, '127.0.0.1', () => console.log(`opcode-web (mock) listening on http://127.0.0.1:${server.address().port}`));
