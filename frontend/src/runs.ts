// The running-sessions view's logic, kept out of React: what state each run of `/api/sessions/running` is in,
// the order they are listed in, human units for its health (CPU, RSS, quiet time), and the poller that asks
// the server again at a modest interval only while the view is shown (timers injectable for tests).

import type { RunningSession } from './events';

/** Where a run stands, most urgent first. */
export type RunCategory =
  /** in progress and a permission request waits for an answer */
  | 'waiting'
  /** in progress */
  | 'running'
  /** a live session whose process ended on its own (claude died, or the server restarted): resumable */
  | 'stopped'
  /** ended */
  | 'finished';

const ORDER: Record<RunCategory, number> = { waiting: 0, running: 1, stopped: 2, finished: 3 };

export function runCategory(r: RunningSession): RunCategory {
  if (r.status === 'running') return (r.health?.waiting_for_you ?? 0) > 0 ? 'waiting' : 'running';
  if (r.resumable || (r.exited_unexpectedly && r.live)) return 'stopped';
  return 'finished';
}

/** Most urgent first; within a category, the newest run first. */
export function sortRuns(runs: RunningSession[]): RunningSession[] {
  return runs
    .map((r, i) => ({ r, i, c: ORDER[runCategory(r)], t: unixSeconds(r.started_at) }))
    .sort((a, b) => a.c - b.c || b.t - a.t || a.i - b.i)
    .map((x) => x.r);
}

/** `started_at` is unix seconds (the seed's type said an ISO string: accept both). */
export function unixSeconds(v: number | string | null | undefined): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const n = Number(v);
    if (Number.isFinite(n)) return n;
    const t = Date.parse(v);
    return Number.isNaN(t) ? 0 : Math.floor(t / 1000);
  }
  return 0;
}

/** Bytes in the units a system monitor shows (powers of 1024): `512 B`, `3.4 MB`, `1.2 GB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${Math.round(v)} B`;
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

/** A length of time, coarse: `42 s`, `2 min`, `1 h 5 min`, `3 d 4 h`. */
export function formatSpan(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** CPU time used: tenths of a second while small, then as a span. */
export function formatCpu(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  return formatSpan(seconds);
}

/** How long claude has said nothing: `output just now`, `quiet for 42 s`, `quiet for 2 min`. */
export function formatQuiet(seconds: number): string {
  if (seconds < 5) return 'output just now';
  return `quiet for ${formatSpan(seconds)}`;
}

/** `just now`, `5 min ago` (clock skew never makes it negative). */
export function formatAgo(unix: number | null | undefined, nowSeconds: number): string {
  if (!unix) return '';
  const d = nowSeconds - unix;
  return d < 5 ? 'just now' : `${formatSpan(d)} ago`;
}

/** One line of health for a run in progress. */
export function healthLine(r: RunningSession): string[] {
  const h = r.health;
  if (!h) return [];
  return [
    h.alive ? `alive${h.processes > 1 ? ` · ${h.processes} processes` : ''}` : 'process gone',
    `CPU ${formatCpu(h.cpu_seconds)}`,
    `RSS ${formatBytes(h.rss_bytes)}`,
    formatQuiet(h.seconds_since_output),
  ];
}

/** What the list shows of a run that is not in progress. */
export function endLine(r: RunningSession, nowSeconds: number): string {
  const when = formatAgo(r.finished_at ?? null, nowSeconds);
  const outcome = r.outcome ?? 'finished';
  const how = r.exited_unexpectedly ? (r.live ? 'stopped unexpectedly' : `${outcome} (stopped unexpectedly)`) : outcome;
  return when ? `${how} · ${when}` : how;
}

export interface PollerTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface PollerOptions {
  fetch: () => Promise<RunningSession[]>;
  onData: (runs: RunningSession[]) => void;
  onError: (message: string) => void;
  intervalMs?: number;
  timers?: PollerTimers;
}

export const POLL_INTERVAL_MS = 5000;

const defaultTimers: PollerTimers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Asks for the running list now and then every `intervalMs` after each answer (never two requests at
 *  once), until stopped. `pause` (the page is hidden) stops asking; `resume` asks at once. */
export class RunsPoller {
  private timer: unknown = null;
  private inFlight = false;
  private running = false;
  private paused = false;
  /** Bumped by stop(): an answer to an older request is dropped. */
  private generation = 0;
  private readonly opts: PollerOptions;
  private readonly timers: PollerTimers;

  constructor(opts: PollerOptions) {
    this.opts = opts;
    this.timers = opts.timers ?? defaultTimers;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.generation++;
    if (!this.paused) void this.poll();
  }

  stop(): void {
    this.running = false;
    this.generation++;
    this.inFlight = false;
    this.clear();
  }

  pause(): void {
    this.paused = true;
    this.clear();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.running && !this.inFlight) void this.poll();
  }

  /** Asks now (a refresh button, or after an action changed a run); the next poll is counted from its answer. */
  refresh(): void {
    if (!this.running || this.inFlight) return;
    this.clear();
    void this.poll();
  }

  private clear() {
    if (this.timer !== null) {
      this.timers.clear(this.timer);
      this.timer = null;
    }
  }

  private async poll() {
    const gen = this.generation;
    this.inFlight = true;
    try {
      const runs = await this.opts.fetch();
      if (gen !== this.generation) return;
      this.opts.onData(runs);
    } catch (e) {
      if (gen !== this.generation) return;
      this.opts.onError(e instanceof Error ? e.message : String(e));
    }
    this.inFlight = false;
    if (this.running && !this.paused) this.timer = this.timers.set(() => {
      this.timer = null;
      void this.poll();
    }, this.opts.intervalMs ?? POLL_INTERVAL_MS);
  }
}
