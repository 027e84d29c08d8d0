// The "needs you first" overview of every session of the server: the runs it knows
// (`/api/sessions/running`, which also finds a live session whose claude wrote no transcript yet) merged
// with the transcripts of recent projects, each with its real state, waiting-for-you first; and the
// waiting count shown in the page title and on the app icon.

import type { RunningSession, SessionInfo } from './events';
import { runCategory, unixSeconds } from './runs';

export type OverviewState = 'waiting' | 'running' | 'stopped' | 'finished' | 'failed' | 'cancelled' | 'past';

export interface OverviewEntry {
  sessionId: string;
  projectPath: string;
  projectId: string | null;
  /** The first prompt, when known (transcripts say it; a run alone does not). */
  title: string | null;
  state: OverviewState;
  /** Permission requests waiting for an answer. */
  waiting: number;
  live: boolean;
  /** Unix seconds of the latest activity known (start or end of its run, or its last message). */
  at: number;
  run: RunningSession | null;
}

const ORDER: Record<OverviewState, number> = { waiting: 0, running: 1, stopped: 2, finished: 3, failed: 3, cancelled: 3, past: 3 };

export function runState(r: RunningSession): OverviewState {
  const c = runCategory(r);
  if (c !== 'finished') return c;
  if (r.outcome === 'error') return 'failed';
  if (r.outcome === 'cancelled') return 'cancelled';
  return 'finished';
}

export interface Local {
  /** Pending approvals a tab of this page knows of (counted at once, before the next poll). */
  approvals: number;
  running: boolean;
  /** The tab's title (its first prompt), when this page has one. */
  title?: string | null;
}

/** Every session once: runs first (they know the state), transcripts of the same session add the title. */
export function mergeOverview(
  runs: RunningSession[],
  past: SessionInfo[],
  projectIdFor: (path: string) => string | null,
  local: Record<string, Local> = {},
): OverviewEntry[] {
  const byId = new Map<string, OverviewEntry>();
  for (const r of runs) {
    const at = Math.max(unixSeconds(r.started_at), r.finished_at ?? 0);
    let state = runState(r);
    let waiting = r.health?.waiting_for_you ?? 0;
    const mine = local[r.session_id];
    if (mine && mine.running && mine.approvals > waiting) {
      waiting = mine.approvals;
      state = 'waiting';
    }
    byId.set(r.session_id, {
      sessionId: r.session_id,
      projectPath: r.project_path,
      projectId: projectIdFor(r.project_path),
      title: mine?.title ?? null,
      state,
      waiting: state === 'waiting' ? waiting : 0,
      live: r.live === true,
      at,
      run: r,
    });
  }
  for (const p of past) {
    const e = byId.get(p.id);
    const title = p.first_message?.trim() || null;
    if (e) {
      e.title = title ?? e.title;
      e.projectId = e.projectId ?? p.project_id;
      continue;
    }
    const t = p.message_timestamp ? Math.floor(Date.parse(p.message_timestamp) / 1000) : p.created_at;
    byId.set(p.id, {
      sessionId: p.id,
      projectPath: p.project_path,
      projectId: p.project_id,
      title,
      state: 'past',
      waiting: 0,
      live: false,
      at: Number.isFinite(t) ? t : p.created_at,
      run: null,
    });
  }
  return sortOverview([...byId.values()]);
}

/** Waiting for you first, then running, stopped, then the rest; newest first within each. */
export function sortOverview(list: OverviewEntry[]): OverviewEntry[] {
  return list
    .map((e, i) => ({ e, i }))
    .sort((a, b) => ORDER[a.e.state] - ORDER[b.e.state] || b.e.at - a.e.at || a.i - b.i)
    .map((x) => x.e);
}

/** Sessions waiting for an answer: the server's word, or a tab of ours that already has the request. */
export function waitingSessions(runs: RunningSession[] | null, local: Record<string, Local>): number {
  const ids = new Set<string>();
  for (const r of runs ?? []) if (r.status === 'running' && (r.health?.waiting_for_you ?? 0) > 0) ids.add(r.session_id);
  for (const [id, l] of Object.entries(local)) if (l.running && l.approvals > 0) ids.add(id);
  return ids.size;
}

export const APP_TITLE = 'opcode';

/** "(2) opcode" while two sessions wait for you. */
export function titleFor(waiting: number): string {
  return waiting > 0 ? `(${waiting}) ${APP_TITLE}` : APP_TITLE;
}

interface BadgeNavigator {
  setAppBadge?: (n?: number) => Promise<void>;
  clearAppBadge?: () => Promise<void>;
}

/** The waiting count on the installed app's icon, where the platform has badges. */
export function setBadge(waiting: number, nav: BadgeNavigator | undefined = typeof navigator === 'undefined' ? undefined : (navigator as BadgeNavigator)): void {
  if (!nav) return;
  try {
    if (waiting > 0) void nav.setAppBadge?.(waiting)?.catch(() => {});
    else void nav.clearAppBadge?.()?.catch(() => {});
  } catch {
    /* not allowed here */
  }
}

export const STATE_LABEL: Record<OverviewState, string> = {
  waiting: 'waiting for you',
  running: 'running',
  stopped: 'stopped unexpectedly',
  finished: 'finished',
  failed: 'failed',
  cancelled: 'cancelled',
  past: 'past session',
};
