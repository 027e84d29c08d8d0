// Past sessions of the selected project (GET /api/projects/{id}/sessions); opening one shows its history.

import type { Project, SessionInfo } from '../events';
import { formatTime } from './ProjectList';

interface Props {
  project: Project;
  sessions: SessionInfo[] | null;
  error: string | null;
  onOpen: (s: SessionInfo) => void;
}

export function SessionList({ project, sessions, error, onOpen }: Props) {
  return (
    <section className="panel" aria-label="Sessions">
      <div className="panel-head">
        <h2>Sessions</h2>
      </div>
      <div className="list-sub">{project.path}</div>
      {error && <div className="msg-error">{error}</div>}
      {sessions === null && !error && <div className="muted">Loading…</div>}
      {sessions?.length === 0 && <div className="muted">No sessions.</div>}
      <ul className="list" data-testid="session-list">
        {sessions?.map((s) => (
          <li key={s.id}>
            <button className="list-item" data-testid="session-item" data-session-id={s.id} onClick={() => onOpen(s)}>
              <span className="list-title">{s.first_message?.trim() || '(no message)'}</span>
              <span className="list-sub">
                {s.id.slice(0, 8)} · {s.message_timestamp ? new Date(s.message_timestamp).toLocaleString() : formatTime(s.created_at)}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
