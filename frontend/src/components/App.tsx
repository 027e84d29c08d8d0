// The application shell: checks authorisation, loads projects, and lays out the sidebar (new session,
// projects, sessions), the tab strip and the active session, the runs view or the home view.

import { useCallback, useEffect, useState } from 'react';
import { api, errorSentence, isNetworkError, UnauthorizedError } from '../api';
import { useApp, useAppState, useRuns } from '../context';
import { setBadge, titleFor, waitingSessions } from '../overview';
import { openFromLocation, syncLocation } from '../route';
import type { PermissionMode, Project, SessionInfo } from '../events';
import { ClaudeMdPane } from './ClaudeMd';
import { HomeView } from './HomeView';
import { McpPane } from './Mcp';
import { NewSession } from './NewSession';
import { NotificationsPanel } from './Notifications';
import { OfflineBanner } from './OfflineBanner';
import { ProjectTools, type Pane } from './ProjectTools';
import { Overview, useLocalSessions } from './Overview';
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
  const { controller, feed, store } = useApp();
  const runs = useRuns();
  const local = useLocalSessions();
  const waiting = waitingSessions(runs, local);

  useEffect(() => {
    document.title = titleFor(waiting);
    setBadge(waiting);
  }, [waiting]);
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
  const [startError, setStartError] = useState<string | null>(null);
  const [pane, setPane] = useState<Pane | null>(null);
  // a tab or the runs view chosen takes the place of a pane
  useEffect(() => setPane(null), [active, runsView]);

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
    if (!authorised) return;
    const hash = window.location.hash; // read before anything is shown: showing a tab rewrites it
    controller.restoreTabs();
    feed?.start();
    let unsubscribe: (() => void) | null = null;
    let gone = false;
    void openFromLocation(controller, hash).finally(() => {
      if (gone) return;
      syncLocation(store.getState());
      unsubscribe = store.subscribe(() => syncLocation(store.getState()));
    });
    return () => {
      gone = true;
      unsubscribe?.();
    };
  }, [authorised, controller, feed, store]);

  const selectProject = useCallback(async (p: Project) => {
    feed?.refresh();
    setSelected(p);
    setPath(p.path);
    setSessions(null);
    setSessionsError(null);
    try {
      setSessions(await api.sessions(p.id));
    } catch (e) {
      setSessionsError(`Could not load sessions: ${errorText(e)}`);
    }
  }, [feed]);

  const projectIdFor = (p: string) => projects?.find((x) => x.path === p)?.id ?? null;

  /** Starts a run once the server says the directory can be used (a directory that does not exist gives a
   *  sentence here, not a tab of a session that never existed). Without a connection the run starts anyway:
   *  its request waits for the socket. Returns whether it started (the composer keeps the text otherwise). */
  const start = async (prompt: string, commandType: 'execute' | 'continue'): Promise<boolean> => {
    const projectPath = path.trim();
    setStartError(null);
    try {
      await api.checkProject(projectPath);
    } catch (e) {
      if (e instanceof UnauthorizedError) {
        setAuthorised(false);
        return false;
      }
      if (!isNetworkError(e)) {
        setStartError(`Cannot start in ${projectPath}: ${errorSentence(e)}`);
        return false;
      }
    }
    controller.run({ commandType, projectPath, prompt, model, projectId: projectIdFor(projectPath), live, permissionMode });
    window.setTimeout(() => void loadProjects(), 1500);
    return true;
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
    <div className={`app ${active || runsView || pane ? 'has-active' : 'is-home'}`}>
      <OfflineBanner />
      <header className="topbar">
        <span className="brand" aria-label="opcode-web">
          ◆<span className="brand-text"> opcode</span>
        </span>
        <TabStrip />
      </header>
      <div className="body">
        <aside className="sidebar">
          {!active && !runsView && <Overview projects={projects} projectIdFor={projectIdFor} />}
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
          <ProjectTools projectPath={path.trim()} pane={pane} onPane={setPane} />
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
              onOpenRun={(r) => controller.attach(r.session_id, r.project_path, selected.id)}
            />
          )}
          <NotificationsPanel />
        </aside>
        <main className="main">
          {pane?.kind === 'claude-md' ? (
            <ClaudeMdPane key={pane.projectPath} projectPath={pane.projectPath} onClose={() => setPane(null)} />
          ) : pane?.kind === 'mcp' ? (
            <McpPane key={pane.projectPath} projectPath={pane.projectPath} onClose={() => setPane(null)} />
          ) : runsView ? (
            <RunsView projectIdFor={projectIdFor} />
          ) : active ? (
            <SessionTab key={active} tabKey={active} />
          ) : (
            <HomeView
              path={path}
              error={startError}
              onStart={(p) => start(p, 'execute')}
              onContinue={(p) => start(p, 'continue')}
            />
          )}
        </main>
      </div>
    </div>
  );
}
