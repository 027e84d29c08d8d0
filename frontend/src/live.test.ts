// Live sessions in the reducer: user_prompt (with the optimistic bubble deduped), pending permission
// requests and their resolution, turn tracking, replay dedupe, isolation; and the composer's mode.
import { describe, expect, it } from 'vitest';
import type { SessionEvent } from './events';
import { parseFrame } from './events';
import { composerMode, initialState, reducer, turnInProgress, type AppState } from './reducer';
import {
  OTHER,
  SID,
  assistantText,
  completion,
  init,
  liveStart,
  output,
  permissionRequest,
  permissionResolved,
  resultLine,
  start,
  userPrompt,
  userToolResult,
} from './test/fixtures';

function open(state: AppState = initialState, key = SID): AppState {
  return reducer(state, { type: 'open', key, sessionId: key, projectPath: '/p' });
}
const apply = (state: AppState, events: SessionEvent[]) =>
  events.reduce((s, e) => reducer(s, { type: 'events', events: [e] }), state);
const sess = (s: AppState, key = SID) => s.sessions[key];
const userTexts = (s: AppState, key = SID) =>
  sess(s, key).items.flatMap((i) => (i.kind === 'user-text' ? [i.text] : []));

const liveTurn: SessionEvent[] = [
  liveStart(0),
  userPrompt(1, 'please @tool'),
  output(2, init()),
  permissionRequest(3, 'req-1'),
];

describe('live sessions: events', () => {
  it('parses the new event types as events, and unknown types keep their seq', () => {
    expect(parseFrame(JSON.stringify(permissionRequest(3, 'r'))).kind).toBe('event');
    expect(parseFrame(JSON.stringify(userPrompt(1, 'x'))).kind).toBe('event');
    const unknown = parseFrame(JSON.stringify({ type: 'brand_new', session_id: SID, seq: 5 }));
    expect(unknown).toEqual({ kind: 'event', event: { type: '__unknown', session_id: SID, seq: 5 } });
    const s = apply(open(), [start(0), { type: '__unknown', session_id: SID, seq: 1 }, output(2, assistantText('after'))]);
    expect(sess(s).lastSeq).toBe(2);
    expect(sess(s).pending).toEqual([]);
  });

  it('start with live marks the session live; user_prompt is the user bubble and starts a turn', () => {
    const s = apply(open(), liveTurn.slice(0, 3));
    expect(sess(s).live).toBe(true);
    expect(sess(s).permissionMode).toBe('default');
    expect(userTexts(s)).toEqual(['please @tool']);
    expect(turnInProgress(sess(s))).toBe(true);
  });

  it('a pending request is tracked until its permission_resolved', () => {
    let s = apply(open(), liveTurn);
    expect(sess(s).approvals.map((a) => a.requestId)).toEqual(['req-1']);
    const a = sess(s).approvals[0];
    expect(a.toolName).toBe('Bash');
    expect(a.expiresAt).toBe(1_900_000_000_000);
    const entry = sess(s).items.find((i) => i.kind === 'approval');
    expect(entry && entry.kind === 'approval' && entry.resolution).toBeNull();
    s = apply(s, [permissionResolved(4, 'req-1', 'allow'), output(5, userToolResult('ran')), output(6, resultLine())]);
    expect(sess(s).approvals).toEqual([]);
    const resolved = sess(s).items.filter((i) => i.kind === 'approval');
    expect(resolved).toHaveLength(1);
    expect(resolved[0].kind === 'approval' && resolved[0].resolution).toEqual({ behavior: 'allow', by: 'viewer', message: null });
    expect(turnInProgress(sess(s))).toBe(false);
    expect(sess(s).status).toBe('running'); // the process stays up between turns
  });

  it('several pending requests keep their order; one resolution removes only its own', () => {
    const s = apply(open(), [...liveTurn, permissionRequest(4, 'req-2', { tool_name: 'Edit' }), permissionResolved(5, 'req-1', 'deny', 'timeout')]);
    expect(sess(s).approvals.map((a) => a.requestId)).toEqual(['req-2']);
  });

  it('replays (reconnect with since=, or a late viewer) neither duplicate nor resurrect requests', () => {
    const all = [...liveTurn, permissionResolved(4, 'req-1', 'deny', 'viewer', 'no'), output(5, resultLine())];
    const once = apply(open(), all);
    expect(apply(once, all)).toBe(once);
    // a late viewer replays the whole log and ends in the same state
    const late = reducer(open(), { type: 'events', events: all });
    expect(sess(late).approvals).toEqual([]);
    expect(sess(late).items.filter((i) => i.kind === 'approval')).toHaveLength(1);
    // a viewer that attaches while the request is pending sees it pending
    const pendingView = reducer(open(), { type: 'events', events: liveTurn });
    expect(sess(pendingView).approvals).toHaveLength(1);
    // a duplicated request id (the server never does this, but) gives one card
    const dup = apply(open(), [...liveTurn, permissionRequest(4, 'req-1')]);
    expect(sess(dup).approvals).toHaveLength(1);
    expect(sess(dup).items.filter((i) => i.kind === 'approval')).toHaveLength(1);
  });

  it('the optimistic bubble of a prompt we sent is confirmed by its user_prompt, not doubled', () => {
    let s = open();
    s = reducer(s, { type: 'prompt-sent', key: SID, prompt: 'please @tool', commandType: 'execute', live: true, permissionMode: 'default' });
    expect(sess(s).live).toBe(true);
    s = apply(s, [liveStart(0), userPrompt(1, 'please @tool'), output(2, init()), output(3, resultLine())]);
    expect(userTexts(s)).toEqual(['please @tool']);
    s = reducer(s, { type: 'follow-up-sent', key: SID, prompt: 'again' });
    expect(userTexts(s)).toEqual(['please @tool', 'again']);
    s = apply(s, [userPrompt(4, 'again')]);
    expect(userTexts(s)).toEqual(['please @tool', 'again']);
    const bubble = sess(s).items.find((i) => i.kind === 'user-text' && i.text === 'again');
    expect(bubble && bubble.kind === 'user-text' && bubble.optimistic).toBe(false);
    // a prompt another viewer sent has no optimistic twin: it is added
    s = apply(s, [userPrompt(5, 'from the other tab')]);
    expect(userTexts(s)).toEqual(['please @tool', 'again', 'from the other tab']);
  });

  it('the end of the run clears pending requests and marks them unanswered', () => {
    const s = apply(open(), [...liveTurn, completion(4)]);
    expect(sess(s).approvals).toEqual([]);
    const entry = sess(s).items.find((i) => i.kind === 'approval');
    expect(entry && entry.kind === 'approval' && entry.orphaned).toBe(true);
    expect(turnInProgress(sess(s))).toBe(false);
  });

  it('permission events of another session never reach this tab', () => {
    const both = open(open(), OTHER);
    const s = apply(both, [liveStart(0), liveStart(0, OTHER), permissionRequest(1, 'theirs', {}, OTHER), permissionResolved(1, 'theirs', 'allow', 'viewer', null, SID)]);
    expect(sess(s, OTHER).approvals.map((a) => a.requestId)).toEqual(['theirs']);
    expect(sess(s).approvals).toEqual([]);
    expect(sess(s).items.filter((i) => i.kind === 'approval' && i.requestId === 'theirs')).toHaveLength(1); // the stray resolution is only a record
  });
});

describe('composer mode', () => {
  it('follow-up while a live run is up, busy during a one-shot run, resume once finished', () => {
    let s = open();
    expect(composerMode(sess(s))).toBe('resume');
    s = reducer(s, { type: 'prompt-sent', key: SID, prompt: 'x', commandType: 'execute' });
    expect(composerMode(sess(s))).toBe('busy');
    s = apply(s, [start(0), output(1, resultLine()), completion(2)]);
    expect(composerMode(sess(s))).toBe('resume');
    s = apply(s, [liveStart(3), userPrompt(4, 'y')]);
    expect(composerMode(sess(s))).toBe('follow-up');
    expect(turnInProgress(sess(s))).toBe(true);
    s = apply(s, [output(5, resultLine())]);
    expect(composerMode(sess(s))).toBe('follow-up');
    expect(turnInProgress(sess(s))).toBe(false);
    s = apply(s, [completion(6)]);
    expect(composerMode(sess(s))).toBe('resume');
    expect(sess(s).live).toBe(true); // a resume of it is live again
  });

  it('a server without live sessions (start without live) falls back to a one-shot run', () => {
    let s = reducer(open(), { type: 'prompt-sent', key: SID, prompt: 'x', commandType: 'execute', live: true });
    s = apply(s, [start(0)]);
    expect(sess(s).live).toBe(false);
    expect(composerMode(sess(s))).toBe('busy');
  });

  it('unavailable until the session id is known', () => {
    const s = reducer(initialState, { type: 'open', key: 'pending:1', sessionId: null, projectPath: '/p' });
    expect(composerMode(sess(s, 'pending:1'))).toBe('unavailable');
  });
});
