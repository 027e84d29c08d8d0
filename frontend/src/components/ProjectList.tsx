// Claude projects known to the server (GET /api/projects), newest first; picking one selects it.

import type { Project } from '../events';

export function basename(path: string): string {
  const parts = path.split('/').filter(Boolean);
  return parts[parts.length - 1] ?? path;
}

export function formatTime(unixSeconds: number | null | undefined): string {
  if (!unixSeconds) return '';
  const d = new Date(unixSeconds * 1000);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
}

interface Props {
  projects: Project[] | null;
  error: string | null;
  selectedId: string | null;
  onSelect: (p: Project) => void;
  onRefresh: () => void;
}

export function ProjectList({ projects, error, selectedId, onSelect, onRefresh }: Props) {
  return (
    <section className="panel" aria-label="Projects">
      <div className="panel-head">
        <h2>Projects</h2>
        <button className="btn btn-ghost btn-small" onClick={onRefresh} aria-label="Refresh projects">
          ↻
        </button>
      </div>
      {error && <div className="msg-error">{error}</div>}
      {projects === null && !error && <div className="muted">Loading…</div>}
      {projects?.length === 0 && <div className="muted">No projects yet: type a directory above to start one.</div>}
      <ul className="list" data-testid="project-list">
        {projects?.map((p) => (
          <li key={p.id}>
            <button
              className={`list-item ${p.id === selectedId ? 'selected' : ''}`}
              data-testid="project-item"
              title={p.path}
              onClick={() => onSelect(p)}
            >
              <span className="list-title">{basename(p.path)}</span>
              <span className="list-sub">{p.path}</span>
              <span className="list-sub">
                {p.sessions.length} session{p.sessions.length === 1 ? '' : 's'}
                {p.most_recent_session ? ` · ${formatTime(p.most_recent_session)}` : ''}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
