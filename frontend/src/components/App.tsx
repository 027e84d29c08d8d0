// The application shell: checks authorisation, loads projects, and lays out the sidebar (new session,
// projects, sessions), the tab strip and the active session, the runs view or the home view.

import { useCallback, useEffect, useState } from 'react';
import { api, UnauthorizedError } from '../api';
import { useApp, useAppState } from '../context';
import type { PermissionMode, Project, SessionInfo } from '../events';
import { HomeView } from './HomeView';
import { NewSession } from './NewSession';
import { ProjectList } from './ProjectList';
import { RunsView } from './RunsView';
import { SessionList } from './SessionList';
import { SessionTab } from './SessionTab';
import { TabStrip } from './TabStrip';

export function Unauthorized() {
  return (
    <main className="full-page" data-testid="unauthorized">
      <h1>Not authorised</h1>
      <p>Open the URL printed by opcode-web (it contains ?token=…).</p>
      <p className="muted">The token is stored in a cookie for this browser; the address bar then drops it.</p>
    </main>
  );
}

function errorText(e: unknown) {
  return e instanceof Error ? e.message : String(e);
}

export function App() {
  const { controller } = useApp();
  const active = useAppState((s) => s.active);
  const runsView = useAppState((s) => s.runsView);
  const [authorised, setAuthorised] = useState<boolean | null>(null);
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [projectsError, setProjectsError] = useState<string | null>(null);
  const [selected, setSelected] = useState<Project | null>(null);
  const [sessions, setSessions] = useState<SessionInfo[] | null>(null);
  const [sessionsError, setSessionsError] = useState<string | null>(null);
  const [path, setPath] = useState('');
  const [model, setModel] = useState('');
  const [live, setLive] = useState(true);
  const [permissionMode, setPermissionMode] = useState<PermissionMode>('default');

  const loadProjects = useCallback(async () => {
    setProjectsError(null);
    try {
      const list = await api.projects();
      setProjects(list);
      setAuthorised(true);
    } catch (e) {
      if (e instanceof UnauthorizedError) {
        setAuthorised(false);
        return;
      }
      setAuthorised((a) => a ?? true);
      setProjects((p) => p ?? []);
      setProjectsError(`Could not load projects: ${errorText(e)}`);
    }
  }, []);

  useEffect(() => {
    void loadProjects();
  }, [loadProjects]);

  useEffect(() => {
    if (authorised) controller.restoreTabs();
  }, [authorised, controller]);

  const selectProject = useCallback(async (p: Project) => {
    setSelected(p);
    setPath(p.path);
    setSessions(null);
    setSessionsError(null);
    try {
      setSessions(await api.sessions(p.id));
    } catch (e) {
      setSessionsError(`Could not load sessions: ${errorText(e)}`);
    }
  }, []);

  const projectIdFor = (p: string) => projects?.find((x) => x.path === p)?.id ?? null;

  const start = (prompt: string, commandType: 'execute' | 'continue') => {
    const projectPath = path.trim();
    controller.run({ commandType, projectPath, prompt, model, projectId: projectIdFor(projectPath), live, permissionMode });
    window.setTimeout(() => void loadProjects(), 1500);
  };

  if (authorised === false) return <Unauthorized />;
  if (authorised === null) {
    return (
      <main className="full-page" data-testid="loading">
        <p className="muted">Connecting to opcode-web…</p>
      </main>
    );
  }

  return (
    <div className={`app ${active || runsView ? 'has-active' : 'is-home'}`}>
      <header className="topbar">
        <span className="brand" aria-label="opcode-web">
          ◆<span className="brand-text"> opcode</span>
        </span>
        <TabStrip />
      </header>
      <div className="body">
        <aside className="sidebar">
          <NewSession
            path={path}
            model={model}
            projects={projects}
            onPath={setPath}
            onModel={setModel}
            live={live}
            onLive={setLive}
            permissionMode={permissionMode}
            onPermissionMode={setPermissionMode}
          />
          <ProjectList
            projects={projects}
            error={projectsError}
            selectedId={selected?.id ?? null}
            onSelect={(p) => void selectProject(p)}
            onRefresh={() => void loadProjects()}
          />
          {selected && (
            <SessionList
              project={selected}
              sessions={sessions}
              error={sessionsError}
              onOpen={(s) => void controller.openPast(s.id, s.project_path || selected.path, s.project_id || selected.id)}
            />
          )}
        </aside>
        <main className="main">
          {runsView ? (
            <RunsView projectIdFor={projectIdFor} />
          ) : active ? (
            <SessionTab key={active} tabKey={active} />
          ) : (
            <HomeView path={path} onStart={(p) => start(p, 'execute')} onContinue={(p) => start(p, 'continue')} />
          )}
        </main>
      </div>
    </div>
  );
}
