// Glue between the store and the network: starts runs (execute / continue / resume), attaches to running
// sessions, loads history pages, cancels, closes tabs, and remembers open tabs across reloads.
// One SessionLink per tab at most.

import { api, ApiError, errorSentence, isNetworkError, type PermissionAnswer } from './api';
import type { ClaudeRequest, CommandType, ControlMessage, ImageAttachment, PermissionMode, RunningSession } from './events';
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
  /** Images for claude to see with the prompt. */
  images?: ImageAttachment[];
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
  /** Prompts of ours claude had not confirmed when the page went away: they go out (again) on return; their
   *  client ids make a second delivery a no-op. */
  unsent?: { clientId: string; text: string }[];
}

/** A control message that could not be handed over (no connection): it goes out when the connection is back. */
interface Waiting {
  /** client id of a prompt, `perm:<request id>` of a permission answer. */
  id: string;
  msg: ControlMessage;
}

/** How soon an outbox waiting for the network is tried again (then every time a socket connects, the page
 *  comes back online or becomes visible). */
const RETRY_MS = [1000, 2000, 4000, 8000, 15000];

export class Controller {
  private readonly links = new Map<string, SessionLink>();
  /** Per tab: control messages that wait for a connection. */
  private readonly waiting = new Map<string, Waiting[]>();
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retryAttempt = 0;
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
    const images = opts.images ?? [];
    dispatch({ type: 'prompt-sent', key, prompt: opts.prompt, commandType: opts.commandType, model, live, permissionMode, images });
    this.links.get(key)?.stop();
    this.connect(key, sessionId, {
      command_type: opts.commandType,
      project_path: opts.projectPath,
      prompt: opts.prompt,
      ...(model ? { model } : {}),
      ...(sessionId ? { session_id: sessionId } : {}),
      include_partial_messages: true,
      ...(live ? { live: true, permission_mode: permissionMode ?? 'default' } : {}),
      ...(images.length ? { images } : {}),
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

  /** A follow-up turn for a running live session, written to the same claude process (or queued by the server
   *  while a turn runs). It carries a client id, so sending it again after a reconnect is never a second turn;
   *  without a connection it waits in the outbox and goes out when the connection is back. */
  async prompt(key: string, prompt: string, clientId: string = newUuid(), images: ImageAttachment[] = []): Promise<SendResult> {
    const s = this.store.getState().sessions[key];
    if (!s?.sessionId) return 'failed';
    this.store.dispatch({ type: 'follow-up-sent', key, prompt, clientId });
    return this.deliverPrompt(key, clientId, prompt, images);
  }

  private async deliverPrompt(key: string, clientId: string, prompt: string, images: ImageAttachment[] = []): Promise<SendResult> {
    const s = this.store.getState().sessions[key];
    if (!s?.sessionId) return 'failed';
    const sessionId = s.sessionId;
    const msg: ControlMessage = { type: 'prompt', session_id: sessionId, prompt, client_id: clientId, ...(images.length ? { images } : {}) };
    if (this.links.get(key)?.send(msg)) {
      this.store.dispatch({ type: 'outbox-state', key, clientId, state: 'sending' });
      return 'socket';
    }
    try {
      await api.prompt(sessionId, prompt, clientId, images);
      this.store.dispatch({ type: 'outbox-state', key, clientId, state: 'sending' });
      return 'rest';
    } catch (e) {
      if (isNetworkError(e)) {
        this.wait(key, { id: clientId, msg });
        this.store.dispatch({ type: 'outbox-state', key, clientId, state: 'waiting' });
      } else {
        const why =
          e instanceof ApiError && e.status === 409
            ? 'Not sent: this session is no longer running. Send it again to resume the session.'
            : `Not sent: ${errorSentence(e)}`;
        this.store.dispatch({ type: 'outbox-state', key, clientId, state: 'failed', error: why });
      }
      return 'failed';
    }
  }

  /** Changes the text of a prompt the server still holds in its queue. */
  async editQueued(key: string, clientId: string, prompt: string): Promise<SendResult> {
    const s = this.store.getState().sessions[key];
    if (!s?.sessionId) return 'failed';
    const sid = s.sessionId;
    const item = s.outbox.find((o) => o.clientId === clientId);
    if (item && item.state !== 'queued') {
      // not on the server yet (waiting for a connection, or refused): just change what will be sent
      this.store.dispatch({ type: 'outbox-edit', key, clientId, text: prompt });
      const w = this.waiting.get(key)?.find((x) => x.id === clientId);
      if (w && w.msg.type === 'prompt') w.msg = { ...w.msg, prompt };
      return 'socket';
    }
    return this.control(key, { type: 'edit_queued', session_id: sid, client_id: clientId, prompt }, () => api.editQueued(sid, clientId, prompt), true);
  }

  /** Takes back a prompt that claude has not received yet. */
  async unqueue(key: string, clientId: string): Promise<SendResult> {
    const s = this.store.getState().sessions[key];
    if (!s?.sessionId) return 'failed';
    const sid = s.sessionId;
    const item = s.outbox.find((o) => o.clientId === clientId);
    if (item && item.state !== 'queued') {
      this.unwait(key, clientId);
      this.store.dispatch({ type: 'outbox-remove', key, clientId });
      // it may have reached the server already: take it out of the queue there too (404 when it was not queued)
      if (item.state === 'sending') void this.control(key, { type: 'unqueue', session_id: sid, client_id: clientId }, () => api.unqueue(sid, clientId), true, true);
      return 'socket';
    }
    return this.control(key, { type: 'unqueue', session_id: sid, client_id: clientId }, () => api.unqueue(sid, clientId), true);
  }

  /** Sends a refused prompt again (a new client id: the old one may be known to the server). */
  retryFailed(key: string, clientId: string): void {
    const s = this.store.getState().sessions[key];
    const item = s?.outbox.find((o) => o.clientId === clientId);
    if (!s || !item) return;
    this.store.dispatch({ type: 'outbox-remove', key, clientId });
    if (s.status === 'running' && s.live) void this.prompt(key, item.text);
    else this.resumeWith(key, item.text);
  }

  /** A new run of the tab's session with this prompt (live again if it was live). */
  resumeWith(key: string, prompt: string, images: ImageAttachment[] = []): void {
    const s = this.store.getState().sessions[key];
    if (!s?.sessionId) return;
    this.run({
      commandType: 'resume',
      projectPath: s.projectPath,
      prompt,
      images,
      sessionId: s.sessionId,
      projectId: s.projectId,
      model: s.model,
      live: s.live,
      permissionMode: s.live ? ((s.permissionMode ?? 'default') as PermissionMode) : null,
    });
  }

  private wait(key: string, w: Waiting) {
    const list = this.waiting.get(key) ?? [];
    if (!list.some((x) => x.id === w.id)) list.push(w);
    this.waiting.set(key, list);
    this.scheduleRetry();
  }

  private unwait(key: string, id: string) {
    const list = this.waiting.get(key)?.filter((x) => x.id !== id) ?? [];
    if (list.length) this.waiting.set(key, list);
    else this.waiting.delete(key);
  }

  private scheduleRetry() {
    if (this.retryTimer !== null) return;
    const ms = RETRY_MS[Math.min(this.retryAttempt, RETRY_MS.length - 1)];
    this.retryAttempt++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.flushWaiting();
    }, ms);
  }

  /** Sends what waits for a connection (all tabs, or one), oldest first. Called when a socket connects, the page
   *  comes back online or into view, and on a backoff timer. */
  async flushWaiting(onlyKey?: string): Promise<void> {
    const keys = onlyKey ? [onlyKey] : [...this.waiting.keys()];
    for (const key of keys) {
      const list = this.waiting.get(key);
      if (!list) continue;
      this.waiting.delete(key);
      for (const w of list) {
        if (w.msg.type === 'prompt') {
          const s = this.store.getState().sessions[key];
          if (!s?.outbox.some((o) => o.clientId === w.id)) continue; // taken back meanwhile
          await this.deliverPrompt(key, w.id, w.msg.prompt, w.msg.images);
        } else {
          await this.control(key, w.msg, () => this.restFor(w.msg), true);
        }
      }
    }
    if (this.waiting.size === 0) {
      this.retryAttempt = 0;
      if (this.retryTimer !== null) clearTimeout(this.retryTimer);
      this.retryTimer = null;
    } else {
      this.scheduleRetry();
    }
  }

  /** Our prompts the server has not confirmed yet, sent again on a fresh socket (a socket that died with them
   *  in its buffer lost them; the client id makes a second delivery a no-op). */
  private resendUnconfirmed(key: string) {
    const s = this.store.getState().sessions[key];
    if (!s) return;
    for (const o of s.outbox) {
      if (o.state === 'sending' && !this.waiting.get(key)?.some((w) => w.id === o.clientId)) void this.deliverPrompt(key, o.clientId, o.text);
    }
    void this.flushWaiting(key);
  }

  private restFor(msg: ControlMessage): Promise<unknown> {
    switch (msg.type) {
      case 'prompt':
        return api.prompt(msg.session_id, msg.prompt, msg.client_id, msg.images);
      case 'permission_response':
        return api.respond(msg.session_id, msg.request_id, {
          behavior: msg.behavior,
          ...(msg.updated_input !== undefined ? { updated_input: msg.updated_input } : {}),
          ...(msg.message ? { message: msg.message } : {}),
        });
      case 'edit_queued':
        return api.editQueued(msg.session_id, msg.client_id, msg.prompt);
      case 'unqueue':
        return api.unqueue(msg.session_id, msg.client_id);
      case 'interrupt':
        return api.interrupt(msg.session_id);
      case 'end':
        return api.end(msg.session_id);
      case 'settings':
        return api.settings(msg.session_id, {
          ...(msg.model !== undefined ? { model: msg.model } : {}),
          ...(msg.permission_mode !== undefined ? { permission_mode: msg.permission_mode } : {}),
        });
    }
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
      ...(answer.remember && answer.behavior === 'allow' ? { remember: true } : {}),
    };
    return this.control(key, msg, () => api.respond(s.sessionId as string, requestId, answer), true, false, `perm:${requestId}`);
  }

  /** Stops the current turn of a live session; the session stays usable. */
  async interrupt(key: string): Promise<SendResult> {
    const s = this.store.getState().sessions[key];
    if (!s?.sessionId) return 'failed';
    this.store.dispatch({ type: 'interrupt-sent', key });
    return this.control(key, { type: 'interrupt', session_id: s.sessionId }, () => api.interrupt(s.sessionId as string));
  }

  /** Switches a live session's model and/or permission mode between turns; every viewer's transcript shows
   *  the change (its `settings_changed`). */
  async changeSettings(key: string, change: { model?: string; permission_mode?: PermissionMode }): Promise<SendResult> {
    const s = this.store.getState().sessions[key];
    if (!s?.sessionId) return 'failed';
    const msg: ControlMessage = { type: 'settings', session_id: s.sessionId, ...change };
    return this.control(key, msg, () => api.settings(s.sessionId as string, change));
  }

  /** Closes claude's input: the live process finishes and the run completes. */
  async end(key: string): Promise<SendResult> {
    const s = this.store.getState().sessions[key];
    if (!s?.sessionId) return 'failed';
    return this.control(key, { type: 'end', session_id: s.sessionId }, () => api.end(s.sessionId as string));
  }

  /** Sends on the tab's open socket when there is one, else over REST. Without a connection, a message with
   *  a `waitId` (a permission answer) waits and goes out when the connection is back. */
  private async control(
    key: string,
    msg: ControlMessage,
    rest: () => Promise<unknown>,
    conflictIsFine = false,
    quiet = false,
    waitId?: string,
  ): Promise<SendResult> {
    const link = this.links.get(key);
    if (link?.send(msg)) return 'socket';
    try {
      await rest();
      return 'rest';
    } catch (e) {
      if (waitId && isNetworkError(e)) {
        const first = !this.waiting.get(key)?.some((w) => w.id === waitId);
        this.wait(key, { id: waitId, msg });
        if (first) this.store.dispatch({ type: 'note', key, text: `No connection: your ${ACTION_NAMES[msg.type]} will be sent when the connection is back.` });
        return 'failed';
      }
      if (quiet) return 'failed';
      if (conflictIsFine && e instanceof ApiError && (e.status === 409 || e.status === 404)) {
        this.store.dispatch({ type: 'note', key, text: `Too late: ${errorSentence(e)}` });
      } else {
        this.store.dispatch({ type: 'local-error', key, message: `Your ${ACTION_NAMES[msg.type]} did not go through. ${errorSentence(e)}` });
      }
      return 'failed';
    }
  }

  /** Shows the tab of a session when there is one; false otherwise. */
  activateSession(sessionId: string): boolean {
    if (!this.store.getState().sessions[sessionId]) return false;
    this.store.dispatch({ type: 'activate', key: sessionId });
    return true;
  }

  showUsage(): void {
    this.store.dispatch({ type: 'show-pane', pane: 'usage' });
  }

  showRuns(): void {
    this.store.dispatch({ type: 'show-pane', pane: 'runs' });
  }

  showAgents(): void {
    this.store.dispatch({ type: 'show-pane', pane: 'agents' });
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
      if (!t || typeof t.sessionId !== 'string') continue;
      this.attach(t.sessionId, t.projectPath ?? '', t.projectId ?? null, false);
      for (const u of Array.isArray(t.unsent) ? t.unsent : []) {
        if (typeof u?.clientId !== 'string' || typeof u.text !== 'string') continue;
        this.store.dispatch({ type: 'follow-up-sent', key: t.sessionId, prompt: u.text, clientId: u.clientId });
        this.wait(t.sessionId, { id: u.clientId, msg: { type: 'prompt', session_id: t.sessionId, prompt: u.text, client_id: u.clientId } });
      }
    }
    const { sessions, active: current, pane } = this.store.getState();
    if (active && sessions[active] && current === null && !pane) this.store.dispatch({ type: 'activate', key: active });
  }

  private saveTabs() {
    const storage = this.deps.storage;
    if (!storage) return;
    const { sessions, order } = this.store.getState();
    const tabs: SavedTab[] = order
      .map((k) => sessions[k])
      .filter((s) => s && s.sessionId)
      .map((s) => {
        const unsent = s.outbox.filter((o) => o.state === 'waiting' || o.state === 'sending').map((o) => ({ clientId: o.clientId, text: o.text }));
        return { sessionId: s.sessionId as string, projectPath: s.projectPath, projectId: s.projectId, ...(unsent.length ? { unsent } : {}) };
      });
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
      onState: (state) => {
        dispatch({ type: 'conn', key, state });
        if (state === 'connected') this.resendUnconfirmed(key);
      },
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
  return errorSentence(e);
}

const ACTION_NAMES: Record<ControlMessage['type'], string> = {
  prompt: 'prompt',
  permission_response: 'answer',
  edit_queued: 'change to the queued prompt',
  unqueue: 'removal of the queued prompt',
  interrupt: 'interrupt',
  end: 'request to end the session',
  settings: 'change of model or permission mode',
};

export function wsBaseUrl(loc: Pick<Location, 'protocol' | 'host'> = window.location): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}`;
}
