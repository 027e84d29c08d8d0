// Sessions of the selected project: the runs the server has of it first (so a live session started on
// another device, even one whose claude wrote no transcript yet, can be found and opened), then its past
// sessions (GET /api/projects/{id}/sessions); opening one shows its history, or follows it live.

import { useRuns } from '../context';
import type { Project, RunningSession, SessionInfo } from '../events';
import { runState, STATE_LABEL } from '../overview';
import { formatAgo, unixSeconds } from '../runs';
import { formatTime } from './ProjectList';

interface Props {
  project: Project;
  sessions: SessionInfo[] | null;
  error: string | null;
  onOpen: (s: SessionInfo) => void;
  onOpenRun: (r: RunningSession) => void;
  /** Opens the project's Files pane. */
  onFiles?: () => void;
}

export function SessionList({ project, sessions, error, onOpen, onOpenRun, onFiles }: Props) {
  const runs = useRuns();
  const mine = (runs ?? []).filter((r) => r.project_path === project.path);
  const byId = new Map(mine.map((r) => [r.session_id, r]));
  const known = new Set((sessions ?? []).map((s) => s.id));
  // in progress (or stopped) and not among the transcripts: listed first
  const extra = mine.filter((r) => !known.has(r.session_id) && runState(r) !== 'finished' && runState(r) !== 'failed' && runState(r) !== 'cancelled');
  const now = Math.floor(Date.now() / 1000);
  return (
    <section className="panel" aria-label="Sessions of the project">
      <div className="panel-head">
        <h2>Sessions</h2>
        {onFiles && (
          <button type="button" className="btn btn-small" data-testid="project-files-button" title="Browse the project's files" onClick={onFiles}>
            Files
          </button>
        )}
      </div>
      <div className="list-sub">{project.path}</div>
      {error && <div className="msg-error">{error}</div>}
      {sessions === null && !error && <div className="muted">Loading…</div>}
      {sessions?.length === 0 && extra.length === 0 && <div className="muted">No sessions.</div>}
      <ul className="list" data-testid="session-list">
        {extra.map((r) => (
          <li key={r.session_id}>
            <button className="list-item" data-testid="session-item" data-session-id={r.session_id} data-state={runState(r)} onClick={() => onOpenRun(r)}>
              <span className="list-title">
                {r.live ? 'Live session' : 'Run'} {r.session_id.slice(0, 8)}
              </span>
              <span className="list-sub">
                <span className={`overview-state state-${runState(r)}`}>{STATE_LABEL[runState(r)]}</span> · started {formatAgo(unixSeconds(r.started_at), now)}
              </span>
            </button>
          </li>
        ))}
        {sessions?.map((s) => {
          const run = byId.get(s.id);
          const state = run ? runState(run) : null;
          return (
            <li key={s.id}>
              <button
                className="list-item"
                data-testid="session-item"
                data-session-id={s.id}
                data-state={state ?? 'past'}
                onClick={() => (run?.status === 'running' ? onOpenRun(run) : onOpen(s))}
              >
                <span className="list-title">{s.first_message?.trim() || '(no message)'}</span>
                <span className="list-sub">
                  {state && state !== 'finished' && <span className={`overview-state state-${state}`}>{STATE_LABEL[state]} · </span>}
                  {s.id.slice(0, 8)} · {s.message_timestamp ? new Date(s.message_timestamp).toLocaleString() : formatTime(s.created_at)}
                </span>
              </button>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
