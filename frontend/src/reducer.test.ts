import { describe, expect, it } from 'vitest';
import type { SessionEvent } from './events';
import { applyEvents, initialState, newSession, reducer, type AppState } from './reducer';
import {
  OTHER,
  SID,
  assistantText,
  cancelled,
  completion,
  error,
  init,
  output,
  resultLine,
  start,
  streamEvent,
  textDelta,
} from './test/fixtures';

function open(state: AppState = initialState, key = SID): AppState {
  return reducer(state, { type: 'open', key, sessionId: key, projectPath: '/p' });
}

function apply(state: AppState, events: SessionEvent[], oneByOne = true): AppState {
  if (!oneByOne) return reducer(state, { type: 'events', events });
  return events.reduce((s, e) => reducer(s, { type: 'events', events: [e] }), state);
}

const run: SessionEvent[] = [
  start(0),
  output(1, init()),
  output(2, assistantText('Echo: hi')),
  output(3, resultLine()),
  completion(4),
];

const kinds = (s: AppState, key = SID) => s.sessions[key].items.map((i) => i.kind);

describe('reducer: ordering and dedupe', () => {
  it('applies a run in order and ends with success', () => {
    const s = apply(open(), run);
    expect(kinds(s)).toEqual(['run-start', 'system-init', 'assistant-text', 'result', 'completion']);
    expect(s.sessions[SID].lastSeq).toBe(4);
    expect(s.sessions[SID].status).toBe('success');
  });

  it('applying the same events twice gives the same state (replay dedupe)', () => {
    const once = apply(open(), run);
    const twice = apply(once, run);
    expect(twice).toBe(once);
    expect(apply(once, run, false)).toEqual(once);
  });

  it('a replay that overlaps (since=N) adds only the new events', () => {
    const partial = apply(open(), run.slice(0, 3));
    const replay = apply(partial, run.slice(1)); // reconnect replays 1..4 although 1..2 were seen
    expect(replay.sessions[SID]).toEqual(apply(open(), run).sessions[SID]);
  });

  it('orders out-of-order events by seq (buffer until the gap fills)', () => {
    const shuffled = [run[0], run[3], run[2], run[1], run[4]];
    const s = apply(open(), shuffled);
    expect(kinds(s)).toEqual(['run-start', 'system-init', 'assistant-text', 'result', 'completion']);
    expect(s.sessions[SID].pending).toEqual([]);
  });

  it('holds events after a gap until it is filled, never showing a hole', () => {
    const s = apply(open(), [run[0], run[2], run[3]]);
    expect(kinds(s)).toEqual(['run-start']);
    expect(s.sessions[SID].lastSeq).toBe(0);
    expect(s.sessions[SID].pending.map((e) => e.seq)).toEqual([2, 3]);
    const filled = apply(s, [run[1]]);
    expect(kinds(filled)).toEqual(['run-start', 'system-init', 'assistant-text', 'result']);
  });

  it('a new run (start) after earlier runs may begin at a higher seq', () => {
    const s = apply(open(), [start(12), output(13, assistantText('again')), completion(14)]);
    expect(s.sessions[SID].lastSeq).toBe(14);
    const more = apply(s, [start(20), output(21, assistantText('third'))]);
    expect(more.sessions[SID].status).toBe('running');
    expect(kinds(more).filter((k) => k === 'assistant-text')).toHaveLength(2);
  });

  it('does not mutate the previous state', () => {
    const before = apply(open(), run.slice(0, 2));
    const snapshot = JSON.stringify(before);
    apply(before, run.slice(2));
    expect(JSON.stringify(before)).toBe(snapshot);
  });
});

describe('reducer: session isolation', () => {
  it('events of another session never touch this one', () => {
    const both = open(open(), OTHER);
    const s = apply(both, [start(0), start(0, OTHER), output(1, assistantText('mine')), output(1, assistantText('theirs', OTHER), OTHER)]);
    const mine = s.sessions[SID].items.filter((i) => i.kind === 'assistant-text').map((i) => (i.kind === 'assistant-text' ? i.text : ''));
    const theirs = s.sessions[OTHER].items.filter((i) => i.kind === 'assistant-text').map((i) => (i.kind === 'assistant-text' ? i.text : ''));
    expect(mine).toEqual(['mine']);
    expect(theirs).toEqual(['theirs']);
  });

  it('applyEvents on one session ignores events that name another session', () => {
    const s = newSession(SID, SID, '/p');
    expect(applyEvents(s, [start(0, OTHER), output(1, assistantText('x'), OTHER)])).toBe(s);
  });

  it('ignores events of sessions without a tab', () => {
    const s = open();
    expect(apply(s, [start(0, OTHER)])).toBe(s);
  });

  it('bind moves a pending continue tab to its real session id', () => {
    let s = reducer(initialState, { type: 'open', key: 'pending:x', sessionId: null, projectPath: '/p' });
    s = reducer(s, { type: 'prompt-sent', key: 'pending:x', prompt: 'go on', commandType: 'continue' });
    s = apply(s, [start(0)]);
    expect(s.sessions[SID]).toBeUndefined(); // not bound yet: the event is not this tab's
    s = reducer(s, { type: 'bind', key: 'pending:x', sessionId: SID });
    s = apply(s, [start(0)]);
    expect(s.order).toEqual([SID]);
    expect(s.active).toBe(SID);
    expect(kinds(s)).toEqual(['user-text', 'run-start']);
  });
});

describe('reducer: streaming', () => {
  it('appends text deltas to a streaming bubble that the whole assistant replaces', () => {
    let s = apply(open(), [start(0), output(1, streamEvent({ type: 'message_start', message: {} })), output(2, textDelta('Hel')), output(3, textDelta('lo'))]);
    expect(s.sessions[SID].streaming?.text).toBe('Hello');
    expect(kinds(s)).toEqual(['run-start']);
    s = apply(s, [output(4, assistantText('Hello')), output(5, streamEvent({ type: 'content_block_stop', index: 0 }))]);
    expect(s.sessions[SID].streaming).toBeNull();
    const texts = s.sessions[SID].items.filter((i) => i.kind === 'assistant-text');
    expect(texts).toHaveLength(1);
  });

  it('a duplicated delta (replay) is not appended twice', () => {
    const evs = [start(0), output(1, textDelta('a')), output(2, textDelta('b'))];
    const s = apply(apply(open(), evs), evs);
    expect(s.sessions[SID].streaming?.text).toBe('ab');
  });

  it('keeps streamed text as a partial item when the run ends without the whole message', () => {
    const s = apply(open(), [start(0), output(1, textDelta('half')), cancelled(2), completion(3, 'cancelled')]);
    const item = s.sessions[SID].items.find((i) => i.kind === 'assistant-text');
    expect(item && item.kind === 'assistant-text' && item.partial).toBe(true);
    expect(s.sessions[SID].streaming).toBeNull();
  });
});

describe('reducer: status and local items', () => {
  it('cancelled stays cancelled through the completion', () => {
    const s = apply(open(), [start(0), cancelled(1)]);
    expect(s.sessions[SID].status).toBe('cancelled');
    expect(apply(s, [completion(2, 'cancelled')]).sessions[SID].status).toBe('cancelled');
  });

  it('error events are items and a failed completion is an error status', () => {
    const s = apply(open(), [start(0), error(1, 'fake stderr 1'), completion(2, 'error')]);
    expect(kinds(s)).toEqual(['run-start', 'error', 'completion']);
    expect(s.sessions[SID].status).toBe('error');
  });

  it('a request error is shown and ends a run that never started', () => {
    let s = reducer(open(), { type: 'prompt-sent', key: SID, prompt: 'hi', commandType: 'execute' });
    expect(s.sessions[SID].status).toBe('running');
    s = reducer(s, { type: 'request-error', key: SID, message: 'project_path does not exist' });
    expect(kinds(s)).toEqual(['user-text', 'error']);
    expect(s.sessions[SID].status).toBe('error');
    expect(s.sessions[SID].lastSeq).toBe(-1);
  });

  it('history pages prepend older lines and keep next_before', () => {
    let s = open();
    s = reducer(s, {
      type: 'history',
      key: SID,
      page: { messages: [{ type: 'user', message: { role: 'user', content: 'newer' } }], next_before: 100 },
    });
    s = reducer(s, {
      type: 'history',
      key: SID,
      page: { messages: [{ type: 'queue-operation' }, { type: 'user', message: { role: 'user', content: 'older' } }], next_before: null },
    });
    const h = s.sessions[SID].history;
    expect(h.items.map((i) => (i.kind === 'user-text' ? i.text : i.kind))).toEqual(['older', 'newer']);
    expect(h.nextBefore).toBeNull();
    expect(new Set(h.items.map((i) => i.key)).size).toBe(2);
  });

  it('closing a tab activates a neighbour', () => {
    let s = open(open(), OTHER);
    s = reducer(s, { type: 'close', key: OTHER });
    expect(s.order).toEqual([SID]);
    expect(s.active).toBe(SID);
  });

  it('item keys are unique within a session', () => {
    const s = apply(open(), [start(0), output(1, { type: 'assistant', message: { content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] } }), completion(2)]);
    const keys = s.sessions[SID].items.map((i) => i.key);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('reducer: streaming that never arrives whole', () => {
  it('keeps streamed text that the next assistant message does not contain', () => {
    const s = apply(open(), [start(0), output(1, textDelta('Echo: hi')), output(2, assistantText('line 0'))]);
    const texts = s.sessions[SID].items.flatMap((i) => (i.kind === 'assistant-text' ? [i.text] : []));
    expect(texts).toEqual(['Echo: hi', 'line 0']);
    expect(s.sessions[SID].streaming).toBeNull();
  });
});
