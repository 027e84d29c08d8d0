// The WebSocket manager of one tab's session. A link either starts a run (`/ws/claude` + one request) or
// attaches to one (`/ws/sessions/{id}?since=SEQ`). If a socket drops before the run has finished, it
// re-attaches with `since=<last seq applied>` after an exponential backoff; a normal close (1000) of a
// drained attach socket, a completion, or 4404 ends it for good. WebSocket and timers are injectable so
// the logic is unit-testable without a network.

import type { ClaudeRequest, SessionEvent } from './events';
import { parseFrame } from './events';
import { authorisation } from './api';

export type ConnState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** The part of the browser WebSocket that the link uses. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type SocketFactory = (url: string) => SocketLike;

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface LinkOptions {
  /** `ws://host` or `wss://host`, without a path. */
  baseUrl: string;
  /** The session id; null for a `continue` run until its first event names it. */
  sessionId: string | null;
  /** When set, the link starts the run by sending this request on `/ws/claude`. */
  request?: ClaudeRequest;
  /** The highest seq the store has applied for that session (-1 for none). */
  getLastSeq: (sessionId: string) => number;
  onEvents: (events: SessionEvent[]) => void;
  onState: (state: ConnState) => void;
  /** A request-error frame answering the run request (nothing was spawned). */
  onRequestError?: (message: string) => void;
  /** A request-error frame after the run began: a control message (prompt, permission answer, …) failed.
   *  The link carries on. */
  onControlError?: (message: string) => void;
  /** The session id became known (first event of a `continue`). */
  onBind?: (sessionId: string) => void;
  /** The link gave up for a reason the person should see (unknown session, …). */
  onFatal?: (message: string) => void;
  /** An attach socket closed normally (the server drained its log and nothing runs) without a completion
   *  reaching this link: the run ended, but its end is not among the events after our last seq (a server
   *  that restarted and lost the end of a log). */
  onEndedUnseen?: () => void;
  socketFactory?: SocketFactory;
  timers?: Timers;
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Events are handed over in batches at most this often (0: one by one, synchronously). */
  batchMs?: number;
}

export const CLOSE_NORMAL = 1000;
export const CLOSE_UNKNOWN_SESSION = 4404;
/** The server closed the socket because this device's credential no longer works (revoked). */
export const CLOSE_UNAUTHORISED = 4401;
/** A cluster's replica lost its bus (NATS): the run may go on, so the link re-attaches with backoff like
 *  after a drop. The `bus_unreachable` error frame before the first such close is shown as a note. */
export const CLOSE_BUS_UNREACHABLE = 4503;

const liveLinks = new Set<SessionLink>();

/** Debug hook: drop every open socket as if the network went away (each link then reconnects). */
export function dropAllSockets(): number {
  let n = 0;
  for (const link of liveLinks) if (link.drop()) n++;
  return n;
}

/** What a page reports on each socket right after it opens (`{"type":"visibility",device,visible}`, for Web
 *  Push); null: nothing is reported. */
let visibilityReport: (() => object | null) | null = null;

export function setVisibilityReporter(fn: (() => object | null) | null): void {
  visibilityReport = fn;
}

/** The page's visibility changed: every open socket says so. Returns how many sockets were told. */
export function reportVisibilityAll(): number {
  let n = 0;
  for (const link of liveLinks) if (link.reportVisibility()) n++;
  return n;
}

/** The network came back or the page became visible again: retry waiting links now, not after backoff. */
export function nudgeAllLinks(): void {
  for (const link of liveLinks) link.nudge();
}

const defaultTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export function backoffDelay(attempt: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** attempt);
}

export class SessionLink {
  state: ConnState = 'connecting';
  sessionId: string | null;
  private socket: SocketLike | null = null;
  private request: ClaudeRequest | undefined;
  private finished = false;
  private socketMode: 'run' | 'attach' = 'run';
  /** The run request was sent on this socket and no event answered it yet. */
  private awaitingRun = false;
  private stopped = false;
  private attempt = 0;
  private retryTimer: unknown = null;
  private batch: SessionEvent[] = [];
  private batchTimer: unknown = null;
  private readonly opts: LinkOptions;
  private readonly timers: Timers;

  constructor(opts: LinkOptions) {
    this.opts = opts;
    this.sessionId = opts.sessionId;
    this.request = opts.request;
    this.timers = opts.timers ?? defaultTimers;
  }

  start(): void {
    liveLinks.add(this);
    if (this.request) this.openRun(this.request);
    else this.openAttach();
  }

  /** Ends the link for good (tab closed). */
  stop(): void {
    this.stopped = true;
    this.flush();
    this.clearRetry();
    this.closeSocket(CLOSE_NORMAL);
    this.setState('closed');
    liveLinks.delete(this);
  }

  /** Closes the current socket as a network failure would; returns whether there was one. */
  drop(): boolean {
    if (!this.socket) return false;
    const s = this.socket;
    this.detach(s);
    try {
      s.close(4000, 'debug drop');
    } catch {
      /* already closing */
    }
    this.onSocketClosed(1006);
    return true;
  }

  /** Sends a control message on the open socket; false when there is none (use REST instead). */
  send(message: object): boolean {
    const s = this.socket;
    if (!s || this.stopped || this.finished || s.readyState !== 1 || this.state !== 'connected') return false;
    try {
      s.send(JSON.stringify(message));
      return true;
    } catch {
      return false;
    }
  }

  /** Sends the page's visibility report on the open socket (even one whose run finished: the server counts
   *  its last report until it closes). */
  reportVisibility(): boolean {
    const s = this.socket;
    const report = visibilityReport?.();
    if (!s || !report || this.stopped || s.readyState !== 1) return false;
    try {
      s.send(JSON.stringify(report));
      return true;
    } catch {
      return false;
    }
  }

  /** Skips the rest of a pending backoff delay. */
  nudge(): void {
    if (this.retryTimer === null || this.stopped || this.finished) return;
    this.clearRetry();
    this.attempt = 0;
    this.reconnectNow();
  }

  private reconnectNow() {
    if (this.request) this.openRun(this.request); // the request was never sent: send it now
    else this.openAttach();
  }

  private openRun(request: ClaudeRequest) {
    this.socketMode = 'run';
    const s = this.newSocket(`${this.opts.baseUrl}/ws/claude`);
    s.onopen = () => {
      this.attempt = 0;
      this.setState('connected');
      s.send(JSON.stringify(request));
      this.awaitingRun = true;
      this.request = undefined; // sent once; a reconnect attaches instead of starting a second run
      this.reportVisibility();
    };
  }

  private openAttach() {
    const id = this.sessionId;
    if (!id) return;
    const last = this.opts.getLastSeq(id);
    const query = last >= 0 ? `?since=${last}` : '';
    this.socketMode = 'attach';
    this.awaitingRun = false;
    const s = this.newSocket(`${this.opts.baseUrl}/ws/sessions/${encodeURIComponent(id)}${query}`);
    s.onopen = () => {
      this.attempt = 0;
      this.setState('connected');
      this.reportVisibility();
    };
  }

  private newSocket(url: string): SocketLike {
    const factory = this.opts.socketFactory ?? ((u: string) => new WebSocket(u) as unknown as SocketLike);
    const s = factory(url);
    this.socket = s;
    s.onmessage = (ev) => this.onMessage(ev.data);
    s.onclose = (ev) => {
      if (this.socket !== s) return;
      this.detach(s);
      this.onSocketClosed(ev.code);
    };
    s.onerror = () => {
      /* a close event follows */
    };
    return s;
  }

  private detach(s: SocketLike) {
    s.onopen = null;
    s.onmessage = null;
    s.onclose = null;
    s.onerror = null;
    if (this.socket === s) this.socket = null;
  }

  private onMessage(data: unknown) {
    if (typeof data !== 'string') return;
    const frame = parseFrame(data);
    if (frame.kind === 'request-error') {
      this.flush();
      if (this.socketMode === 'attach' || !this.awaitingRun) {
        this.opts.onControlError?.(frame.error.message);
        return;
      }
      this.opts.onRequestError?.(frame.error.message);
      this.finish();
      return;
    }
    if (frame.kind !== 'event') return;
    const ev = frame.event;
    this.awaitingRun = false;
    if (this.sessionId === null) {
      this.sessionId = ev.session_id;
      this.opts.onBind?.(ev.session_id);
    }
    if (ev.session_id !== this.sessionId) return; // another session's event never reaches this tab
    this.batch.push(ev);
    if (ev.type === 'completion') {
      this.flush();
      this.finish();
      return;
    }
    if (!this.opts.batchMs) this.flush();
    else if (this.batchTimer === null) this.batchTimer = this.timers.set(() => this.flush(), this.opts.batchMs);
  }

  private flush() {
    if (this.batchTimer !== null) {
      this.timers.clear(this.batchTimer);
      this.batchTimer = null;
    }
    if (this.batch.length === 0) return;
    const events = this.batch;
    this.batch = [];
    this.opts.onEvents(events);
  }

  /** The run is over: close our socket normally and never reconnect. */
  private finish() {
    this.finished = true;
    this.clearRetry();
    this.closeSocket(CLOSE_NORMAL);
    this.setState('closed');
    liveLinks.delete(this);
  }

  private onSocketClosed(code: number) {
    this.flush();
    if (this.stopped || this.finished) return;
    if (code === CLOSE_UNAUTHORISED) {
      this.finish();
      authorisation.lose();
      return;
    }
    if (code === CLOSE_UNKNOWN_SESSION) {
      this.finish();
      this.opts.onFatal?.('The server does not know this session (it may have restarted).');
      return;
    }
    if (this.socketMode === 'attach' && code === CLOSE_NORMAL) {
      this.finish(); // the server drained the log and no run is live
      this.opts.onEndedUnseen?.();
      return;
    }
    if (this.request === undefined && this.sessionId === null) {
      this.finish();
      this.opts.onFatal?.('Connection lost before the run said which session it is.');
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect() {
    const delay = backoffDelay(this.attempt, this.opts.minDelayMs ?? 250, this.opts.maxDelayMs ?? 5000);
    this.attempt++;
    this.setState('reconnecting');
    this.clearRetry();
    this.retryTimer = this.timers.set(() => {
      this.retryTimer = null;
      if (this.stopped || this.finished) return;
      this.reconnectNow();
    }, delay);
  }

  private clearRetry() {
    if (this.retryTimer !== null) {
      this.timers.clear(this.retryTimer);
      this.retryTimer = null;
    }
  }

  private closeSocket(code: number) {
    const s = this.socket;
    if (!s) return;
    this.detach(s);
    try {
      s.close(code);
    } catch {
      /* ignore */
    }
  }

  private setState(state: ConnState) {
    if (this.state === state) return;
    this.state = state;
    this.opts.onState(state);
  }
}
