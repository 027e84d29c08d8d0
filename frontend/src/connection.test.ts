// The connection manager against a fake WebSocket and fake timers: run start, reconnect with
// since=<last seq>, backoff, normal close / 4404 / completion ending the link, session filtering.
import { beforeEach, describe, expect, it } from 'vitest';
import { SessionLink, backoffDelay, dropAllSockets, type ConnState, type SocketLike, type Timers } from './connection';
import type { SessionEvent } from './events';
import { authorisation } from './api';
import { SID, OTHER, completion, output, start, assistantText } from './test/fixtures';

class FakeSocket implements SocketLike {
  readyState = 0;
  sent: string[] = [];
  closedWith: number | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(data);
  }
  close(code?: number) {
    this.closedWith = code ?? 1000;
    this.readyState = 3;
  }
  // test helpers: what the server / network does
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  emit(ev: unknown) {
    this.onmessage?.({ data: JSON.stringify(ev) });
  }
  serverClose(code: number) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

class FakeTimers implements Timers {
  now = 0;
  private queue: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  set(fn: () => void, ms: number) {
    const id = this.nextId++;
    this.queue.push({ at: this.now + ms, fn, id });
    return id;
  }
  clear(h: unknown) {
    this.queue = this.queue.filter((t) => t.id !== h);
  }
  pending() {
    return this.queue.map((t) => t.at - this.now);
  }
  advance(ms: number) {
    this.now += ms;
    for (;;) {
      const due = this.queue.filter((t) => t.at <= this.now).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.queue = this.queue.filter((t) => t !== due);
      due.fn();
    }
  }
}

interface Harness {
  link: SessionLink;
  sockets: FakeSocket[];
  timers: FakeTimers;
  events: SessionEvent[];
  states: ConnState[];
  requestErrors: string[];
  controlErrors: string[];
  fatal: string[];
  bound: string[];
  endedUnseen: number[];
  last: () => FakeSocket;
}

function harness(opts: { sessionId: string | null; run?: boolean }): Harness {
  const sockets: FakeSocket[] = [];
  const timers = new FakeTimers();
  const events: SessionEvent[] = [];
  const states: ConnState[] = [];
  const requestErrors: string[] = [];
  const controlErrors: string[] = [];
  const fatal: string[] = [];
  const bound: string[] = [];
  const endedUnseen: number[] = [];
  const link = new SessionLink({
    baseUrl: 'ws://test',
    sessionId: opts.sessionId,
    request: opts.run
      ? { command_type: 'execute', project_path: '/p', prompt: 'hi', session_id: opts.sessionId ?? undefined, include_partial_messages: true }
      : undefined,
    getLastSeq: () => (events.length ? Math.max(...events.map((e) => e.seq)) : -1),
    onEvents: (evs) => events.push(...evs),
    onState: (s) => states.push(s),
    onRequestError: (m) => requestErrors.push(m),
    onControlError: (m) => controlErrors.push(m),
    onFatal: (m) => fatal.push(m),
    onBind: (id) => bound.push(id),
    onEndedUnseen: () => endedUnseen.push(events.length),
    socketFactory: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    timers,
  });
  return { link, sockets, timers, events, states, requestErrors, controlErrors, fatal, bound, endedUnseen, last: () => sockets[sockets.length - 1] };
}

describe('SessionLink', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness({ sessionId: SID, run: true });
    h.link.start();
  });

  it('starts a run: opens /ws/claude and sends the request once open', () => {
    expect(h.sockets).toHaveLength(1);
    expect(h.last().url).toBe('ws://test/ws/claude');
    expect(h.last().sent).toEqual([]);
    h.last().open();
    expect(JSON.parse(h.last().sent[0])).toMatchObject({ command_type: 'execute', session_id: SID, include_partial_messages: true });
    expect(h.link.state).toBe('connected');
  });

  it('reconnects after a drop with since=<last seq> and exponential backoff', () => {
    h.last().open();
    h.last().emit(start(0));
    h.last().emit(output(1, assistantText('a')));
    h.last().serverClose(1006);
    expect(h.link.state).toBe('reconnecting');
    expect(h.timers.pending()).toEqual([250]);
    h.timers.advance(250);
    expect(h.last().url).toBe(`ws://test/ws/sessions/${SID}?since=1`);
    // the second attempt fails too: the delay doubles
    h.last().serverClose(1006);
    expect(h.timers.pending()).toEqual([500]);
    h.timers.advance(500);
    h.last().open();
    expect(h.link.state).toBe('connected');
    h.last().emit(output(2, assistantText('b')));
    h.last().serverClose(1006);
    expect(h.timers.pending()).toEqual([250]); // reset after a successful open
    h.timers.advance(250);
    expect(h.last().url).toBe(`ws://test/ws/sessions/${SID}?since=2`);
    expect(h.sockets.every((s, i) => i === 0 || !s.url.endsWith('/ws/claude'))).toBe(true); // never a second run
  });

  it('4503 (the replica lost the cluster bus) shows its error frame and keeps re-attaching with since=', () => {
    h.last().open();
    h.last().emit(start(0));
    h.last().emit(output(1, assistantText('a')));
    const message = "the cluster's bus is unreachable: lost the connection to NATS";
    h.last().emit({ type: 'error', code: 'bus_unreachable', message, session_id: SID });
    h.last().serverClose(4503);
    expect(h.controlErrors).toEqual([message]);
    expect(h.link.state).toBe('reconnecting');
    h.timers.advance(250);
    expect(h.last().url).toBe(`ws://test/ws/sessions/${SID}?since=1`);
    // still unreachable: turned away without a frame, the link waits longer and tries again
    h.last().serverClose(4503);
    expect(h.timers.pending()).toEqual([500]);
    h.timers.advance(500);
    h.last().open();
    h.last().emit(output(2, assistantText('b')));
    expect(h.link.state).toBe('connected');
    expect(h.controlErrors).toEqual([message]);
    expect(h.events.map((e) => e.seq)).toEqual([0, 1, 2]);
  });

  it('the backoff is capped', () => {
    expect(backoffDelay(0, 250, 5000)).toBe(250);
    expect(backoffDelay(3, 250, 5000)).toBe(2000);
    expect(backoffDelay(10, 250, 5000)).toBe(5000);
  });

  it('completion ends the link: socket closed with 1000, no reconnect', () => {
    h.last().open();
    h.last().emit(start(0));
    h.last().emit(completion(1));
    expect(h.last().closedWith).toBe(1000);
    expect(h.link.state).toBe('closed');
    expect(h.timers.pending()).toEqual([]);
    expect(h.events.map((e) => e.seq)).toEqual([0, 1]);
    expect(h.endedUnseen).toEqual([]);
  });

  it('an attach socket closed normally (drained) is not reconnected', () => {
    h.last().open();
    h.last().emit(start(0));
    h.last().serverClose(1006);
    h.timers.advance(250);
    h.last().open();
    h.last().serverClose(1000);
    expect(h.link.state).toBe('closed');
    expect(h.timers.pending()).toEqual([]);
    // no completion came on it: the run's end was not seen (the controller asks the server)
    expect(h.endedUnseen).toEqual([1]);
  });

  it('4404 (unknown session) stops and reports', () => {
    h.last().open();
    h.last().serverClose(1006);
    h.timers.advance(250);
    h.last().serverClose(4404);
    expect(h.link.state).toBe('closed');
    expect(h.fatal).toHaveLength(1);
    expect(h.timers.pending()).toEqual([]);
  });

  it('4401 (this device was revoked) stops for good and says the browser is no longer authorised', () => {
    let lost = 0;
    const off = authorisation.subscribe(() => lost++);
    h.last().open();
    h.last().serverClose(4401);
    off();
    expect(h.link.state).toBe('closed');
    expect(lost).toBe(1);
    expect(authorisation.lost).toBe(true);
    expect(h.timers.pending()).toEqual([]);
  });

  it('a request error frame is reported and ends the link', () => {
    h.last().open();
    h.last().emit({ type: 'error', message: 'project_path does not exist', session_id: SID });
    expect(h.requestErrors).toEqual(['project_path does not exist']);
    expect(h.link.state).toBe('closed');
    expect(h.events).toEqual([]);
  });

  it('events of another session are never delivered', () => {
    h.last().open();
    h.last().emit(start(0, OTHER));
    h.last().emit(start(0));
    expect(h.events.map((e) => e.session_id)).toEqual([SID]);
  });

  it('stop() closes normally and never reconnects', () => {
    h.last().open();
    h.link.stop();
    expect(h.last().closedWith).toBe(1000);
    expect(h.link.state).toBe('closed');
    expect(h.timers.pending()).toEqual([]);
  });

  it('the debug drop behaves as a network failure (reconnects)', () => {
    h.last().open();
    h.last().emit(start(0));
    expect(dropAllSockets()).toBeGreaterThanOrEqual(1);
    expect(h.link.state).toBe('reconnecting');
    h.timers.advance(250);
    expect(h.last().url).toBe(`ws://test/ws/sessions/${SID}?since=0`);
  });

  it('nudge() skips the remaining backoff', () => {
    h.last().open();
    h.last().emit(start(0));
    h.last().serverClose(1006);
    h.last().serverClose(1006);
    expect(h.sockets).toHaveLength(1);
    h.link.nudge();
    expect(h.sockets).toHaveLength(2);
    expect(h.last().url).toBe(`ws://test/ws/sessions/${SID}?since=0`);
    expect(h.timers.pending()).toEqual([]);
  });

  it('resends the request when the first socket never opened', () => {
    h.last().serverClose(1006);
    h.timers.advance(250);
    expect(h.last().url).toBe('ws://test/ws/claude');
    h.last().open();
    expect(h.last().sent).toHaveLength(1);
  });
});

describe('SessionLink for continue and attach', () => {
  it('binds the session id from the first event of a continue', () => {
    const h = harness({ sessionId: null, run: true });
    h.link.start();
    h.last().open();
    h.last().emit(start(0));
    expect(h.bound).toEqual([SID]);
    h.last().serverClose(1006);
    h.timers.advance(250);
    expect(h.last().url).toBe(`ws://test/ws/sessions/${SID}?since=0`);
  });

  it('attaches without since when nothing was seen', () => {
    const h = harness({ sessionId: SID });
    h.link.start();
    expect(h.last().url).toBe(`ws://test/ws/sessions/${SID}`);
    h.last().serverClose(4404);
    expect(h.fatal).toHaveLength(1);
  });
});

describe('SessionLink: control messages of live sessions', () => {
  it('sends on the open socket only; an error frame after the run began is a control error, not the end', () => {
    const h = harness({ sessionId: SID, run: true });
    h.link.start();
    expect(h.link.send({ type: 'interrupt', session_id: SID })).toBe(false); // not open yet
    h.last().open();
    h.last().emit(start(0));
    expect(h.link.send({ type: 'interrupt', session_id: SID })).toBe(true);
    expect(JSON.parse(h.last().sent.at(-1) as string)).toEqual({ type: 'interrupt', session_id: SID });
    h.last().emit({ type: 'error', message: 'permission request already resolved', session_id: SID });
    expect(h.controlErrors).toEqual(['permission request already resolved']);
    expect(h.requestErrors).toEqual([]);
    expect(h.link.state).toBe('connected');
    h.last().emit(output(1, assistantText('still here')));
    expect(h.events.map((e) => e.seq)).toEqual([0, 1]);
  });

  it('an error frame on an attach socket is a control error too', () => {
    const h = harness({ sessionId: SID });
    h.link.start();
    h.last().open();
    h.last().emit({ type: 'error', message: 'no such request' });
    expect(h.controlErrors).toEqual(['no such request']);
    expect(h.link.state).toBe('connected');
    h.last().serverClose(1006);
    expect(h.link.send({ type: 'end', session_id: SID })).toBe(false); // reconnecting: REST instead
  });
});
