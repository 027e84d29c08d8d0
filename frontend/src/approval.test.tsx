// The approval card (Bash command, Edit / MultiEdit diff, Write content, JSON), the transcript record of a
// resolved request, and a live session tab wired to a fake WebSocket: answers, follow-ups, interrupt and
// end go out on the open socket, or over REST (a 409 "already resolved" is only a note).
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { renderToStaticMarkup } from 'react-dom/server';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApprovalCard, ApprovalEntry, formatRemaining, lineDiff } from './components/Approval';
import { SessionTab } from './components/SessionTab';
import { TabStrip } from './components/TabStrip';
import { AppContext } from './context';
import { Controller } from './controller';
import type { PendingApproval } from './items';
import { initialState, reducer, rememberRules, type Action, type AppState } from './reducer';
import { createStore } from './store';
import { SID, init, liveStart, output, permissionRequest, permissionResolved, resultLine, userPrompt } from './test/fixtures';
import { FakeSocket } from './test/fake-socket';

const pending = (toolName: string, input: unknown): PendingApproval => ({
  requestId: 'req-1',
  toolName,
  input,
  toolUseId: 'toolu_1',
  description: null,
  timeoutMs: 60_000,
  expiresAt: Date.now() + 90_000,
  seq: 3,
});
const card = (a: PendingApproval) => renderToStaticMarkup(<ApprovalCard approval={a} onRespond={() => {}} />);

describe('lineDiff', () => {
  it('keeps common lines and marks removed and added ones', () => {
    expect(lineDiff('a\nb\nc', 'a\nB\nc\nd')).toEqual([
      { op: ' ', text: 'a' },
      { op: '-', text: 'b' },
      { op: '+', text: 'B' },
      { op: ' ', text: 'c' },
      { op: '+', text: 'd' },
    ]);
    expect(lineDiff('', 'new')).toEqual([{ op: '+', text: 'new' }]);
    expect(lineDiff('old', '')).toEqual([{ op: '-', text: 'old' }]);
  });

  it('does not align huge inputs (all out, all in)', () => {
    const big = Array.from({ length: 600 }, (_, i) => `l${i}`).join('\n');
    const d = lineDiff(big, `${big}\nmore`);
    expect(d.filter((l) => l.op === '-')).toHaveLength(600);
    expect(d.filter((l) => l.op === '+')).toHaveLength(601);
  });
});

describe('ApprovalCard', () => {
  it('Bash: the command in a code block, Allow / Deny, a countdown', () => {
    const out = card(pending('Bash', { command: 'rm -rf build && make <all>', description: 'rebuild' }));
    expect(out).toContain('data-testid="approval-card"');
    expect(out).toContain('data-request-id="req-1"');
    expect(out).toMatch(/data-testid="approval-command"><code>rm -rf build &amp;&amp; make &lt;all&gt;<\/code>/);
    expect(out).toContain('data-testid="approve-button"');
    expect(out).toContain('data-testid="deny-button"');
    expect(out).toContain('data-testid="deny-message"');
    expect(out).toMatch(/data-testid="approval-countdown"[^>]*>1:(29|30) left/);
  });

  it('Edit: a - / + line diff of old_string → new_string with the file path', () => {
    const out = card(pending('Edit', { file_path: '/p/src/a.ts', old_string: 'const a = 1;\nkeep', new_string: 'const a = 2;\nkeep' }));
    expect(out).toContain('/p/src/a.ts');
    expect(out).toContain('data-testid="approval-diff"');
    expect(out).toContain('<span class="diff-del">- const a = 1;');
    expect(out).toContain('<span class="diff-add">+ const a = 2;');
    expect(out).toContain('<span class="diff-ctx">  keep');
  });

  it('MultiEdit: one diff per edit; Write: path and content; others: JSON', () => {
    const multi = card(pending('MultiEdit', { file_path: '/f', edits: [{ old_string: 'x', new_string: 'y' }, { old_string: 'p', new_string: 'q' }] }));
    expect(multi.match(/data-testid="approval-diff"/g)).toHaveLength(2);
    const write = card(pending('Write', { file_path: '/p/new.txt', content: 'hello\nworld' }));
    expect(write).toContain('/p/new.txt');
    expect(write).toMatch(/data-testid="approval-content">hello\nworld/);
    const other = card(pending('WebFetch', { url: 'https://example.com' }));
    expect(other).toContain('&quot;url&quot;: &quot;https://example.com&quot;');
  });

  it('formats the time left', () => {
    expect(formatRemaining(90_000)).toBe('1:30');
    expect(formatRemaining(3_600_000 + 5_000)).toBe('1:00:05');
    expect(formatRemaining(-1)).toBe('expiring');
  });
});

describe('ApprovalEntry (transcript)', () => {
  const base = { kind: 'approval' as const, key: 'k', requestId: 'r', toolName: 'Bash', input: { command: 'ls' }, description: null };
  it('pending: a pointer to the pinned card; resolved: a collapsed record', () => {
    expect(renderToStaticMarkup(<ApprovalEntry item={{ ...base, resolution: null }} />)).toContain('data-testid="approval-waiting"');
    const allowed = renderToStaticMarkup(<ApprovalEntry item={{ ...base, resolution: { behavior: 'allow', by: 'viewer', message: null } }} />);
    expect(allowed).toMatch(/^<details[^>]*data-testid="approval-resolved"/);
    expect(allowed).toContain('Allowed');
    const denied = renderToStaticMarkup(<ApprovalEntry item={{ ...base, resolution: { behavior: 'deny', by: 'timeout', message: 'timed out' } }} />);
    expect(denied).toContain('Denied (by timeout)');
    expect(denied).toContain('timed out');
    expect(renderToStaticMarkup(<ApprovalEntry item={{ ...base, resolution: null, orphaned: true }} />)).toContain('Not answered');
    const kept = renderToStaticMarkup(<ApprovalEntry item={{ ...base, resolution: { behavior: 'allow', by: 'viewer', message: null, remembered: true } }} />);
    expect(kept).toContain('Allowed · remembered');
  });
});

describe('"Always allow"', () => {
  it('reads the rules of a request\'s remember: toolName(ruleContent) or toolName alone', () => {
    expect(
      rememberRules([
        { type: 'addRules', rules: [{ toolName: 'Bash', ruleContent: 'npm test:*' }, { toolName: 'WebFetch' }], behavior: 'allow', destination: 'localSettings' },
        { type: 'addRules', rules: [{ toolName: 'Bash', ruleContent: 'npm test:*' }], behavior: 'allow' },
        { type: 'setMode', mode: 'acceptEdits' },
        { type: 'addRules', rules: [{ toolName: 'Read' }], behavior: 'deny' },
      ]),
    ).toEqual(['Bash(npm test:*)', 'WebFetch']);
    expect(rememberRules(undefined)).toEqual([]);
    expect(rememberRules({ rules: [] })).toEqual([]);
  });

  it('the card offers it only with rules to keep, and shows them', () => {
    const a = pending('Bash', { command: 'npm test' });
    expect(card(a)).not.toContain('always-allow-button');
    const out = card({ ...a, rememberRules: ['Bash(npm test:*)', 'WebFetch'] });
    expect(out).toContain('data-testid="always-allow-button"');
    expect(out).toContain('<code class="rule">Bash(npm test:*)</code>');
    expect(out).toContain('<code class="rule">WebFetch</code>');
  });
});

// ---- a live tab against a fake WebSocket ----


(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

describe('a live session tab', () => {
  let container: HTMLDivElement;
  let root: Root;
  let controller: Controller;
  let store: ReturnType<typeof createStore<AppState, Action>>;

  beforeEach(() => {
    FakeSocket.all = [];
    store = createStore<AppState, Action>(reducer, initialState);
    controller = new Controller(store, { baseUrl: 'ws://x', socketFactory: (u) => new FakeSocket(u), storage: null });
    container = document.createElement('div');
    document.body.appendChild(container);
    root = createRoot(container);
  });
  afterEach(() => {
    act(() => root.unmount());
    container.remove();
    vi.unstubAllGlobals();
  });

  const q = (id: string) => container.querySelector(`[data-testid="${id}"]`) as HTMLElement | null;
  const flush = () => act(() => new Promise((r) => setTimeout(r, 40))); // the link batches events (16 ms)
  const render = () =>
    act(() =>
      root.render(
        <AppContext.Provider value={{ store, controller }}>
          <TabStrip />
          <SessionTab tabKey={SID} />
        </AppContext.Provider>,
      ),
    );
  const type = (el: HTMLElement, text: string) =>
    act(() => {
      const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
      const setter = Object.getOwnPropertyDescriptor(proto, 'value')!.set!;
      setter.call(el, text);
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });
  const click = (el: HTMLElement | null) => act(() => el!.dispatchEvent(new MouseEvent('click', { bubbles: true })));

  async function startLive() {
    await act(async () => {
      controller.run({ commandType: 'execute', projectPath: '/p', prompt: 'please @tool', sessionId: SID, live: true, permissionMode: 'acceptEdits' });
    });
    await render();
    const ws = FakeSocket.all[0];
    await act(async () => ws.open());
    const req = ws.messages()[0];
    expect(req).toMatchObject({ command_type: 'execute', session_id: SID, live: true, permission_mode: 'acceptEdits' });
    for (const ev of [liveStart(0, SID, 'acceptEdits'), userPrompt(1, 'please @tool'), output(2, init()), permissionRequest(3, 'req-1')]) ws.emit(ev);
    await flush();
    return ws;
  }

  it('shows the card pinned, a badge, Interrupt and End; answers go out on the socket', async () => {
    const ws = await startLive();
    expect(container.querySelectorAll('[data-testid="approval-card"]')).toHaveLength(1);
    expect(q('approval-badge')?.textContent).toBe('1');
    expect(q('approval-command')?.textContent).toBe('echo hi > tool-ran.txt');
    expect(q('interrupt-button')).not.toBeNull();
    expect(q('end-button')).not.toBeNull();
    expect(container.querySelectorAll('[data-testid="message-user"]')).toHaveLength(1);
    expect(q('session-view')?.getAttribute('data-composer-mode')).toBe('follow-up');

    await type(q('deny-message')!, 'no thanks'); // ignored by Allow
    await click(q('approve-button'));
    expect(ws.messages().at(-1)).toEqual({ type: 'permission_response', session_id: SID, request_id: 'req-1', behavior: 'allow' });
    expect((q('approve-button') as HTMLButtonElement).disabled).toBe(true); // until the resolution arrives

    ws.emit(permissionResolved(4, 'req-1', 'allow'));
    ws.emit(output(5, resultLine()));
    await flush();
    expect(q('approval-card')).toBeNull();
    expect(q('approval-badge')).toBeNull();
    expect(q('approval-resolved')?.textContent).toContain('Allowed');
    expect(q('interrupt-button')).toBeNull(); // no turn in progress

    await type(q('prompt-input')!, 'second');
    await act(async () => q('send-button')!.closest('form')!.requestSubmit());
    expect(ws.messages().at(-1)).toMatchObject({ type: 'prompt', session_id: SID, prompt: 'second' });
    expect((ws.messages().at(-1) as { client_id?: string }).client_id).toMatch(/^[0-9a-f-]{36}$/);
    ws.emit(userPrompt(6, 'second'));
    await flush();
    expect([...container.querySelectorAll('[data-testid="message-user"]')].map((e) => e.textContent)).toEqual(['please @tool', 'second']);
    await click(q('interrupt-button'));
    expect(ws.messages().at(-1)).toEqual({ type: 'interrupt', session_id: SID });
    await click(q('end-button'));
    expect(ws.messages().at(-1)).toEqual({ type: 'end', session_id: SID });
  });

  it('Deny sends the message; an edited input goes with Allow', async () => {
    const ws = await startLive();
    await type(q('deny-message')!, 'not now');
    await click(q('deny-button'));
    expect(ws.messages().at(-1)).toEqual({ type: 'permission_response', session_id: SID, request_id: 'req-1', behavior: 'deny', message: 'not now' });

    ws.emit(permissionRequest(4, 'req-2'));
    await flush();
    const second = container.querySelector('[data-testid="approval-card"][data-request-id="req-2"]') as HTMLElement;
    await click(second.querySelector('[data-testid="edit-input-toggle"]') as HTMLElement);
    const area = second.querySelector('[data-testid="approval-edit-input"]') as HTMLElement;
    await type(area, '{"command": "echo safer"}');
    await click(second.querySelector('[data-testid="approve-button"]') as HTMLElement);
    expect(ws.messages().at(-1)).toMatchObject({ request_id: 'req-2', behavior: 'allow', updated_input: { command: 'echo safer' } });
    // invalid JSON is refused in the card, nothing is sent
    ws.emit(permissionRequest(5, 'req-3'));
    await flush();
    const third = container.querySelector('[data-testid="approval-card"][data-request-id="req-3"]') as HTMLElement;
    await click(third.querySelector('[data-testid="edit-input-toggle"]') as HTMLElement);
    await type(third.querySelector('[data-testid="approval-edit-input"]') as HTMLElement, '{oops');
    const before = ws.sent.length;
    await click(third.querySelector('[data-testid="approve-button"]') as HTMLElement);
    expect(ws.sent.length).toBe(before);
    expect(third.textContent).toContain('Not valid JSON');
  });

  it('an "already resolved" error frame is a note, not the end of the link', async () => {
    const ws = await startLive();
    await click(q('approve-button'));
    await act(async () => ws.emit({ type: 'error', message: 'permission request already resolved', session_id: SID }));
    ws.emit(permissionResolved(4, 'req-1', 'deny', 'viewer', 'someone else said no'));
    await flush();
    expect(q('conn-state')?.textContent).toBe('connected');
    expect(container.textContent).toContain('already resolved');
    expect(q('approval-resolved')?.textContent).toContain('Denied (by viewer)');
    expect(store.getState().sessions[SID].status).toBe('running');
  });

  it('without an open socket the answer goes over REST; a 409 is only a note', async () => {
    const ws = await startLive();
    await act(async () => ws.serverClose(1006)); // dropped: reconnecting, no open socket
    const fetchMock = vi.fn(async () => new Response(JSON.stringify({ success: false, data: null, error: 'already resolved' }), { status: 409 }));
    vi.stubGlobal('fetch', fetchMock);
    await act(async () => {
      await controller.respond(SID, 'req-1', { behavior: 'allow' });
    });
    expect(fetchMock).toHaveBeenCalledTimes(1);
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe(`/api/sessions/${SID}/permissions/req-1`);
    expect(init.method).toBe('POST');
    expect(JSON.parse(init.body as string)).toEqual({ behavior: 'allow' });
    const s = store.getState().sessions[SID];
    expect(s.items.some((i) => i.kind === 'system-note' && i.text.includes('Too late'))).toBe(true);
    expect(s.items.some((i) => i.kind === 'error')).toBe(false);
  });

  it('"Always allow" answers allow with remember: true, names the rule, and the record says remembered', async () => {
    await act(async () => {
      controller.run({ commandType: 'execute', projectPath: '/p', prompt: 'please @tool', sessionId: SID, live: true, permissionMode: 'default' });
    });
    await render();
    const ws = FakeSocket.all[0];
    await act(async () => ws.open());
    const remember = [{ type: 'addRules', rules: [{ toolName: 'Bash', ruleContent: 'echo hi *' }], behavior: 'allow', destination: 'localSettings' }];
    for (const ev of [liveStart(0, SID, 'default'), userPrompt(1, 'please @tool'), output(2, init()), { ...permissionRequest(3, 'req-1'), remember }]) ws.emit(ev);
    await flush();
    expect(q('always-allow-rules')?.textContent).toBe('Always allow keeps for this project: Bash(echo hi *)');
    await click(q('always-allow-button'));
    expect(ws.messages().at(-1)).toEqual({ type: 'permission_response', session_id: SID, request_id: 'req-1', behavior: 'allow', remember: true });
    ws.emit({ ...permissionResolved(4, 'req-1', 'allow'), remembered: true });
    await flush();
    expect(q('approval-card')).toBeNull();
    expect(q('approval-resolved')?.textContent).toContain('Allowed · remembered');
  });
});
