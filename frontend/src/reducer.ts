// The heart of the UI: a pure reducer holding one transcript per open session (tab). Session events are
// applied strictly in `seq` order: seq <= lastSeq is a no-op (replays dedupe), a seq beyond lastSeq + 1 is
// buffered until the gap fills, and an event only ever touches the tab keyed by its own session_id.
// Token deltas (`stream_event`) build a transient streaming bubble that the whole `assistant` replaces.

import type { ConnState } from './connection';
import type { CommandType, CompletionEvent, CompletionStatus, HistoryPage, ImageAttachment, PermissionMode, SessionEvent } from './events';
import { isObject } from './events';
import type { Item, ItemBody, Outgoing, PendingApproval } from './items';
import { normalizeHistoryLine, normalizeOutput } from './normalize';
import { imagesOf } from './images';

export type RunStatus = 'idle' | 'running' | 'success' | 'error' | 'cancelled';

export interface Streaming {
  text: string;
  thinking: string;
}

export interface HistoryState {
  items: Item[];
  /** Byte offset to ask for the next older page; null once the start was reached. */
  nextBefore: number | null;
  loaded: boolean;
  pages: number;
}

export interface SessionState {
  /** Tab key: the session id, or a temporary key for a `continue` whose id is not known yet. */
  key: string;
  /** The real session id, once known. */
  sessionId: string | null;
  projectPath: string;
  projectId: string | null;
  model: string | null;
  /** Highest seq applied; -1 before the first event. */
  lastSeq: number;
  /** Events received ahead of a gap, sorted by seq. */
  pending: SessionEvent[];
  items: Item[];
  streaming: Streaming | null;
  status: RunStatus;
  /** State of the tab's WebSocket link ('closed' when it has none). */
  conn: ConnState;
  /** Counter for keys of items that are not events (prompts, request errors). */
  localCount: number;
  history: HistoryState;
  /** The current (or last) run is a live session: follow-ups go to the same process. */
  live: boolean;
  permissionMode: string | null;
  /** `user_prompt`s whose turn has not ended with a `result` yet (> 0: a turn is in progress). */
  turnsInFlight: number;
  /** Permission requests without a `permission_resolved`, in request order. */
  approvals: PendingApproval[];
  /** A run request without a prompt (a live resume) was sent and its `start` has not arrived yet. */
  starting: boolean;
  /** The last run ended without being asked to (the server restarted, or a live claude died); null
   *  otherwise and while a run is in progress. */
  stopped: StoppedRun | null;
  /** Prompts claude has not received yet: ours not confirmed, and every queued one (in send order). */
  outbox: Outgoing[];
  /** An interrupt reached claude during the current turn (its control_response, or we asked): the turn's
   *  error result is an interruption. */
  interrupted: boolean;
  /** model|cwd|tools of the last `system init` shown: the same one again (every turn) is not repeated. */
  initSig: string | null;
  /** The run request was refused before anything ran (no event at all): there is no session to continue. */
  neverStarted: boolean;
}

/** Why a run ended on its own, from its `completion`. */
export interface StoppedRun {
  reason: 'server-restart' | 'exited';
  /** The completion's `error` (or a description of the exit). */
  message: string;
}

export interface AppState {
  sessions: Record<string, SessionState>;
  order: string[];
  active: string | null;
  /** A pane shown instead of the active tab or the home view: the running sessions, usage or agents. */
  pane: Pane | null;
}

/** The panes of the main navigation besides the tabs and home. */
export type Pane = 'runs' | 'usage' | 'agents';

export type Action =
  | {
      type: 'open';
      key: string;
      sessionId: string | null;
      projectPath: string;
      projectId?: string | null;
      model?: string | null;
      activate?: boolean;
    }
  | { type: 'close'; key: string }
  | { type: 'activate'; key: string | null }
  /** Shows a pane (activating a tab or the home view leaves it). */
  | { type: 'show-pane'; pane: Pane }
  | { type: 'events'; events: SessionEvent[] }
  | { type: 'bind'; key: string; sessionId: string }
  | {
      type: 'prompt-sent';
      key: string;
      prompt: string;
      commandType: CommandType;
      model?: string | null;
      live?: boolean;
      permissionMode?: PermissionMode | null;
      images?: ImageAttachment[];
    }
  /** A follow-up written to a running live session: an optimistic bubble its `user_prompt` confirms. */
  | { type: 'follow-up-sent'; key: string; prompt: string; clientId?: string }
  /** What became of a prompt of ours on its way (no connection, handed over, refused). */
  | { type: 'outbox-state'; key: string; clientId: string; state: Outgoing['state']; error?: string }
  | { type: 'outbox-remove'; key: string; clientId: string }
  | { type: 'outbox-edit'; key: string; clientId: string; text: string }
  /** We asked to interrupt the current turn. */
  | { type: 'interrupt-sent'; key: string }
  | { type: 'note'; key: string; text: string }
  | { type: 'request-error'; key: string; message: string }
  | { type: 'local-error'; key: string; message: string }
  | { type: 'history'; key: string; page: HistoryPage }
  | { type: 'conn'; key: string; state: ConnState }
  /** The server ended the run but its end is not in the events this tab has (see `onEndedUnseen`). */
  | { type: 'run-ended-unseen'; key: string; outcome: CompletionStatus; unexpected: boolean };

/** Events further ahead than this are dropped rather than buffered (a broken stream, not a reorder). */
export const MAX_PENDING = 10_000;

export const initialState: AppState = { sessions: {}, order: [], active: null, pane: null };

export function newSession(
  key: string,
  sessionId: string | null,
  projectPath: string,
  projectId: string | null = null,
  model: string | null = null,
): SessionState {
  return {
    key,
    sessionId,
    projectPath,
    projectId,
    model,
    lastSeq: -1,
    pending: [],
    items: [],
    streaming: null,
    status: 'idle',
    conn: 'closed',
    localCount: 0,
    history: { items: [], nextBefore: null, loaded: false, pages: 0 },
    live: false,
    permissionMode: null,
    turnsInFlight: 0,
    approvals: [],
    starting: false,
    stopped: null,
    outbox: [],
    interrupted: false,
    initSig: null,
    neverStarted: false,
  };
}

export function reducer(state: AppState, action: Action): AppState {
  switch (action.type) {
    case 'open': {
      const existing = state.sessions[action.key];
      if (existing) {
        const patched =
          action.projectId && !existing.projectId ? { ...existing, projectId: action.projectId } : existing;
        return {
          ...state,
          sessions: patched === existing ? state.sessions : { ...state.sessions, [action.key]: patched },
          active: action.activate === false ? state.active : action.key,
          pane: action.activate === false ? state.pane : null,
        };
      }
      const s = newSession(action.key, action.sessionId, action.projectPath, action.projectId ?? null, action.model ?? null);
      return {
        sessions: { ...state.sessions, [action.key]: s },
        order: [...state.order, action.key],
        active: action.activate === false ? state.active : action.key,
        pane: action.activate === false ? state.pane : null,
      };
    }
    case 'close': {
      if (!state.sessions[action.key]) return state;
      const sessions = { ...state.sessions };
      delete sessions[action.key];
      const idx = state.order.indexOf(action.key);
      const order = state.order.filter((k) => k !== action.key);
      const active = state.active === action.key ? (order[Math.min(idx, order.length - 1)] ?? null) : state.active;
      return { ...state, sessions, order, active };
    }
    case 'activate':
      if (action.key !== null && !state.sessions[action.key]) return state;
      return state.active === action.key && !state.pane ? state : { ...state, active: action.key, pane: null };
    case 'show-pane':
      return state.pane === action.pane ? state : { ...state, pane: action.pane };
    case 'events':
      return applyEventsToState(state, action.events);
    case 'bind':
      return bind(state, action.key, action.sessionId);
    case 'prompt-sent':
      return update(state, action.key, (s) => ({
        // no prompt: a live session taken up again (claude waits for the next prompt), no bubble
        // (a one-shot run with images gets a `user_prompt` too, which confirms its bubble)
        ...(action.prompt === '' && !action.images?.length
          ? s
          : addLocal(s, {
              kind: 'user-text',
              text: action.prompt,
              ...(action.live || action.images?.length ? { optimistic: true } : {}),
              ...(action.images?.length ? { images: action.images } : {}),
            })),
        status: 'running',
        starting: action.prompt === '',
        neverStarted: false,
        stopped: null,
        streaming: null,
        model: action.model ?? s.model,
        live: action.live === true,
        permissionMode: action.live ? (action.permissionMode ?? null) : null,
      }));
    case 'follow-up-sent':
      if (!action.clientId) return update(state, action.key, (s) => addLocal(s, { kind: 'user-text', text: action.prompt, optimistic: true }));
      return update(state, action.key, (s) =>
        s.outbox.some((o) => o.clientId === action.clientId)
          ? s
          : { ...s, outbox: [...s.outbox, { clientId: action.clientId as string, text: action.prompt, state: 'sending' }] },
      );
    case 'outbox-state':
      return update(state, action.key, (s) => {
        const i = s.outbox.findIndex((o) => o.clientId === action.clientId);
        if (i < 0) return s;
        const cur = s.outbox[i];
        // the server's word (queued) is not undone by our own bookkeeping of a resend
        if (cur.state === 'queued' && action.state !== 'failed') return s;
        const outbox = s.outbox.slice();
        outbox[i] = { ...cur, state: action.state, ...(action.error ? { error: action.error } : { error: undefined }) };
        return { ...s, outbox };
      });
    case 'outbox-remove':
      return update(state, action.key, (s) =>
        s.outbox.some((o) => o.clientId === action.clientId) ? { ...s, outbox: s.outbox.filter((o) => o.clientId !== action.clientId) } : s,
      );
    case 'outbox-edit':
      return update(state, action.key, (s) => ({
        ...s,
        outbox: s.outbox.map((o) => (o.clientId === action.clientId ? { ...o, text: action.text } : o)),
      }));
    case 'interrupt-sent':
      return update(state, action.key, (s) => (s.interrupted ? s : { ...s, interrupted: true }));
    case 'note':
      return update(state, action.key, (s) => addLocal(s, { kind: 'system-note', text: action.text }));
    case 'request-error':
      return update(state, action.key, (s) => ({
        ...addLocal(s, { kind: 'error', message: action.message, ...hintFor(action.message) }),
        status: s.status === 'running' ? 'error' : s.status,
        starting: false,
        // refused before anything ran: a tab of a session that never existed offers nothing to continue
        neverStarted: s.lastSeq === -1 && !s.history.loaded,
      }));
    case 'local-error':
      return update(state, action.key, (s) => addLocal(s, { kind: 'error', message: action.message }));
    case 'history':
      return update(state, action.key, (s) => applyHistory(s, action.page));
    case 'conn':
      return update(state, action.key, (s) => (s.conn === action.state ? s : { ...s, conn: action.state }));
    case 'run-ended-unseen':
      return update(state, action.key, (s) => {
        if (s.status !== 'running') return s;
        const d = addLocal(s, { kind: 'error', message: UNSEEN_END }); // a fresh object and items array
        finalizeStreaming(d, s.lastSeq);
        endRun(d);
        d.status = action.outcome;
        d.starting = false;
        d.stopped = action.unexpected && action.outcome !== 'cancelled' ? { reason: 'exited', message: UNSEEN_END } : null;
        return d;
      });
  }
}

function update(state: AppState, key: string, fn: (s: SessionState) => SessionState): AppState {
  const s = state.sessions[key];
  if (!s) return state;
  const next = fn(s);
  return next === s ? state : { ...state, sessions: { ...state.sessions, [key]: next } };
}

function addLocal(s: SessionState, body: ItemBody): SessionState {
  const item = { ...body, key: `local:${s.localCount}` } as Item;
  return { ...s, items: [...s.items, item], localCount: s.localCount + 1 };
}

/** Routes each event to the tab keyed by its session_id; events of sessions without a tab are ignored. */
function applyEventsToState(state: AppState, events: SessionEvent[]): AppState {
  const bySession = new Map<string, SessionEvent[]>();
  for (const ev of events) {
    const list = bySession.get(ev.session_id);
    if (list) list.push(ev);
    else bySession.set(ev.session_id, [ev]);
  }
  let sessions = state.sessions;
  for (const [id, evs] of bySession) {
    const s = sessions[id];
    if (!s) continue;
    const next = applyEvents(s, evs);
    if (next !== s) {
      if (sessions === state.sessions) sessions = { ...sessions };
      sessions[id] = next;
    }
  }
  return sessions === state.sessions ? state : { ...state, sessions };
}

/** Applies events to one session in seq order; returns the same object when nothing changed. */
export function applyEvents(s: SessionState, events: SessionEvent[]): SessionState {
  let draft: SessionState | null = null;
  const working = () => {
    if (!draft) draft = { ...s, items: s.items.slice(), pending: s.pending.slice(), approvals: s.approvals.slice() };
    return draft;
  };
  for (const ev of events) {
    const cur: SessionState = draft ?? s;
    if (ev.session_id !== (cur.sessionId ?? cur.key)) continue;
    if (ev.seq <= cur.lastSeq) continue;
    const d = working();
    const inOrder = d.lastSeq === -1 || ev.seq === d.lastSeq + 1 || ev.type === 'start';
    if (!inOrder) {
      bufferPending(d, ev);
      continue;
    }
    applyOne(d, ev);
    drainPending(d);
  }
  return draft ?? s;
}

function bufferPending(d: SessionState, ev: SessionEvent) {
  if (d.pending.some((p) => p.seq === ev.seq)) return;
  if (d.pending.length >= MAX_PENDING) return;
  let i = d.pending.length;
  while (i > 0 && d.pending[i - 1].seq > ev.seq) i--;
  d.pending.splice(i, 0, ev);
}

function drainPending(d: SessionState) {
  while (d.pending.length > 0) {
    const head = d.pending[0];
    if (head.seq <= d.lastSeq) {
      d.pending.shift();
    } else if (head.seq === d.lastSeq + 1) {
      d.pending.shift();
      applyOne(d, head);
    } else {
      break;
    }
  }
}

/** Mutates the draft (a private copy made by applyEvents). */
function applyOne(d: SessionState, ev: SessionEvent) {
  d.lastSeq = ev.seq;
  const push = (body: ItemBody, i = 0) => d.items.push({ ...body, key: `${ev.seq}:${i}` } as Item);
  switch (ev.type) {
    case 'start':
      finalizeStreaming(d, ev.seq);
      endRun(d);
      d.status = 'running';
      d.starting = false;
      d.stopped = null;
      d.interrupted = false;
      d.neverStarted = false;
      d.projectPath = ev.project_path || d.projectPath;
      d.model = ev.model ?? d.model;
      d.live = ev.live === true;
      d.permissionMode = d.live ? (ev.permission_mode ?? d.permissionMode ?? null) : null;
      push({ kind: 'run-start', message: ev.message, commandType: ev.command_type, model: ev.model, ...(d.live ? { live: true } : {}) });
      break;
    case 'user_prompt': {
      finalizeStreaming(d, ev.seq);
      d.turnsInFlight++;
      d.interrupted = false;
      const text = typeof ev.prompt === 'string' ? ev.prompt : '';
      const clientId = typeof ev.client_id === 'string' ? ev.client_id : null;
      const images = imagesOf(ev.images);
      const bubble: ItemBody = { kind: 'user-text', text, ...(images.length ? { images } : {}) };
      if (clientId && d.outbox.some((o) => o.clientId === clientId)) {
        // a prompt that waited (ours, or queued by anyone) has reached claude: out of the outbox, into the transcript
        d.outbox = d.outbox.filter((o) => o.clientId !== clientId);
        push(bubble);
        break;
      }
      // our own optimistic bubble for this prompt becomes the confirmed one (no second bubble)
      const mine = d.items.findIndex((it) => it.kind === 'user-text' && it.optimistic && it.text.trim() === text.trim());
      if (mine >= 0) d.items[mine] = { ...d.items[mine], ...bubble, optimistic: false } as Item;
      else push(bubble);
      break;
    }
    case 'prompt_queued': {
      const clientId = String(ev.client_id);
      const text = typeof ev.prompt === 'string' ? ev.prompt : '';
      const i = d.outbox.findIndex((o) => o.clientId === clientId);
      if (i >= 0) d.outbox = d.outbox.map((o, j) => (j === i ? { clientId, text, state: 'queued' } : o));
      else d.outbox = [...d.outbox, { clientId, text, state: 'queued' }];
      break;
    }
    case 'prompt_unqueued': {
      const clientId = String(ev.client_id);
      d.outbox = d.outbox.filter((o) => o.clientId !== clientId);
      break;
    }
    case 'permission_request': {
      const id = String(ev.request_id);
      if (d.approvals.some((a) => a.requestId === id) || findApproval(d, id) >= 0) break;
      const approval: PendingApproval = {
        requestId: id,
        toolName: typeof ev.tool_name === 'string' ? ev.tool_name : '(tool)',
        input: ev.input,
        toolUseId: typeof ev.tool_use_id === 'string' ? ev.tool_use_id : null,
        description: typeof ev.description === 'string' ? ev.description : null,
        timeoutMs: typeof ev.timeout_ms === 'number' ? ev.timeout_ms : null,
        expiresAt: typeof ev.expires_at === 'number' ? ev.expires_at : null,
        seq: ev.seq,
        rememberRules: rememberRules(ev.remember),
      };
      d.approvals = [...d.approvals, approval];
      push({
        kind: 'approval',
        requestId: id,
        toolName: approval.toolName,
        input: approval.input,
        description: approval.description,
        resolution: null,
      });
      break;
    }
    case 'permission_resolved': {
      const id = String(ev.request_id);
      const resolution = {
        behavior: ev.behavior === 'allow' ? ('allow' as const) : ('deny' as const),
        by: typeof ev.by === 'string' ? ev.by : 'viewer',
        message: typeof ev.message === 'string' ? ev.message : null,
        ...(ev.remembered === true ? { remembered: true } : {}),
      };
      const pendingOne = d.approvals.find((a) => a.requestId === id);
      d.approvals = d.approvals.filter((a) => a.requestId !== id);
      const idx = findApproval(d, id);
      if (idx >= 0) {
        d.items[idx] = { ...d.items[idx], resolution, orphaned: false } as Item;
      } else {
        push({
          kind: 'approval',
          requestId: id,
          toolName: pendingOne?.toolName ?? '(tool)',
          input: pendingOne?.input ?? null,
          description: null,
          resolution,
        });
      }
      break;
    }
    case 'settings_changed': {
      const model = typeof ev.model === 'string' ? ev.model : null;
      const permissionMode = typeof ev.permission_mode === 'string' ? ev.permission_mode : null;
      if (model) d.model = model;
      if (permissionMode) d.permissionMode = permissionMode;
      push({ kind: 'settings', model, permissionMode });
      break;
    }
    case 'output': {
      const c = ev.content;
      if (isObject(c) && c.type === 'stream_event') {
        applyStreamEvent(d, c.event);
        break;
      }
      if (isObject(c) && c.type === 'assistant') settleStreaming(d, c, ev.seq);
      if (isObject(c) && c.type === 'control_response' && isInterruptAck(c)) d.interrupted = true;
      let wasInterrupted = false;
      if (isObject(c) && c.type === 'result') {
        finalizeStreaming(d, ev.seq);
        if (d.turnsInFlight > 0) d.turnsInFlight--;
        wasInterrupted = d.interrupted;
        d.interrupted = false;
      }
      let i = 0;
      for (const body of normalizeOutput(c)) {
        if (body.kind === 'system-init') {
          // claude repeats its init every turn: show it once per change
          const sig = `${body.model ?? ''}|${body.cwd ?? ''}|${body.tools}`;
          if (sig === d.initSig) continue;
          d.initSig = sig;
        }
        if (body.kind === 'result' && wasInterrupted && body.isError) push({ ...body, interrupted: true }, i++);
        else push(body, i++);
      }
      break;
    }
    case 'error':
      push({ kind: 'error', message: ev.message, ...hintFor(ev.message) });
      break;
    case 'cancelled':
      finalizeStreaming(d, ev.seq);
      endRun(d);
      d.status = 'cancelled';
      push({ kind: 'cancelled' });
      break;
    case 'completion':
      finalizeStreaming(d, ev.seq);
      endRun(d);
      d.stopped = d.status === 'cancelled' ? null : stoppedBy(ev, d.live);
      d.status = d.status === 'cancelled' ? 'cancelled' : ev.status;
      d.starting = false;
      push({ kind: 'completion', status: ev.status, exitCode: ev.exit_code, signal: ev.signal });
      break;
  }
}

/** Shown when the server says a run is over but its end never reached the tab. */
export const UNSEEN_END = 'This run ended, but the server no longer has its last events (it may have restarted).';

/** The message of the completion of a run cut short by a server restart starts with this. */
export const RESTART_PREFIX = 'the server restarted';

/** Whether (and why) a run ended without being asked to, from its completion alone: a completion the server
 *  appended at start-up for a run its predecessor left behind, or a live session whose claude failed. */
export function stoppedBy(ev: CompletionEvent, live: boolean): StoppedRun | null {
  const error = typeof ev.error === 'string' && ev.error.trim() !== '' ? ev.error : null;
  if (ev.status === 'error' && error?.toLowerCase().startsWith(RESTART_PREFIX)) return { reason: 'server-restart', message: error };
  if (ev.status === 'error' && live) {
    const how = ev.signal !== null ? `signal ${ev.signal}` : ev.exit_code !== null ? `exit code ${ev.exit_code}` : null;
    return { reason: 'exited', message: error ?? (how ? `claude ended with ${how}` : 'claude ended') };
  }
  return null;
}

/** A live session whose last run ended on its own: one click takes it up again (a live resume without a
 *  prompt), as the server's `resumable` says for the running list. */
export function canResumeLive(s: SessionState): boolean {
  return s.status !== 'running' && s.live && s.stopped !== null && !!s.sessionId && !!s.projectPath;
}

/** The rule texts of a permission request's `remember` (the CLI's permission updates): each `addRules`
 *  rule as `toolName(ruleContent)`, or `toolName` alone. Anything else is ignored. */
export function rememberRules(remember: unknown): string[] {
  if (!Array.isArray(remember)) return [];
  const out: string[] = [];
  for (const u of remember) {
    if (!isObject(u) || u.type !== 'addRules' || !Array.isArray(u.rules)) continue;
    if (u.behavior !== undefined && u.behavior !== 'allow') continue;
    for (const r of u.rules) {
      if (!isObject(r) || typeof r.toolName !== 'string' || r.toolName === '') continue;
      const text = typeof r.ruleContent === 'string' && r.ruleContent !== '' ? `${r.toolName}(${r.ruleContent})` : r.toolName;
      if (!out.includes(text)) out.push(text);
    }
  }
  return out;
}

/** The CLI as root refuses --dangerously-skip-permissions (the server's one-shot default): say what to do. */
export const ROOT_REFUSAL_HINT =
  'Claude refuses to skip permission checks when it runs as root. Start a live session instead (tick "Live session": ' +
  'you approve tools from here), or restart the server with --permissions default (or IS_SANDBOX=1 in its environment ' +
  'when it runs in a sandbox).';

export function hintFor(message: string): { hint?: string } {
  const m = message.toLowerCase();
  if (m.includes('dangerously-skip-permissions') && (m.includes('root') || m.includes('sudo'))) return { hint: ROOT_REFUSAL_HINT };
  if (m.includes('is not an existing directory')) {
    return { hint: 'Check the project directory: it must be an absolute path to a folder that exists on the server.' };
  }
  return {};
}

/** claude's answer to the server's `interrupt` control request (its request ids start with `interrupt-`). */
function isInterruptAck(c: Record<string, unknown>): boolean {
  const r = c.response;
  return isObject(r) && typeof r.request_id === 'string' && r.request_id.startsWith('interrupt-');
}

/** How a tab reads (project name + first prompt, else the short id), so tabs can be told apart. */
export function sessionTitle(s: SessionState): string {
  const first = [...s.history.items, ...s.items].find((it) => it.kind === 'user-text');
  const text = first && first.kind === 'user-text' ? first.text.replace(/\s+/g, ' ').trim() : '';
  if (text) return text.length > 40 ? `${text.slice(0, 39)}…` : text;
  const q = s.outbox[0]?.text.trim();
  if (q) return q.length > 40 ? `${q.slice(0, 39)}…` : q;
  return s.sessionId ? s.sessionId.slice(0, 8) : 'starting…';
}

/** The run's state in words: what a person reads on the status pill. */
export function statusLabel(s: SessionState): string {
  switch (s.status) {
    case 'running':
      if (s.approvals.length > 0) return 'needs you';
      if (s.live && s.turnsInFlight === 0 && !s.starting) return 'your turn';
      return 'running';
    case 'success':
      return 'finished';
    case 'error':
      return s.neverStarted ? 'not started' : 'failed';
    case 'cancelled':
      return 'cancelled';
    case 'idle':
      return 'past session';
  }
}

function findApproval(d: SessionState, requestId: string): number {
  for (let i = d.items.length - 1; i >= 0; i--) {
    const it = d.items[i];
    if (it.kind === 'approval' && it.requestId === requestId) return i;
  }
  return -1;
}

/** The process is gone (or a new run begins): no turn is in progress and nothing can be answered any more. */
function endRun(d: SessionState) {
  d.turnsInFlight = 0;
  if (d.approvals.length === 0) return;
  for (const a of d.approvals) {
    const idx = findApproval(d, a.requestId);
    if (idx >= 0) d.items[idx] = { ...d.items[idx], orphaned: true } as Item;
  }
  d.approvals = [];
}

/** What the prompt box of a session does now. */
export type ComposerMode =
  /** a live session's process is up: the text is written to it as a follow-up turn */
  | 'follow-up'
  /** a one-shot run is in progress: wait */
  | 'busy'
  /** nothing runs: the text resumes the session (a new run) */
  | 'resume'
  /** the session id or project is not known yet */
  | 'unavailable';

export function composerMode(s: SessionState): ComposerMode {
  if (!s.sessionId || !s.projectPath || s.starting || s.neverStarted) return 'unavailable';
  if (s.status === 'running') return s.live ? 'follow-up' : 'busy';
  return 'resume';
}

/** A live session's turn is in progress (between a `user_prompt` and its `result`): it can be interrupted. */
export function turnInProgress(s: SessionState): boolean {
  return s.live && s.status === 'running' && s.turnsInFlight > 0;
}

function applyStreamEvent(d: SessionState, event: unknown) {
  if (!isObject(event) || event.type !== 'content_block_delta' || !isObject(event.delta)) return;
  const delta = event.delta;
  const cur = d.streaming ?? { text: '', thinking: '' };
  if (delta.type === 'text_delta' && typeof delta.text === 'string') {
    d.streaming = { ...cur, text: cur.text + delta.text };
  } else if (delta.type === 'thinking_delta' && typeof delta.thinking === 'string') {
    d.streaming = { ...cur, thinking: cur.thinking + delta.thinking };
  }
}

/** The whole assistant message replaces the streamed text it contains; streamed text it does not contain
 *  (a message that never arrived whole) is kept as a partial item rather than lost. */
function settleStreaming(d: SessionState, assistant: Record<string, unknown>, seq: number) {
  const streamed = d.streaming?.text.trim() ?? '';
  if (streamed === '' || assistantText(assistant).includes(streamed)) d.streaming = null;
  else finalizeStreaming(d, seq);
}

function assistantText(assistant: Record<string, unknown>): string {
  const msg = assistant.message;
  if (!isObject(msg)) return '';
  if (typeof msg.content === 'string') return msg.content;
  if (!Array.isArray(msg.content)) return '';
  return msg.content.map((b) => (isObject(b) && typeof b.text === 'string' ? b.text : '')).join('');
}

/** A run that ends without the whole assistant message keeps its streamed text as a partial item. */
function finalizeStreaming(d: SessionState, seq: number) {
  if (!d.streaming) return;
  if (d.streaming.text !== '') {
    d.items.push({ kind: 'assistant-text', text: d.streaming.text, partial: true, key: `${seq}:partial` });
  }
  d.streaming = null;
}

function bind(state: AppState, key: string, sessionId: string): AppState {
  const s = state.sessions[key];
  if (!s) return state;
  if (key === sessionId) return s.sessionId === sessionId ? state : update(state, key, (x) => ({ ...x, sessionId }));
  const existing = state.sessions[sessionId];
  const sessions = { ...state.sessions };
  delete sessions[key];
  let order: string[];
  if (existing) {
    // The session already has a tab: carry the temporary tab's local items over and drop it.
    const carried = s.items.map((it, i) => ({ ...it, key: `local:${existing.localCount + i}` }));
    sessions[sessionId] = {
      ...existing,
      items: [...existing.items, ...carried],
      localCount: existing.localCount + carried.length,
      status: s.status === 'running' ? 'running' : existing.status,
    };
    order = state.order.filter((k) => k !== key);
  } else {
    sessions[sessionId] = { ...s, key: sessionId, sessionId };
    order = state.order.map((k) => (k === key ? sessionId : k));
  }
  return { ...state, sessions, order, active: state.active === key ? sessionId : state.active };
}

function applyHistory(s: SessionState, page: HistoryPage): SessionState {
  const pageNo = s.history.pages;
  const items: Item[] = [];
  for (const line of page.messages) {
    for (const body of normalizeHistoryLine(line)) {
      items.push({ ...body, key: `h${pageNo}:${items.length}` } as Item);
    }
  }
  return {
    ...s,
    history: {
      items: [...items, ...s.history.items],
      nextBefore: page.next_before,
      loaded: true,
      pages: pageNo + 1,
    },
  };
}
