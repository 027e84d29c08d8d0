#!/usr/bin/env node
// A stand-in for claude's live mode (`--input-format stream-json --permission-prompt-tool stdio`), for
// `mock-server.mjs` while the Rust fake-claude has no live mode. Behaves as the brief of that mode says:
// answers the `initialize` control request; for each `user` message prints system/init, then (prompt with
// `@tool`) a Bash tool_use and a `can_use_tool` control request, waits for the answer (allow: runs
// `echo hi > tool-ran.txt` in the cwd and prints a tool_result "ran"; deny: an is_error tool_result with the
// message), then `@lines=N` lines or "Echo: <prompt> (turn N)" and a result. `@delay=MS` slows lines; an
// `interrupt` control request stops the turn (a result follows). stdin closing ends the process.

import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const argv = process.argv.slice(2);
const arg = (n) => {
  const i = argv.indexOf(n);
  return i >= 0 ? argv[i + 1] : undefined;
};
const sessionId = arg('--session-id') ?? arg('--resume') ?? randomUUID();
const model = arg('--model') ?? 'claude-fake-1';
const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let turn = 0;
let interrupted = false;
const waiting = new Map(); // control request id -> resolve
const queue = [];
let busy = false;

function parse(prompt) {
  const d = { lines: null, delay: 0, tool: false, words: [] };
  for (const w of prompt.split(/\s+/).filter(Boolean)) {
    const [k, v] = w.split('=');
    if (k === '@lines') d.lines = Number(v) || 0;
    else if (k === '@delay') d.delay = Number(v) || 0;
    else if (k === '@tool') d.tool = true;
    else if (!k.startsWith('@')) d.words.push(w);
  }
  return d;
}

const assistant = (content) => ({
  type: 'assistant',
  message: { id: `msg_${randomUUID()}`, type: 'message', role: 'assistant', model, content, stop_reason: null, usage: { input_tokens: 10, output_tokens: 5 } },
  parent_tool_use_id: null,
  session_id: sessionId,
  uuid: randomUUID(),
});
const userResult = (content, isError) => ({
  type: 'user',
  message: { role: 'user', content: [{ tool_use_id: 'toolu_live', type: 'tool_result', content, is_error: isError }] },
  parent_tool_use_id: null,
  session_id: sessionId,
  uuid: randomUUID(),
});

async function runTurn(prompt) {
  turn++;
  interrupted = false;
  const d = parse(prompt);
  out({ type: 'system', subtype: 'init', cwd: process.cwd(), session_id: sessionId, tools: ['Bash', 'Edit', 'Read'], model, permissionMode: arg('--permission-mode') ?? 'default', uuid: randomUUID() });
  const step = async (obj) => {
    if (interrupted) return false;
    out(obj);
    if (d.delay) await sleep(d.delay);
    return !interrupted;
  };
  let ok = true;
  if (d.tool) {
    const input = { command: 'echo hi > tool-ran.txt', description: 'write a file' };
    ok = await step(assistant([{ type: 'tool_use', id: 'toolu_live', name: 'Bash', input }]));
    if (ok) {
      const requestId = randomUUID();
      const answer = new Promise((resolve) => waiting.set(requestId, resolve));
      out({ type: 'control_request', request_id: requestId, request: { subtype: 'can_use_tool', tool_name: 'Bash', display_name: 'Bash', input, description: input.description, tool_use_id: 'toolu_live' } });
      const res = await answer;
      if (res?.behavior === 'allow') {
        writeFileSync('tool-ran.txt', 'hi\n');
        ok = await step(userResult('ran', false));
      } else if (res) {
        ok = await step(userResult(res.message || 'denied', true));
      } else {
        ok = false;
      }
    }
  }
  if (ok) {
    if (d.lines !== null) {
      for (let i = 0; i < d.lines && ok; i++) ok = await step(assistant([{ type: 'text', text: `line ${i}` }]));
    } else {
      ok = await step(assistant([{ type: 'text', text: `Echo: ${d.words.join(' ')} (turn ${turn})` }]));
    }
  }
  out({ type: 'result', subtype: interrupted ? 'error_during_execution' : 'success', is_error: interrupted, duration_ms: 12, duration_api_ms: 10, num_turns: 1, result: interrupted ? 'interrupted' : 'ok', session_id: sessionId, total_cost_usd: 0.0001, usage: { input_tokens: 10, output_tokens: 5 } });
}

async function pump() {
  if (busy) return;
  busy = true;
  while (queue.length) await runTurn(queue.shift());
  busy = false;
  if (stdinClosed) process.exit(0);
}

let stdinClosed = false;
createInterface({ input: process.stdin })
  .on('line', (line) => {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    if (msg.type === 'control_request') {
      const sub = msg.request?.subtype;
      if (sub === 'interrupt') {
        interrupted = true;
        for (const [id, resolve] of waiting) {
          waiting.delete(id);
          resolve(null);
        }
      }
      out({ type: 'control_response', response: { subtype: 'success', request_id: msg.request_id, response: {} } });
    } else if (msg.type === 'control_response') {
      const id = msg.response?.request_id;
      const resolve = waiting.get(id);
      if (resolve) {
        waiting.delete(id);
        resolve(msg.response.response ?? { behavior: 'deny' });
      }
    } else if (msg.type === 'user') {
      const c = msg.message?.content;
      queue.push(typeof c === 'string' ? c : Array.isArray(c) ? c.map((b) => b.text ?? '').join('') : '');
      void pump();
    }
  })
  .on('close', () => {
    stdinClosed = true;
    for (const [id, resolve] of waiting) {
      waiting.delete(id);
      resolve(null);
    }
    if (!busy) process.exit(0);
  });
