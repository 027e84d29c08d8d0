// "Needs you first": every session of the server across projects with its real state, the ones waiting for
// an answer first, then running, stopped, and recent ones (runs the server knows merged with the
// transcripts of the most recent projects). A tap opens the session.

import { useEffect, useMemo, useState } from 'react';
import { api } from '../api';
import { useApp, useAppState, useRuns } from '../context';
import type { Project, SessionInfo } from '../events';
import { sessionTitle } from '../reducer';
import { mergeOverview, STATE_LABEL, type Local, type OverviewEntry } from '../overview';
import { formatAgo } from '../runs';
import { basename } from './ProjectList';

/** Recent projects whose transcripts are listed, and sessions of each. */
const PROJECTS_LISTED = 5;
const SESSIONS_PER_PROJECT = 5;
/** Rows shown before "Show all". */
const ROWS_SHOWN = 8;

export function useLocalSessions(): Record<string, Local> {
  const sessions = useAppState((s) => s.sessions);
  return useMemo(() => {
    const out: Record<string, Local> = {};
    for (const s of Object.values(sessions)) {
      if (!s.sessionId) continue;
      const title = sessionTitle(s);
      out[s.sessionId] = { approvals: s.approvals.length, running: s.status === 'running', title: title === s.sessionId.slice(0, 8) ? null : title };
    }
    return out;
  }, [sessions]);
}

export function Overview({ projects, projectIdFor }: { projects: Project[] | null; projectIdFor: (path: string) => string | null }) {
  const { controller } = useApp();
  const runs = useRuns();
  const local = useLocalSessions();
  const [past, setPast] = useState<SessionInfo[]>([]);
  const [all, setAll] = useState(false);

  useEffect(() => {
    if (!projects) return;
    let cancelled = false;
    const recent = [...projects].sort((a, b) => (b.most_recent_session ?? 0) - (a.most_recent_session ?? 0)).slice(0, PROJECTS_LISTED);
    void Promise.all(recent.map((p) => api.sessions(p.id).then((l) => l.slice(0, SESSIONS_PER_PROJECT)).catch(() => [] as SessionInfo[]))).then(
      (lists) => {
        if (!cancelled) setPast(lists.flat());
      },
    );
    return () => {
      cancelled = true;
    };
  }, [projects]);

  const entries = useMemo(() => mergeOverview(runs ?? [], past, projectIdFor, local), [runs, past, projectIdFor, local]);
  if (runs === null && past.length === 0) return null;
  const urgent = entries.filter((e) => e.state === 'waiting' || e.state === 'running' || e.state === 'stopped').length;
  const shown = all ? entries : entries.slice(0, Math.max(ROWS_SHOWN, urgent));
  const now = Math.floor(Date.now() / 1000);

  const open = (e: OverviewEntry) => {
    if (e.run?.status === 'running' || !e.projectId) controller.attach(e.sessionId, e.projectPath, e.projectId);
    else void controller.openPast(e.sessionId, e.projectPath, e.projectId);
  };

  return (
    <section className="panel overview" aria-label="Sessions" data-testid="overview">
      <div className="panel-head">
        <h2>Sessions</h2>
        <span className="muted small" data-testid="overview-summary">
          {summary(entries)}
        </span>
      </div>
      {entries.length === 0 && <div className="muted">No sessions yet.</div>}
      <ul className="list">
        {shown.map((e) => (
          <li key={e.sessionId}>
            <button
              className={`list-item overview-row state-${e.state}`}
              data-testid="overview-row"
              data-session-id={e.sessionId}
              data-state={e.state}
              onClick={() => open(e)}
            >
              <span className="overview-line">
                <span className="list-title">
                  <strong>{basename(e.projectPath) || e.projectPath}</strong> · {e.title ?? e.sessionId.slice(0, 8)}
                </span>
                <span className={`overview-state state-${e.state}`} data-testid="overview-state">
                  {STATE_LABEL[e.state]}
                  {e.state === 'waiting' && e.waiting > 1 ? ` (${e.waiting})` : ''}
                </span>
              </span>
              <span className="list-sub">
                {e.live ? 'live · ' : ''}
                {formatAgo(e.at, now)}
                {e.at ? ' · ' : ''}
                {e.projectPath}
              </span>
            </button>
          </li>
        ))}
      </ul>
      {entries.length > shown.length && (
        <button className="btn btn-ghost" data-testid="overview-show-all" onClick={() => setAll(true)}>
          Show all {entries.length}
        </button>
      )}
    </section>
  );
}

function summary(entries: OverviewEntry[]): string {
  const waiting = entries.filter((e) => e.state === 'waiting').length;
  const running = entries.filter((e) => e.state === 'running').length;
  const parts = [];
  if (waiting) parts.push(`${waiting} waiting for you`);
  if (running) parts.push(`${running} running`);
  return parts.join(' · ');
}
