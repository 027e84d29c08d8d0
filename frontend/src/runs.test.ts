// The running-sessions view's logic: categories (waiting for you first), order, human units for health,
// and the poller (no overlapping requests, stops for good, pauses while the page is hidden).
import { describe, expect, it } from 'vitest';
import type { RunningSession } from './events';
import {
  RunsPoller,
  endLine,
  formatAgo,
  formatBytes,
  formatCpu,
  formatQuiet,
  formatSpan,
  healthLine,
  runCategory,
  sortRuns,
  unixSeconds,
  type PollerTimers,
} from './runs';

const health = (over: Partial<NonNullable<RunningSession['health']>> = {}) => ({
  alive: true,
  processes: 1,
  cpu_seconds: 1.25,
  rss_bytes: 48 * 1024 * 1024,
  seconds_since_output: 130,
  waiting_for_you: 0,
  ...over,
});

function run(id: string, over: Partial<RunningSession> = {}): RunningSession {
  return {
    session_id: id,
    project_path: `/work/${id}`,
    command_type: 'execute',
    model: null,
    started_at: 1000,
    status: 'running',
    live: true,
    permission_mode: 'default',
    outcome: null,
    finished_at: null,
    exited_unexpectedly: false,
    resumable: false,
    events: 5,
    health: health(),
    run_id: 1,
    ...over,
  };
}

const finished = (id: string, over: Partial<RunningSession> = {}) =>
  run(id, { status: 'finished', outcome: 'success', finished_at: 2000, health: null, ...over });

describe('runCategory and sortRuns', () => {
  it('waiting for you > running > stopped unexpectedly > finished', () => {
    expect(runCategory(run('a', { health: health({ waiting_for_you: 2 }) }))).toBe('waiting');
    expect(runCategory(run('a'))).toBe('running');
    expect(runCategory(run('a', { health: null }))).toBe('running'); // starting, no health yet
    expect(runCategory(finished('a', { outcome: 'error', exited_unexpectedly: true, resumable: true }))).toBe('stopped');
    // a one-shot run cut short by a restart cannot be taken up without a prompt: it is only finished
    expect(runCategory(finished('a', { outcome: 'error', exited_unexpectedly: true, resumable: false, live: false }))).toBe('finished');
    expect(runCategory(finished('a'))).toBe('finished');
    // an older server without the new fields
    expect(runCategory({ session_id: 'x', project_path: '/x', command_type: 'execute', model: null, started_at: 1, status: 'finished' })).toBe('finished');
  });

  it('sorts by category, then newest first, stably', () => {
    const list = [
      finished('old-done', { started_at: 10 }),
      run('running-old', { started_at: 20 }),
      finished('stopped', { started_at: 5, outcome: 'error', exited_unexpectedly: true, resumable: true }),
      run('running-new', { started_at: 30 }),
      run('waiting', { started_at: 1, health: health({ waiting_for_you: 1 }) }),
      finished('new-done', { started_at: 40 }),
    ];
    expect(sortRuns(list).map((r) => r.session_id)).toEqual(['waiting', 'running-new', 'running-old', 'stopped', 'new-done', 'old-done']);
    expect(list[0].session_id).toBe('old-done'); // not sorted in place
  });

  it('reads started_at as unix seconds or an ISO string', () => {
    expect(unixSeconds(1700000000)).toBe(1700000000);
    expect(unixSeconds('1700000000')).toBe(1700000000);
    expect(unixSeconds('2023-11-14T22:13:20Z')).toBe(1700000000);
    expect(unixSeconds('nonsense')).toBe(0);
    expect(unixSeconds(undefined)).toBe(0);
  });
});

describe('human units', () => {
  it('bytes in powers of 1024', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(900)).toBe('900 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(48 * 1024 * 1024)).toBe('48 MB');
    expect(formatBytes(3.4 * 1024 * 1024)).toBe('3.4 MB');
    expect(formatBytes(1.25 * 1024 ** 3)).toBe('1.3 GB');
    expect(formatBytes(-1)).toBe('?');
  });

  it('spans, CPU seconds, quiet time, ago', () => {
    expect(formatSpan(42)).toBe('42 s');
    expect(formatSpan(120)).toBe('2 min');
    expect(formatSpan(3900)).toBe('1 h 5 min');
    expect(formatSpan(7200)).toBe('2 h');
    expect(formatSpan(3 * 86400 + 4 * 3600)).toBe('3 d 4 h');
    expect(formatCpu(0.04)).toBe('0.0 s');
    expect(formatCpu(3.26)).toBe('3.3 s');
    expect(formatCpu(200)).toBe('3 min');
    expect(formatQuiet(2)).toBe('output just now');
    expect(formatQuiet(42)).toBe('quiet for 42 s');
    expect(formatQuiet(130)).toBe('quiet for 2 min');
    expect(formatAgo(1000, 1002)).toBe('just now');
    expect(formatAgo(1000, 1000 + 300)).toBe('5 min ago');
    expect(formatAgo(1000, 900)).toBe('just now'); // clock skew
    expect(formatAgo(null, 1000)).toBe('');
  });

  it('a health line and an end line', () => {
    expect(healthLine(run('a'))).toEqual(['alive', 'CPU 1.3 s', 'RSS 48 MB', 'quiet for 2 min']);
    expect(healthLine(run('a', { health: health({ alive: false, processes: 0 }) }))[0]).toBe('process gone');
    expect(healthLine(run('a', { health: health({ processes: 3 }) }))[0]).toBe('alive · 3 processes');
    expect(healthLine(finished('a'))).toEqual([]);
    expect(endLine(finished('a'), 2000 + 120)).toBe('success · 2 min ago');
    expect(endLine(finished('a', { outcome: 'error', exited_unexpectedly: true, resumable: true }), 2000)).toBe('stopped unexpectedly · just now');
    expect(endLine(finished('a', { outcome: 'error', exited_unexpectedly: true, live: false }), 2000)).toBe('error (stopped unexpectedly) · just now');
  });
});

class FakeTimers implements PollerTimers {
  queue: { fn: () => void; ms: number; id: number }[] = [];
  private next = 1;
  set(fn: () => void, ms: number) {
    const id = this.next++;
    this.queue.push({ fn, ms, id });
    return id;
  }
  clear(h: unknown) {
    this.queue = this.queue.filter((t) => t.id !== h);
  }
  fire() {
    const t = this.queue.shift();
    if (!t) throw new Error('no timer pending');
    t.fn();
  }
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('RunsPoller', () => {
  function setup() {
    const timers = new FakeTimers();
    const calls: ReturnType<typeof deferred<RunningSession[]>>[] = [];
    const data: RunningSession[][] = [];
    const errors: string[] = [];
    const poller = new RunsPoller({
      fetch: () => {
        const d = deferred<RunningSession[]>();
        calls.push(d);
        return d.promise;
      },
      onData: (r) => data.push(r),
      onError: (m) => errors.push(m),
      intervalMs: 5000,
      timers,
    });
    return { timers, calls, data, errors, poller };
  }

  it('asks at once, then again only after each answer and the interval', async () => {
    const { timers, calls, data, poller } = setup();
    poller.start();
    expect(calls).toHaveLength(1);
    poller.refresh(); // one request at a time
    expect(calls).toHaveLength(1);
    expect(timers.queue).toHaveLength(0);
    calls[0].resolve([run('a')]);
    await settle();
    expect(data).toEqual([[run('a')]]);
    expect(timers.queue.map((t) => t.ms)).toEqual([5000]);
    timers.fire();
    expect(calls).toHaveLength(2);
    calls[1].resolve([]);
    await settle();
    expect(data).toHaveLength(2);
    // refresh asks now and restarts the interval
    poller.refresh();
    expect(calls).toHaveLength(3);
    expect(timers.queue).toHaveLength(0);
    poller.stop();
  });

  it('reports errors and keeps polling', async () => {
    const { timers, calls, errors, poller } = setup();
    poller.start();
    calls[0].reject(new Error('HTTP 502'));
    await settle();
    expect(errors).toEqual(['HTTP 502']);
    expect(timers.queue).toHaveLength(1);
    poller.stop();
  });

  it('stop: no more requests, and a late answer is dropped', async () => {
    const { timers, calls, data, poller } = setup();
    poller.start();
    poller.stop();
    calls[0].resolve([run('late')]);
    await settle();
    expect(data).toEqual([]);
    expect(timers.queue).toHaveLength(0);
    poller.refresh();
    expect(calls).toHaveLength(1);
  });

  it('pause (page hidden) stops asking; resume asks at once', async () => {
    const { timers, calls, poller } = setup();
    poller.start();
    calls[0].resolve([]);
    await settle();
    expect(timers.queue).toHaveLength(1);
    poller.pause();
    expect(timers.queue).toHaveLength(0);
    poller.resume();
    expect(calls).toHaveLength(2);
    // paused while a request is out: nothing is scheduled after its answer
    poller.pause();
    calls[1].resolve([]);
    await settle();
    expect(timers.queue).toHaveLength(0);
    poller.resume();
    expect(calls).toHaveLength(3);
    poller.stop();
  });

  it('paused before start: the first request waits for resume', () => {
    const { calls, poller } = setup();
    poller.pause();
    poller.start();
    expect(calls).toHaveLength(0);
    poller.resume();
    expect(calls).toHaveLength(1);
    poller.stop();
  });
});
