// Issue 13's phone-grade UI: prompts with client ids that wait for the connection and are resent without
// duplicates, the queue (queued → sent, edit, remove), interruptions, the root refusal's hint, a request
// refused before anything ran, tab titles and status words, the needs-you-first overview and the waiting
// count, dictation (with a stubbed SpeechRecognition, and without one), and the address of a session.
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { renderToStaticMarkup } from 'react-dom/server';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { errorSentence, isNetworkError, ApiError } from './api';
import { Composer } from './components/Composer';
import { MessageView } from './components/MessageView';
import { SessionTab } from './components/SessionTab';
import { AppContext } from './context';
import { Controller } from './controller';
import type { RunningSession, SessionEvent, SessionInfo } from './events';
import { mergeOverview, setBadge, titleFor, waitingSessions } from './overview';
import {
  applyEvents,
  composerMode,
  initialState,
  newSession,
  reducer,
  ROOT_REFUSAL_HINT,
  sessionTitle,
  statusLabel,
  type Action,
  type AppState,
} from './reducer';
import { hashFor, sessionFromHash } from './route';
import { dictatedText, recognitionCtor, type RecognitionLike, type ResultListLike } from './speech';
import { createStore } from './store';
import { SID, error, init, liveStart, output, resultLine, userPrompt } from './test/fixtures';
import { FakeSocket } from './test/fake-socket';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const ev = (e: Record<string, unknown>) => ({ session_id: SID, ...e }) as unknown as SessionEvent;
const queued = (seq: number, client_id: string, prompt: string) => ev({ type: 'prompt_queued', seq, client_id, prompt });
const unqueued = (seq: number, client_id: string) => ev({ type: 'prompt_unqueued', seq, client_id });
const sentWith = (seq: number, prompt: string, client_id: string) => ev({ type: 'user_prompt', seq, prompt, client_id });

function liveState() {
  let st = reducer(initialState, { type: 'open', key: SID, sessionId: SID, projectPath: '/home/dev/app' });
  st = reducer(st, { type: 'prompt-sent', key: SID, prompt: 'first', commandType: 'execute', live: true, permissionMode: 'default' });
  return reducer(st, { type: 'events', events: [liveStart(0), userPrompt(1, 'first')] });
}

describe('the outbox and the queue (reducer)', () => {
  it('a prompt of ours is sending, then queued by the server, edited, and sent: one bubble, in the transcript', () => {
    let st = reducer(liveState(), { type: 'follow-up-sent', key: SID, prompt: 'next one', clientId: 'c1' });
    expect(st.sessions[SID].outbox).toEqual([{ clientId: 'c1', text: 'next one', state: 'sending' }]);
    st = reducer(st, { type: 'events', events: [queued(2, 'c1', 'next one')] });
    expect(st.sessions[SID].outbox[0].state).toBe('queued');
    // our bookkeeping of a resend does not undo the server's word
    st = reducer(st, { type: 'outbox-state', key: SID, clientId: 'c1', state: 'sending' });
    expect(st.sessions[SID].outbox[0].state).toBe('queued');
    st = reducer(st, { type: 'events', events: [queued(3, 'c1', 'next one, edited')] });
    expect(st.sessions[SID].outbox).toEqual([{ clientId: 'c1', text: 'next one, edited', state: 'queued' }]);
    st = reducer(st, { type: 'events', events: [output(4, resultLine()), sentWith(5, 'next one, edited', 'c1')] });
    const s = st.sessions[SID];
    expect(s.outbox).toEqual([]);
    expect(s.items.filter((i) => i.kind === 'user-text').map((i) => (i as { text: string }).text)).toEqual(['first', 'next one, edited']);
    expect(s.turnsInFlight).toBe(1);
  });

  it("another viewer's queued prompt shows too, and goes away when taken back", () => {
    let st = reducer(liveState(), { type: 'events', events: [queued(2, 'theirs', 'from the laptop')] });
    expect(st.sessions[SID].outbox).toEqual([{ clientId: 'theirs', text: 'from the laptop', state: 'queued' }]);
    st = reducer(st, { type: 'events', events: [unqueued(3, 'theirs')] });
    expect(st.sessions[SID].outbox).toEqual([]);
  });

  it('a prompt waiting for the connection can be edited and removed locally', () => {
    let st = reducer(liveState(), { type: 'follow-up-sent', key: SID, prompt: 'offline words', clientId: 'c2' });
    st = reducer(st, { type: 'outbox-state', key: SID, clientId: 'c2', state: 'waiting' });
    st = reducer(st, { type: 'outbox-edit', key: SID, clientId: 'c2', text: 'better words' });
    expect(st.sessions[SID].outbox).toEqual([{ clientId: 'c2', text: 'better words', state: 'waiting' }]);
    st = reducer(st, { type: 'outbox-remove', key: SID, clientId: 'c2' });
    expect(st.sessions[SID].outbox).toEqual([]);
  });
});

describe('what a turn and a run read like', () => {
  it('an interrupt we asked for ends the turn as an interruption, not an error', () => {
    let st = liveState();
    st = reducer(st, {
      type: 'events',
      events: [output(2, { type: 'control_response', response: { subtype: 'success', request_id: 'interrupt-1234', response: {} } })],
    });
    st = reducer(st, { type: 'events', events: [output(3, resultLine({ subtype: 'error_during_execution', is_error: true }))] });
    const result = st.sessions[SID].items.find((i) => i.kind === 'result');
    expect(result).toMatchObject({ interrupted: true });
    const html = renderToStaticMarkup(<MessageView item={result!} />);
    expect(html).toContain('Interrupted');
    expect(html).not.toContain('error_during_execution');
    // the next turn's error is an error again
    st = reducer(st, { type: 'events', events: [userPrompt(4, 'again'), output(5, resultLine({ subtype: 'error_during_execution', is_error: true }))] });
    expect(st.sessions[SID].items.filter((i) => i.kind === 'result').at(-1)).not.toMatchObject({ interrupted: true });
  });

  it('claude\'s init is shown once, not every turn', () => {
    const st = reducer(liveState(), {
      type: 'events',
      events: [output(2, init()), output(3, resultLine()), userPrompt(4, 'two'), output(5, init()), output(6, { type: 'system', subtype: 'status', status: 'requesting' })],
    });
    expect(st.sessions[SID].items.filter((i) => i.kind === 'system-init')).toHaveLength(1);
    expect(st.sessions[SID].items.filter((i) => i.kind === 'system-note')).toHaveLength(0);
  });

  it("the CLI's refusal to skip permissions as root says what to do", () => {
    const s = applyEvents({ ...newSession(SID, SID, '/p'), status: 'running' }, [
      error(0, 'Error: --dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons'),
    ]);
    const item = s.items[0];
    expect(item).toMatchObject({ kind: 'error', hint: ROOT_REFUSAL_HINT });
    const html = renderToStaticMarkup(<MessageView item={item} />);
    expect(html).toContain('data-testid="error-hint"');
    expect(html).toContain('Start a live session');
    expect(html).toContain('--permissions default');
  });

  it('a run refused before anything ran leaves no session to continue', () => {
    let st = reducer(initialState, { type: 'open', key: SID, sessionId: SID, projectPath: '/nope' });
    st = reducer(st, { type: 'prompt-sent', key: SID, prompt: 'hi', commandType: 'execute' });
    st = reducer(st, { type: 'request-error', key: SID, message: 'project_path /nope is not an existing directory' });
    const s = st.sessions[SID];
    expect(s.neverStarted).toBe(true);
    expect(composerMode(s)).toBe('unavailable');
    expect(statusLabel(s)).toBe('not started');
    expect(s.items.find((i) => i.kind === 'error')).toMatchObject({ hint: expect.stringContaining('folder that exists') });
  });

  it('tabs read project + first prompt; the status is in words', () => {
    const st = liveState();
    const s = st.sessions[SID];
    expect(sessionTitle(s)).toBe('first');
    expect(sessionTitle({ ...s, items: [], history: { ...s.history, items: [] } })).toBe(SID.slice(0, 8));
    expect(statusLabel(s)).toBe('running');
    expect(statusLabel({ ...s, turnsInFlight: 0 })).toBe('your turn');
    expect(statusLabel({ ...s, status: 'success' })).toBe('finished');
    expect(statusLabel({ ...s, status: 'error' })).toBe('failed');
  });

  it('errors read as sentences', () => {
    expect(isNetworkError(new TypeError('Failed to fetch'))).toBe(true);
    expect(errorSentence(new TypeError('Failed to fetch'))).toBe('The server could not be reached (no connection, or it is restarting).');
    expect(errorSentence(new ApiError(409, 'permission request already resolved'))).toBe('Permission request already resolved.');
  });
});

// ---- the controller: client ids, waiting for the connection, resend after a reconnect ----


describe('a live tab without a connection', () => {
  let store: ReturnType<typeof createStore<AppState, Action>>;
  let controller: Controller;
  let container: HTMLDivElement;
  let root: Root;
  const saved = new Map<string, string>();
  const storage = { getItem: (k: string) => saved.get(k) ?? null, setItem: (k: string, v: string) => void saved.set(k, v) };

  beforeEach(() => {
    FakeSocket.all = [];
    saved.clear();
    store = createStore<AppState, Action>(reducer, initialState);
    controller = new Controller(store, { baseUrl: 'ws://x', socketFactory: (u) => new FakeSocket(u), storage });
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
  const flush = () => act(() => new Promise((r) => setTimeout(r, 40)));

  async function live() {
    await act(async () => {
      controller.run({ commandType: 'execute', projectPath: '/p', prompt: 'first', sessionId: SID, live: true });
    });
    await act(async () =>
      root.render(
        <AppContext.Provider value={{ store, controller }}>
          <SessionTab tabKey={SID} />
        </AppContext.Provider>,
      ),
    );
    const ws = FakeSocket.all[0];
    await act(async () => ws.open());
    ws.emit(liveStart(0));
    ws.emit(userPrompt(1, 'first'));
    await flush();
    return ws;
  }

  it('a prompt sent while down waits (kept across a reload), goes out with the same client id when the socket is back, once', async () => {
    const ws = await live();
    await act(async () => ws.serverClose(1006));
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    await act(async () => {
      await controller.prompt(SID, 'while offline');
    });
    const [o] = store.getState().sessions[SID].outbox;
    expect(o).toMatchObject({ text: 'while offline', state: 'waiting' });
    expect(q('queued-state')?.textContent).toMatch(/Waiting for the connection/);
    expect(container.querySelectorAll('[data-testid="message-error"]')).toHaveLength(0);
    // remembered for a reload
    expect(JSON.parse(saved.get('opcode-web.tabs')!)[0].unsent).toEqual([{ clientId: o.clientId, text: 'while offline' }]);

    // the link reconnects (attach with since=): the prompt goes out on the new socket with its client id
    await act(async () => {
      await vi.waitFor(() => expect(FakeSocket.all).toHaveLength(2)); // after the link's backoff
    });
    const again = FakeSocket.all.at(-1)!;
    expect(again).not.toBe(ws);
    expect(again.url).toContain(`/ws/sessions/${SID}?since=1`);
    await act(async () => again.open());
    await flush();
    const prompts = again.messages().filter((m) => m.type === 'prompt');
    expect(prompts).toEqual([{ type: 'prompt', session_id: SID, prompt: 'while offline', client_id: o.clientId }]);
    expect(store.getState().sessions[SID].outbox[0].state).toBe('sending');
    // confirmed by the server's user_prompt: one bubble, out of the outbox
    again.emit(output(2, resultLine()));
    again.emit(sentWith(3, 'while offline', o.clientId));
    await flush();
    expect(store.getState().sessions[SID].outbox).toEqual([]);
    expect([...container.querySelectorAll('[data-testid="message-user"]')].map((e) => e.textContent)).toEqual(['first', 'while offline']);
  });

  it('queued prompts are listed with Edit and Remove; Remove sends unqueue, Edit sends edit_queued', async () => {
    const ws = await live();
    await act(async () => {
      await controller.prompt(SID, 'queue me');
    });
    const sent = ws.messages().filter((m) => m.type === 'prompt');
    const clientId = sent[0].client_id as string;
    ws.emit(queued(2, clientId, 'queue me'));
    await flush();
    expect(q('queued-prompt')?.getAttribute('data-state')).toBe('queued');
    expect(q('queued-state')?.textContent).toMatch(/Queued: goes out when the current turn ends/);
    await act(async () => q('queued-edit')!.dispatchEvent(new MouseEvent('click', { bubbles: true })));
    const input = q('queued-edit-input') as HTMLTextAreaElement;
    await act(async () => {
      Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value')!.set!.call(input, 'queue me, better');
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await act(async () => q('queued-save')!.dispatchEvent(new MouseEvent('click', { bubbles: true })));
    expect(ws.messages().at(-1)).toEqual({ type: 'edit_queued', session_id: SID, client_id: clientId, prompt: 'queue me, better' });
    await act(async () => q('queued-remove')!.dispatchEvent(new MouseEvent('click', { bubbles: true })));
    expect(ws.messages().at(-1)).toEqual({ type: 'unqueue', session_id: SID, client_id: clientId });
    ws.emit(unqueued(3, clientId));
    await flush();
    expect(q('queued-prompt')).toBeNull();
  });

  it('Cancel asks first', async () => {
    await live();
    const fetchMock = vi.fn(async () => new Response(JSON.stringify({ success: true, data: { cancelled: true }, error: null })));
    vi.stubGlobal('fetch', fetchMock);
    await act(async () => q('cancel-button')!.dispatchEvent(new MouseEvent('click', { bubbles: true })));
    expect(fetchMock).not.toHaveBeenCalled();
    await act(async () => q('keep-running')!.dispatchEvent(new MouseEvent('click', { bubbles: true })));
    expect(q('confirm-cancel')).toBeNull();
    await act(async () => q('cancel-button')!.dispatchEvent(new MouseEvent('click', { bubbles: true })));
    await act(async () => q('confirm-cancel')!.dispatchEvent(new MouseEvent('click', { bubbles: true })));
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect((fetchMock.mock.calls[0] as unknown as [string])[0]).toBe(`/api/sessions/${SID}/cancel`);
  });
});

// ---- needs-you-first ----

const run = (over: Partial<RunningSession>): RunningSession => ({
  session_id: SID,
  project_path: '/home/dev/app',
  command_type: 'execute',
  model: null,
  started_at: 1000,
  status: 'running',
  live: true,
  health: { alive: true, processes: 1, cpu_seconds: 1, rss_bytes: 1, seconds_since_output: 1, waiting_for_you: 0 },
  ...over,
});
const past = (id: string, first: string, at: number, project = '/home/dev/app'): SessionInfo => ({
  id,
  project_id: '-home-dev-app',
  project_path: project,
  created_at: at,
  first_message: first,
  message_timestamp: null,
});

describe('the overview', () => {
  const A = 'aaaaaaaa-0000-4000-8000-000000000000';
  const B = 'bbbbbbbb-0000-4000-8000-000000000000';
  const C = 'cccccccc-0000-4000-8000-000000000000';
  const D = 'dddddddd-0000-4000-8000-000000000000';

  it('merges runs and transcripts, waiting for you first, then running, stopped, then the rest newest first', () => {
    const runs = [
      run({ session_id: A, started_at: 3000 }),
      run({ session_id: B, started_at: 1000, health: { alive: true, processes: 1, cpu_seconds: 1, rss_bytes: 1, seconds_since_output: 1, waiting_for_you: 2 } }),
      run({ session_id: C, status: 'finished', outcome: 'error', finished_at: 5000, health: null, live: false }),
    ];
    const list = mergeOverview(runs, [past(A, 'make it fast', 2000), past(D, 'old work', 100)], () => null);
    expect(list.map((e) => [e.sessionId, e.state])).toEqual([
      [B, 'waiting'],
      [A, 'running'],
      [C, 'failed'],
      [D, 'past'],
    ]);
    expect(list[0].waiting).toBe(2);
    expect(list[1].title).toBe('make it fast');
    expect(list[1].projectId).toBe('-home-dev-app');
  });

  it("a tab's pending approval counts before the next poll; the count goes to the title and the badge", () => {
    const runs = [run({ session_id: A })];
    expect(waitingSessions(runs, {})).toBe(0);
    expect(waitingSessions(runs, { [A]: { approvals: 1, running: true } })).toBe(1);
    expect(mergeOverview(runs, [], () => null, { [A]: { approvals: 1, running: true } })[0].state).toBe('waiting');
    expect(mergeOverview(runs, [], () => null, { [A]: { approvals: 0, running: true, title: 'fix the build' } })[0].title).toBe('fix the build');
    expect(titleFor(2)).toBe('(2) opcode');
    expect(titleFor(0)).toBe('opcode');
    const nav = { setAppBadge: vi.fn(async () => {}), clearAppBadge: vi.fn(async () => {}) };
    setBadge(3, nav);
    expect(nav.setAppBadge).toHaveBeenCalledWith(3);
    setBadge(0, nav);
    expect(nav.clearAppBadge).toHaveBeenCalled();
    expect(() => setBadge(1, {})).not.toThrow(); // no badges on this platform
  });

  it('a session has an address', () => {
    const s = newSession(SID, SID, '/p');
    expect(hashFor({ active: SID, pane: null, sessions: { [SID]: s } })).toBe(`#session=${SID}`);
    expect(hashFor({ active: null, pane: 'runs', sessions: {} })).toBe('#runs');
    expect(hashFor({ active: null, pane: 'agents', sessions: {} })).toBe('#agents');
    expect(sessionFromHash(`#session=${SID}`)).toBe(SID);
    expect(sessionFromHash('#session=../../etc')).toBeNull();
  });
});

// ---- dictation ----

class FakeRecognition implements RecognitionLike {
  static last: FakeRecognition | null = null;
  continuous = false;
  interimResults = false;
  lang = '';
  started = false;
  onresult: RecognitionLike['onresult'] = null;
  onerror: RecognitionLike['onerror'] = null;
  onend: (() => void) | null = null;
  constructor() {
    FakeRecognition.last = this;
  }
  start() {
    this.started = true;
  }
  stop() {
    this.started = false;
    this.onend?.();
  }
  say(...parts: [string, boolean][]) {
    const results = parts.map(([t, isFinal]) => Object.assign([{ transcript: t }], { isFinal })) as unknown as ResultListLike;
    this.onresult?.({ resultIndex: 0, results });
  }
}

describe('dictation', () => {
  let container: HTMLDivElement;
  let root: Root;
  beforeEach(() => {
    container = document.createElement('div');
    document.body.appendChild(container);
    root = createRoot(container);
  });
  afterEach(() => {
    act(() => root.unmount());
    container.remove();
    vi.unstubAllGlobals();
    delete (window as { webkitSpeechRecognition?: unknown }).webkitSpeechRecognition;
  });
  const q = (id: string) => container.querySelector(`[data-testid="${id}"]`) as HTMLElement | null;

  it('is hidden where the browser has no speech recognition', async () => {
    expect(recognitionCtor(window)).toBeNull();
    await act(async () => root.render(<Composer placeholder="x" onSend={() => {}} />));
    expect(q('dictate-button')).toBeNull();
    expect(q('send-button')).not.toBeNull();
  });

  it('fills the prompt box through webkitSpeechRecognition, after what was typed', async () => {
    (window as { webkitSpeechRecognition?: unknown }).webkitSpeechRecognition = FakeRecognition;
    const sent: string[] = [];
    await act(async () => root.render(<Composer placeholder="x" onSend={(t) => void sent.push(t)} />));
    const input = q('prompt-input') as HTMLTextAreaElement;
    await act(async () => {
      Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value')!.set!.call(input, 'Please');
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await act(async () => q('dictate-button')!.dispatchEvent(new MouseEvent('click', { bubbles: true })));
    const rec = FakeRecognition.last!;
    expect(rec.started).toBe(true);
    expect(rec.interimResults).toBe(true);
    expect(q('dictate-button')!.getAttribute('aria-pressed')).toBe('true');
    await act(async () => rec.say(['run the', false]));
    expect(input.value).toBe('Please run the');
    await act(async () => rec.say(['run the tests', true]));
    expect(input.value).toBe('Please run the tests');
    await act(async () => q('dictate-button')!.dispatchEvent(new MouseEvent('click', { bubbles: true })));
    expect(rec.started).toBe(false);
    expect(q('dictate-button')!.getAttribute('aria-pressed')).toBe('false');
    await act(async () => q('send-button')!.dispatchEvent(new MouseEvent('click', { bubbles: true })));
    expect(sent).toEqual(['Please run the tests']);
  });

  it('joins recognised words to the typed text', () => {
    const r = (t: string) => Object.assign([Object.assign([{ transcript: t }], { isFinal: true })], {}) as unknown as ResultListLike;
    expect(dictatedText('', r('hello'))).toBe('hello');
    expect(dictatedText('say ', r('hello'))).toBe('say hello');
    expect(dictatedText('say', r(' '))).toBe('say');
  });
});
