// Glue between the store and the network: starts runs (execute / continue / resume), attaches to running
// sessions, loads history pages, cancels, closes tabs, and remembers open tabs across reloads.
// One SessionLink per tab at most.

import { api, ApiError, type PermissionAnswer } from './api';
import type { ClaudeRequest, CommandType, ControlMessage, PermissionMode, RunningSession } from './events';
import { SessionLink, type SocketFactory } from './connection';
import type { Action, AppState } from './reducer';
import type { Store } from './store';
import { newUuid } from './uuid';

export interface RunOptions {
  commandType: CommandType;
  projectPath: string;
  prompt: string;
  model?: string | null;
  /** Required for resume; for execute a fresh UUID is made when absent. */
  sessionId?: string | null;
  projectId?: string | null;
  /** Start a live session (one process across turns, tools approved from here). */
  live?: boolean;
  permissionMode?: PermissionMode | null;
}

/** How a control message went out: on the tab's open socket, over REST, or not at all. */
export type SendResult = 'socket' | 'rest' | 'failed';

export interface ControllerDeps {
  baseUrl: string;
  socketFactory?: SocketFactory;
  storage?: Pick<Storage, 'getItem' | 'setItem'> | null;
}

const TABS_KEY = 'opcode-web.tabs';
const ACTIVE_KEY = 'opcode-web.active';

interface SavedTab {
  sessionId: string;
  projectPath: string;
  projectId: string | null;
}

export class Controller {
  private readonly links = new Map<string, SessionLink>();
  private readonly store: Store<AppState, Action>;
  private readonly deps: ControllerDeps;

  constructor(store: Store<AppState, Action>, deps: ControllerDeps) {
    this.store = store;
    this.deps = deps;
    store.subscribe(() => this.saveTabs());
  }

  /** Starts a run and returns the key of its tab. */
  run(opts: RunOptions): string {
    const model = opts.model?.trim() || null;
    let sessionId: string | null;
    let key: string;
    if (opts.commandType === 'continue') {
      sessionId = null;
      key = `pending:${newUuid()}`;
    } else {
      sessionId = opts.sessionId ?? (opts.commandType === 'execute' ? newUuid() : null);
      if (!sessionId) throw new Error('resume needs a session id');
      key = sessionId;
    }
    const { dispatch } = this.store;
    const live = opts.live === true;
    const permissionMode = live ? (opts.permissionMode ?? 'default') : null;
    dispatch({ type: 'open', key, sessionId, projectPath: opts.projectPath, projectId: opts.projectId, model });
    dispatch({ type: 'prompt-sent', key, prompt: opts.prompt, commandType: opts.commandType, model, live, permissionMode });
    this.links.get(key)?.stop();
    this.connect(key, sessionId, {
      command_type: opts.commandType,
      project_path: opts.projectPath,
      prompt: opts.prompt,
      ...(model ? { model } : {}),
      ...(sessionId ? { session_id: sessionId } : {}),
      include_partial_messages: true,
      ...(live ? { live: true, permission_mode: permissionMode ?? 'default' } : {}),
    });
    return key;
  }

  /** Takes a live session up again in one action: a live `resume` without a prompt (claude starts and waits
   *  for the next prompt; the session's seq numbering continues in the same tab). */
  resumeLive(key: string): boolean {
    const s = this.store.getState().sessions[key];
    if (!s?.sessionId || !s.projectPath || s.status === 'running') return false;
    this.run({
      commandType: 'resume',
      projectPath: s.projectPath,
      prompt: '',
      sessionId: s.sessionId,
      projectId: s.projectId,
      model: s.model,
      live: true,
      permissionMode: (s.permissionMode ?? 'default') as PermissionMode,
    });
    return true;
  }

  /** Resume from the running-sessions view: in the session's tab when it has one, else in a new tab that
   *  also shows the transcript so far (when the project is known). */
  resumeRun(run: Pick<RunningSession, 'session_id' | 'project_path' | 'model' | 'permission_mode'>, projectId: string | null): void {
    const key = run.session_id;
    const open = this.store.getState().sessions[key];
    if (open) {
      this.store.dispatch({ type: 'activate', key });
      if (open.status !== 'running') this.resumeLive(key);
      return;
    }
    this.run({
      commandType: 'resume',
      projectPath: run.project_path,
      prompt: '',
      sessionId: key,
      projectId,
      model: run.model,
      live: true,
      permissionMode: run.permission_mode ?? 'default',
    });
    if (projectId) void this.loadHistory(key);
  }

  /** A follow-up turn for a running live session, written to the same claude process. */
  async prompt(key: string, prompt: string): Promise<SendResult> {
    const s = this.store.getState().sessions[key];
    if (!s?.sessionId) return 'failed';
    this.store.dispatch({ type: 'follow-up-sent', key, prompt });
    return this.control(key, { type: 'prompt', session_id: s.sessionId, prompt }, () => api.prompt(s.sessionId as string, prompt));
  }

  /** Answers a permission request. A request already answered elsewhere is not an error: its
   *  `permission_resolved` event arrives anyway. */
  async respond(key: string, requestId: string, answer: PermissionAnswer): Promise<SendResult> {
    const s = this.store.getState().sessions[key];
    if (!s?.sessionId) return 'failed';
    const msg: ControlMessage = {
      type: 'permission_response',
      session_id: s.sessionId,
      request_id: requestId,
      behavior: answer.behavior,
      ...(answer.updated_input !== undefined ? { updated_input: answer.updated_input } : {}),
      ...(answer.message ? { message: answer.message } : {}),
    };
    return this.control(key, msg, () => api.respond(s.sessionId as string, requestId, answer), true);
  }

  /** Stops the current turn of a live session; the session stays usable. */
  async interrupt(key: string): Promise<SendResult> {
    const s = this.store.getState().sessions[key];
    if (!s?.sessionId) return 'failed';
    return this.control(key, { type: 'interrupt', session_id: s.sessionId }, () => api.interrupt(s.sessionId as string));
  }

  /** Closes claude's input: the live process finishes and the run completes. */
  async end(key: string): Promise<SendResult> {
    const s = this.store.getState().sessions[key];
    if (!s?.sessionId) return 'failed';
    return this.control(key, { type: 'end', session_id: s.sessionId }, () => api.end(s.sessionId as string));
  }

  /** Sends on the tab's open socket when there is one, else over REST. */
  private async control(
    key: string,
    msg: ControlMessage,
    rest: () => Promise<unknown>,
    conflictIsFine = false,
  ): Promise<SendResult> {
    const link = this.links.get(key);
    if (link?.send(msg)) return 'socket';
    try {
      await rest();
      return 'rest';
    } catch (e) {
      if (conflictIsFine && e instanceof ApiError && e.status === 409) {
        this.store.dispatch({ type: 'note', key, text: `Already answered: ${e.message}` });
      } else {
        this.store.dispatch({ type: 'local-error', key, message: `${msg.type} failed: ${errorText(e)}` });
      }
      return 'failed';
    }
  }

  /** Opens a tab on a session the server runs (or ran) and follows it live. */
  attach(sessionId: string, projectPath: string, projectId: string | null, activate = true): void {
    this.store.dispatch({ type: 'open', key: sessionId, sessionId, projectPath, projectId, activate });
    const link = this.links.get(sessionId);
    if (link && link.state !== 'closed') return;
    link?.stop(); // a finished link: attach again (the session may have run again since, e.g. from another device)
    this.connect(sessionId, sessionId, undefined, () => {
      // the server no longer has this run (aged out, or another data dir): show Claude's transcript instead
      if (this.store.getState().sessions[sessionId]?.projectId) void this.loadHistory(sessionId);
      else this.store.dispatch({ type: 'local-error', key: sessionId, message: 'The server no longer has this run.' });
    });
  }

  /** Opens a tab on a past session and shows its transcript; attaches when the server is running it. */
  async openPast(sessionId: string, projectPath: string, projectId: string): Promise<void> {
    this.store.dispatch({ type: 'open', key: sessionId, sessionId, projectPath, projectId });
    let running = false;
    try {
      running = (await api.running()).some((r) => r.session_id === sessionId && r.status === 'running');
    } catch {
      running = false;
    }
    if (running) this.attach(sessionId, projectPath, projectId);
    else await this.loadHistory(sessionId);
  }

  /** The tab believes its run is in progress but the server has nothing more for it: ask the server how the
   *  run ended, so the tab never stays "running" forever. */
  private async reconcile(key: string): Promise<void> {
    const s = this.store.getState().sessions[key];
    if (!s?.sessionId || s.status !== 'running') return;
    let run: RunningSession | undefined;
    try {
      run = (await api.running()).find((r) => r.session_id === s.sessionId);
    } catch {
      run = undefined;
    }
    if (run?.status === 'running') return; // it runs again (another viewer resumed it): nothing to settle here
    this.store.dispatch({
      type: 'run-ended-unseen',
      key,
      outcome: run?.outcome ?? 'error',
      unexpected: run ? run.exited_unexpectedly === true : true,
    });
  }

  async loadHistory(key: string): Promise<void> {
    const s = this.store.getState().sessions[key];
    if (!s || !s.sessionId || !s.projectId) return;
    const before = s.history.loaded ? s.history.nextBefore : undefined;
    if (s.history.loaded && before === null) return;
    try {
      const page = await api.history(s.sessionId, s.projectId, before);
      this.store.dispatch({ type: 'history', key, page });
    } catch (e) {
      this.store.dispatch({ type: 'local-error', key, message: `Could not load history: ${errorText(e)}` });
    }
  }

  async cancel(key: string): Promise<void> {
    const s = this.store.getState().sessions[key];
    if (!s?.sessionId) return;
    try {
      await api.cancel(s.sessionId);
    } catch (e) {
      this.store.dispatch({ type: 'local-error', key, message: `Cancel failed: ${errorText(e)}` });
    }
  }

  close(key: string): void {
    this.links.get(key)?.stop();
    this.links.delete(key);
    this.store.dispatch({ type: 'close', key });
  }

  /** Re-opens the tabs of the previous visit, re-attaches to them (replaying their events; the server keeps
   *  them across its restarts) and shows the tab that was shown. */
  restoreTabs(): void {
    const raw = this.deps.storage?.getItem(TABS_KEY);
    const active = this.deps.storage?.getItem(ACTIVE_KEY); // read first: opening the tabs saves over it
    if (!raw) return;
    let saved: SavedTab[] = [];
    try {
      saved = JSON.parse(raw) as SavedTab[];
    } catch {
      return;
    }
    for (const t of Array.isArray(saved) ? saved : []) {
      if (t && typeof t.sessionId === 'string') this.attach(t.sessionId, t.projectPath ?? '', t.projectId ?? null, false);
    }
    const { sessions, active: current, runsView } = this.store.getState();
    if (active && sessions[active] && current === null && !runsView) this.store.dispatch({ type: 'activate', key: active });
  }

  private saveTabs() {
    const storage = this.deps.storage;
    if (!storage) return;
    const { sessions, order } = this.store.getState();
    const tabs: SavedTab[] = order
      .map((k) => sessions[k])
      .filter((s) => s && s.sessionId)
      .map((s) => ({ sessionId: s.sessionId as string, projectPath: s.projectPath, projectId: s.projectId }));
    const text = JSON.stringify(tabs);
    const active = this.store.getState().active;
    const activeId = active ? (sessions[active]?.sessionId ?? '') : '';
    try {
      if (storage.getItem(TABS_KEY) !== text) storage.setItem(TABS_KEY, text);
      if ((storage.getItem(ACTIVE_KEY) ?? '') !== activeId) storage.setItem(ACTIVE_KEY, activeId);
    } catch {
      /* storage full or disabled */
    }
  }

  private connect(
    initialKey: string,
    sessionId: string | null,
    request: ClaudeRequest | undefined,
    onUnknown?: () => void,
  ) {
    let key = initialKey;
    const { dispatch, getState } = this.store;
    const link = new SessionLink({
      baseUrl: this.deps.baseUrl,
      sessionId,
      request,
      socketFactory: this.deps.socketFactory,
      batchMs: 16,
      getLastSeq: (id) => getState().sessions[id]?.lastSeq ?? -1,
      onEvents: (events) => dispatch({ type: 'events', events }),
      onState: (state) => dispatch({ type: 'conn', key, state }),
      onRequestError: (message) => dispatch({ type: 'request-error', key, message }),
      onControlError: (message) => dispatch({ type: 'note', key, text: `Server: ${message}` }),
      onBind: (id) => {
        dispatch({ type: 'bind', key, sessionId: id });
        this.links.delete(key);
        this.links.get(id)?.stop();
        key = id;
        this.links.set(id, link);
      },
      onFatal: (message) => {
        if (onUnknown) onUnknown();
        else dispatch({ type: 'local-error', key, message });
      },
      onEndedUnseen: () => void this.reconcile(key),
    });
    this.links.set(key, link);
    dispatch({ type: 'conn', key, state: 'connecting' });
    link.start();
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function wsBaseUrl(loc: Pick<Location, 'protocol' | 'host'> = window.location): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}`;
}
