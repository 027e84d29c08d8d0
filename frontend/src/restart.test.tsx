// Runs that survive a server restart, in the UI: a completion appended at start-up for a run the previous
// server left behind shows why and Resume; Resume is a live `resume` without a prompt, in the same tab, and
// the prompt box waits for its `start`; tabs (and the shown one) come back after a reload; the Runs view shows
// health, "waiting for you", and resumes a stopped live session in one click.
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { renderToStaticMarkup } from 'react-dom/server';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RunsView } from './components/RunsView';
import { SessionTab, StoppedBanner } from './components/SessionTab';
import { TabStrip } from './components/TabStrip';
import { AppContext } from './context';
import { Controller } from './controller';
import type { CompletionEvent, RunningSession, SessionEvent } from './events';
import { canResumeLive, composerMode, initialState, reducer, stoppedBy, type Action, type AppState } from './reducer';
import { createStore } from './store';
import { OTHER, SID, completion, error, init, liveStart, output, resultLine, start, userPrompt } from './test/fixtures';
import { FakeSocket } from './test/fake-socket';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const RESTART = 'the server restarted while this run was in progress; its process is gone. Resume the session to go on';

function restartEnd(seq: number, session_id = SID): SessionEvent[] {
  return [
    { type: 'error', session_id, seq, message: RESTART },
    { type: 'completion', session_id, seq: seq + 1, status: 'error', exit_code: null, signal: null, error: RESTART },
  ];
}

const liveRun = (session_id = SID): SessionEvent[] => [
  liveStart(0, session_id),
  userPrompt(1, 'hello', session_id),
  output(2, init(session_id), session_id),
  output(3, resultLine(), session_id),
];

const open = (state: AppState = initialState, key = SID) =>
  reducer(state, { type: 'open', key, sessionId: key, projectPath: '/p' });
const apply = (state: AppState, events: SessionEvent[]) => reducer(state, { type: 'events', events });

describe('reducer: a run that ended on its own', () => {
  it('a live run cut short by a restart: stopped (server-restart), resumable', () => {
    const s = apply(open(), [...liveRun(), ...restartEnd(4)]).sessions[SID];
    expect(s.status).toBe('error');
    expect(s.stopped).toEqual({ reason: 'server-restart', message: RESTART });
    expect(canResumeLive(s)).toBe(true);
    expect(composerMode(s)).toBe('resume');
    expect(s.items.some((i) => i.kind === 'error' && i.message === RESTART)).toBe(true);
  });

  it('a one-shot run cut short by a restart: stopped, but Resume needs a prompt', () => {
    const s = apply(open(), [start(0), output(1, init()), ...restartEnd(2)]).sessions[SID];
    expect(s.stopped?.reason).toBe('server-restart');
    expect(canResumeLive(s)).toBe(false);
  });

  it('a live claude that died: stopped (exited); a success or a cancel is not', () => {
    const died = apply(open(), [...liveRun(), error(4, 'boom'), { ...completion(5, 'error'), exit_code: 1, error: 'claude ended with exit code 1' } as SessionEvent]);
    expect(died.sessions[SID].stopped).toEqual({ reason: 'exited', message: 'claude ended with exit code 1' });
    expect(canResumeLive(died.sessions[SID])).toBe(true);
    const ended = apply(open(), [...liveRun(), completion(4, 'success')]);
    expect(ended.sessions[SID].stopped).toBeNull();
    const cancelled = apply(open(), [...liveRun(), { type: 'cancelled', session_id: SID, seq: 4 }, completion(5, 'cancelled')]);
    expect(cancelled.sessions[SID].stopped).toBeNull();
    expect(canResumeLive(cancelled.sessions[SID])).toBe(false);
  });

  it('stoppedBy: describes an exit without an error text', () => {
    const ev = (over: Partial<CompletionEvent>): CompletionEvent => ({ ...(completion(1, 'error') as CompletionEvent), ...over });
    expect(stoppedBy(ev({ exit_code: null, signal: 9 }), true)?.message).toBe('claude ended with signal 9');
    expect(stoppedBy(ev({ exit_code: 2 }), true)?.message).toBe('claude ended with exit code 2');
    expect(stoppedBy(ev({ exit_code: 2 }), false)).toBeNull();
  });

  it('a live resume without a prompt: no bubble, the prompt box waits for start, start clears stopped', () => {
    let st = apply(open(), [...liveRun(), ...restartEnd(4)]);
    const bubbles = st.sessions[SID].items.filter((i) => i.kind === 'user-text').length;
    st = reducer(st, { type: 'prompt-sent', key: SID, prompt: '', commandType: 'resume', live: true, permissionMode: 'default' });
    let s = st.sessions[SID];
    expect(s.items.filter((i) => i.kind === 'user-text')).toHaveLength(bubbles);
    expect(s.status).toBe('running');
    expect(s.starting).toBe(true);
    expect(s.stopped).toBeNull();
    expect(composerMode(s)).toBe('unavailable');
    st = apply(st, [{ ...liveStart(6), command_type: 'resume' } as SessionEvent]);
    s = st.sessions[SID];
    expect(s.starting).toBe(false);
    expect(s.lastSeq).toBe(6);
    expect(composerMode(s)).toBe('follow-up');
    // a refused request ends the wait too
    const refused = reducer(reducer(st, { type: 'prompt-sent', key: SID, prompt: '', commandType: 'resume', live: true }), {
      type: 'request-error',
      key: SID,
      message: 'no',
    });
    expect(refused.sessions[SID].starting).toBe(false);
  });

  it('the banner: why, and Resume only for a live session (a one-shot one needs a prompt)', () => {
    const banner = (events: SessionEvent[]) =>
      renderToStaticMarkup(<StoppedBanner s={apply(open(), events).sessions[SID]} onResume={() => {}} />);
    const live = banner([...liveRun(), ...restartEnd(4)]);
    expect(live).toContain('data-reason="server-restart"');
    expect(live).toContain('The server restarted during this run');
    expect(live).toContain('data-testid="resume-button"');
    const oneShot = banner([start(0), output(1, init()), ...restartEnd(2)]);
    expect(oneShot).toContain('The server restarted during this run');
    expect(oneShot).not.toContain('resume-button');
    expect(oneShot).toContain('Send a prompt below to continue this session.');
    const died = banner([...liveRun(), { ...completion(4, 'error'), exit_code: 1, error: 'claude ended with exit code 1' } as SessionEvent]);
    expect(died).toContain('Claude stopped unexpectedly');
    expect(died).toContain('claude ended with exit code 1');
    expect(banner([...liveRun(), completion(4, 'success')])).toBe('');
  });

  it('the runs view and tabs: show-pane, activating a tab or home leaves it', () => {
    let st = open(open(), OTHER);
    st = reducer(st, { type: 'show-pane', pane: 'runs' });
    expect(st.pane).toBe('runs');
    expect(reducer(st, { type: 'show-pane', pane: 'runs' })).toBe(st);
    expect(reducer(st, { type: 'activate', key: OTHER }).pane).toBe(null);
    expect(reducer(st, { type: 'activate', key: null }).pane).toBe(null);
    expect(reducer(st, { type: 'open', key: SID, sessionId: SID, projectPath: '/p', activate: false }).pane).toBe('runs');
    expect(reducer(st, { type: 'open', key: 'x', sessionId: 'x', projectPath: '/p' }).pane).toBe(null);
    expect(reducer(st, { type: 'close', key: SID }).pane).toBe('runs');
  });
});


class MemoryStorage {
  data = new Map<string, string>();
  getItem(k: string) {
    return this.data.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.data.set(k, v);
  }
}

describe('a tab across a server restart', () => {
  let container: HTMLDivElement;
  let root: Root;
  let controller: Controller;
  let store: ReturnType<typeof createStore<AppState, Action>>;
  let storage: MemoryStorage;

  beforeEach(() => {
    FakeSocket.all = [];
    storage = new MemoryStorage();
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
    vi.useRealTimers();
  });

  const q = (id: string) => container.querySelector(`[data-testid="${id}"]`) as HTMLElement | null;
  const flush = () => act(() => new Promise((r) => setTimeout(r, 40))); // the link batches events (16 ms)
  const click = (el: HTMLElement | null) => act(() => el!.dispatchEvent(new MouseEvent('click', { bubbles: true })));
  const render = (key = SID) =>
    act(() =>
      root.render(
        <AppContext.Provider value={{ store, controller }}>
          <TabStrip />
          <SessionTab tabKey={key} />
        </AppContext.Provider>,
      ),
    );

  it('reattaches with since=<last seq> after the drop, shows the restart and Resume; Resume takes it up live', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    await act(async () => {
      controller.run({ commandType: 'execute', projectPath: '/p', prompt: 'hello', sessionId: SID, live: true });
    });
    await render();
    const first = FakeSocket.all[0];
    await act(async () => first.open());
    for (const ev of liveRun()) first.emit(ev);
    await act(async () => vi.advanceTimersByTime(20));
    expect(q('session-view')?.getAttribute('data-composer-mode')).toBe('follow-up');

    // the server is killed: the socket drops, the link retries (the server is down: refused), then it is back
    await act(async () => first.serverClose(1006));
    expect(q('conn-state')?.textContent).toBe('reconnecting');
    await act(async () => vi.advanceTimersByTime(250));
    const refused = FakeSocket.all[1];
    expect(refused.url).toBe(`ws://x/ws/sessions/${SID}?since=3`);
    await act(async () => refused.serverClose(1006));
    await act(async () => vi.advanceTimersByTime(500));
    const back = FakeSocket.all[2];
    expect(back.url).toBe(`ws://x/ws/sessions/${SID}?since=3`);
    await act(async () => back.open());
    for (const ev of restartEnd(4)) back.emit(ev);
    await act(async () => vi.advanceTimersByTime(20));
    vi.useRealTimers();

    expect(q('run-status')?.getAttribute('data-status')).toBe('error');
    expect(q('conn-state')?.textContent).toBe('closed');
    expect(q('run-stopped')?.getAttribute('data-reason')).toBe('server-restart');
    expect(q('run-stopped')?.textContent).toContain('The server restarted during this run');
    expect(q('run-stopped-message')?.textContent).toBe(RESTART);
    expect(q('session-view')?.getAttribute('data-composer-mode')).toBe('resume');

    await click(q('resume-button'));
    const resume = FakeSocket.all[3];
    expect(resume.url).toBe('ws://x/ws/claude');
    await act(async () => resume.open());
    expect(resume.messages()[0]).toEqual({
      command_type: 'resume',
      project_path: '/p',
      prompt: '',
      session_id: SID,
      include_partial_messages: true,
      live: true,
      permission_mode: 'default',
    });
    expect(q('run-stopped')).toBeNull();
    expect(q('session-view')?.getAttribute('data-composer-mode')).toBe('unavailable'); // until start
    expect((q('prompt-input') as HTMLTextAreaElement).placeholder).toBe('Starting claude…');

    resume.emit({ ...liveStart(6), command_type: 'resume' });
    await flush();
    expect(q('session-view')?.getAttribute('data-composer-mode')).toBe('follow-up');
    expect(q('run-status')?.getAttribute('data-status')).toBe('running');
    expect(store.getState().sessions[SID].items.filter((i) => i.kind === 'user-text').map((i) => (i as { text: string }).text)).toEqual(['hello']);

    // the next prompt goes to the new process on the same socket
    await act(async () => {
      await controller.prompt(SID, 'again');
    });
    expect(resume.messages().at(-1)).toMatchObject({ type: 'prompt', session_id: SID, prompt: 'again' });
  });

  it('after a reload: the saved tabs reattach and the shown tab is shown again', async () => {
    controller.attach(SID, '/p', null, false);
    controller.attach(OTHER, '/q', 'proj-q', true);
    expect(JSON.parse(storage.getItem('opcode-web.tabs')!)).toEqual([
      { sessionId: SID, projectPath: '/p', projectId: null },
      { sessionId: OTHER, projectPath: '/q', projectId: 'proj-q' },
    ]);
    expect(storage.getItem('opcode-web.active')).toBe(OTHER);

    // a new page: a fresh store and controller over the same storage
    FakeSocket.all = [];
    const store2 = createStore<AppState, Action>(reducer, initialState);
    const c2 = new Controller(store2, { baseUrl: 'ws://x', socketFactory: (u) => new FakeSocket(u), storage });
    c2.restoreTabs();
    expect(store2.getState().order).toEqual([SID, OTHER]);
    expect(store2.getState().active).toBe(OTHER);
    expect(FakeSocket.all.map((s) => s.url)).toEqual([`ws://x/ws/sessions/${SID}`, `ws://x/ws/sessions/${OTHER}`]);
    // it replays the run, ended by the restart: Resume is offered
    const ws = FakeSocket.all[0];
    ws.open();
    for (const ev of [...liveRun(), ...restartEnd(4)]) ws.emit(ev);
    expect(canResumeLive(store2.getState().sessions[SID])).toBe(true);
  });

  it('a tab whose run the server no longer has says so (no project to read the transcript from)', async () => {
    controller.attach(SID, '/p', null);
    const ws = FakeSocket.all[0];
    ws.serverClose(4404);
    const s = store.getState().sessions[SID];
    expect(s.items.some((i) => i.kind === 'error' && i.message.includes('no longer has this run'))).toBe(true);
  });

  it('a log that ends before what the tab showed (the server lost its end): the tab asks how the run ended', async () => {
    const fetchMock = vi.fn(
      async () =>
        new Response(
          JSON.stringify({
            success: true,
            data: [{ session_id: SID, project_path: '/p', command_type: 'execute', model: null, started_at: 1, status: 'finished', live: true, outcome: 'error', exited_unexpectedly: true, resumable: true }],
            error: null,
          }),
          { status: 200 },
        ),
    );
    vi.stubGlobal('fetch', fetchMock);
    controller.attach(SID, '/p', null);
    const ws = FakeSocket.all[0];
    ws.open();
    for (const ev of liveRun()) ws.emit(ev);
    await act(async () => ws.serverClose(1000)); // drained, nothing live, and no completion came
    await act(() => new Promise((r) => setTimeout(r, 0)));
    expect(fetchMock).toHaveBeenCalledTimes(1);
    const s = store.getState().sessions[SID];
    expect(s.status).toBe('error');
    expect(s.conn).toBe('closed');
    expect(s.stopped?.reason).toBe('exited');
    expect(canResumeLive(s)).toBe(true);
    expect(s.items.at(-1)).toMatchObject({ kind: 'error', message: expect.stringContaining('no longer has its last events') });
  });

  it('attaching again to a tab whose link has finished opens a new link from its last seq', async () => {
    controller.attach(SID, '/p', null);
    const ws = FakeSocket.all[0];
    ws.open();
    for (const ev of [...liveRun(), ...restartEnd(4)]) ws.emit(ev);
    expect(store.getState().sessions[SID].conn).toBe('closed');
    controller.attach(SID, '/p', null);
    expect(FakeSocket.all).toHaveLength(2);
    expect(FakeSocket.all[1].url).toBe(`ws://x/ws/sessions/${SID}?since=5`);
    controller.attach(SID, '/p', null); // still open: nothing new
    expect(FakeSocket.all).toHaveLength(2);
  });
});

describe('the Runs view', () => {
  let container: HTMLDivElement;
  let root: Root;
  let controller: Controller;
  let store: ReturnType<typeof createStore<AppState, Action>>;

  const running = (over: Partial<RunningSession> = {}): RunningSession => ({
    session_id: SID,
    project_path: '/work/app',
    command_type: 'execute',
    model: null,
    started_at: Math.floor(Date.now() / 1000) - 600,
    status: 'running',
    live: true,
    permission_mode: 'acceptEdits',
    outcome: null,
    finished_at: null,
    exited_unexpectedly: false,
    resumable: false,
    events: 9,
    health: { alive: true, processes: 2, cpu_seconds: 3.26, rss_bytes: 150 * 1024 * 1024, seconds_since_output: 125, waiting_for_you: 1 },
    run_id: 7,
    ...over,
  });
  const stopped: RunningSession = {
    ...running({ session_id: OTHER, project_path: '/work/lib', health: null }),
    status: 'finished',
    outcome: 'error',
    finished_at: Math.floor(Date.now() / 1000) - 60,
    exited_unexpectedly: true,
    resumable: true,
  };

  beforeEach(() => {
    FakeSocket.all = [];
    store = createStore<AppState, Action>(reducer, { ...initialState, pane: 'runs' });
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

  const rows = () => [...container.querySelectorAll('[data-testid="run-row"]')] as HTMLElement[];
  const click = (el: Element | null) => act(() => el!.dispatchEvent(new MouseEvent('click', { bubbles: true })));
  const settle = () => act(() => new Promise((r) => setTimeout(r, 0)));

  function serve(list: RunningSession[]) {
    const fetchMock = vi.fn(async () => new Response(JSON.stringify({ success: true, data: list, error: null }), { status: 200 }));
    vi.stubGlobal('fetch', fetchMock);
    return fetchMock;
  }

  const render = () =>
    act(() =>
      root.render(
        <AppContext.Provider value={{ store, controller }}>
          <RunsView projectIdFor={(p) => (p === '/work/lib' ? '-work-lib' : null)} intervalMs={60_000} />
        </AppContext.Provider>,
      ),
    );

  it('lists runs most urgent first with their health and a waiting-for-you badge', async () => {
    const fetchMock = serve([
      stopped,
      running({ session_id: 'done', status: 'finished', outcome: 'success', finished_at: Math.floor(Date.now() / 1000) - 300, health: null, live: false }),
      running(),
    ]);
    await render();
    await settle();
    expect(fetchMock).toHaveBeenCalledWith('/api/sessions/running', expect.objectContaining({ method: 'GET' }));
    expect(rows().map((r) => r.getAttribute('data-category'))).toEqual(['waiting', 'stopped', 'finished']);
    const first = rows()[0];
    expect(first.querySelector('[data-testid="waiting-badge"]')?.textContent).toBe('waiting for you');
    expect(first.querySelector('[data-testid="health-alive"]')?.textContent).toBe('alive · 2 processes');
    expect(first.querySelector('[data-testid="health-cpu"]')?.textContent).toBe('CPU 3.3 s');
    expect(first.querySelector('[data-testid="health-rss"]')?.textContent).toBe('RSS 150 MB');
    expect(first.querySelector('[data-testid="health-quiet"]')?.textContent).toBe('quiet for 2 min');
    expect(first.querySelector('[data-testid="run-open"]')?.textContent).toBe('Answer');
    expect(first.querySelector('[data-testid="run-resume"]')).toBeNull();
    const second = rows()[1];
    expect(second.querySelector('[data-testid="run-state"]')?.textContent).toBe('stopped unexpectedly');
    expect(second.querySelector('[data-testid="run-end"]')?.textContent).toBe('stopped unexpectedly · 1 min ago');
    expect(second.querySelector('[data-testid="run-resume"]')).not.toBeNull();
    expect(second.querySelector('[data-testid="run-cancel"]')).toBeNull();
    expect(rows()[2].querySelector('[data-testid="run-state"]')?.textContent).toBe('success');
    expect(container.querySelector('[data-testid="runs-summary"]')?.textContent).toBe('1 in progress · 1 waiting for you · 1 stopped');
  });

  it('Resume of a session without a tab: opens one, sends the live resume, loads the transcript', async () => {
    const fetchMock = serve([stopped]);
    await render();
    await settle();
    await click(rows()[0].querySelector('[data-testid="run-resume"]'));
    const st = store.getState();
    expect(st.pane).toBe(null);
    expect(st.active).toBe(OTHER);
    expect(st.sessions[OTHER].projectId).toBe('-work-lib');
    const ws = FakeSocket.all[0];
    ws.open();
    expect(ws.messages()[0]).toMatchObject({ command_type: 'resume', session_id: OTHER, project_path: '/work/lib', prompt: '', live: true, permission_mode: 'acceptEdits' });
    expect(fetchMock.mock.calls.some((call) => String((call as unknown[])[0]).startsWith(`/api/sessions/${OTHER}/history/-work-lib?`))).toBe(true);
  });

  it('Resume of a session with a tab resumes in that tab; Open attaches', async () => {
    controller.attach(OTHER, '/work/lib', null, false);
    const replay = FakeSocket.all[0];
    replay.open();
    for (const ev of [...liveRun(OTHER), ...restartEnd(4, OTHER)]) replay.emit(ev);
    serve([running(), stopped]);
    await render();
    await settle();
    expect(rows()[1].textContent).toContain('open in a tab');
    await click(rows()[1].querySelector('[data-testid="run-resume"]'));
    expect(store.getState().active).toBe(OTHER);
    const ws = FakeSocket.all[1];
    ws.open();
    expect(ws.messages()[0]).toMatchObject({ command_type: 'resume', session_id: OTHER, prompt: '', live: true });

    store.dispatch({ type: 'show-pane', pane: 'runs' });
    await settle();
    await click(rows()[0].querySelector('[data-testid="run-open"]'));
    expect(store.getState().active).toBe(SID);
    expect(FakeSocket.all[2].url).toBe(`ws://x/ws/sessions/${SID}`);
  });

  it('shows a failed poll and asks only while shown', async () => {
    const fetchMock = vi.fn(async () => new Response('{}', { status: 502 }));
    vi.stubGlobal('fetch', fetchMock);
    await render();
    await settle();
    expect(container.querySelector('[role="alert"]')?.textContent).toContain('Could not load runs');
    expect(fetchMock).toHaveBeenCalledTimes(1);
    await click(container.querySelector('[data-testid="runs-refresh"]'));
    await settle();
    expect(fetchMock).toHaveBeenCalledTimes(2);
    await act(async () => root.render(<div />)); // the view goes away: the poller stops
    await settle();
    expect(fetchMock).toHaveBeenCalledTimes(2);
  });
});
