// The application shell: checks authorisation, loads projects, and lays out the sidebar (new session,
// projects, sessions), the tab strip and the active session, the runs view or the home view.

import { useCallback, useEffect, useState } from 'react';
import { api, authorisation, errorSentence, isNetworkError, UnauthorizedError } from '../api';
import { AuditPage, DevicesPage } from './Devices';
import { useApp, useAppState, useRuns } from '../context';
import { setBadge, titleFor, waitingSessions } from '../overview';
import { openFromLocation, syncLocation } from '../route';
import type { ImageAttachment, PermissionMode, Project, SessionInfo } from '../events';
import { AgentsView } from './AgentsView';
import { ClaudeMdPane } from './ClaudeMd';
import { FilesPane } from './FilesPane';
import { HomeView } from './HomeView';
import { McpPane } from './Mcp';
import { NewSession } from './NewSession';
import { NotificationsPanel } from './Notifications';
import { OfflineBanner } from './OfflineBanner';
import { ProjectTools, type Pane as ToolPane } from './ProjectTools';
import { Overview, useLocalSessions } from './Overview';
import { ProjectList } from './ProjectList';
import { RunsView } from './RunsView';
import { SessionList } from './SessionList';
import { SessionTab } from './SessionTab';
import { TabStrip } from './TabStrip';
import { UsageView } from './UsageView';

export function Unauthorized() {
  return (
    <main className="full-page" data-testid="unauthorized">
      <h1>Not authorised</h1>
      <p>This browser is not (or no longer) a paired device of this server.</p>
      <p>Open the URL printed by opcode-web (it contains ?token=…), or a pairing link from a paired device (Devices → Pair a device).</p>
      <p className="muted">
        The browser then keeps a credential of its own in a cookie, which can be revoked on the Devices page. A browser paired before
        devices existed opens the URL once more.
      </p>
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
  const pane = useAppState((s) => s.pane);
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
  /** The project whose Files pane fills the main area (opened from the project's session list). */
  const [filesFor, setFilesFor] = useState<string | null>(null);
  const [page, setPage] = useState<'devices' | 'audit' | null>(null);
  /** The project tool (CLAUDE.md, MCP servers) that fills the main area. */
  const [tool, setTool] = useState<ToolPane | null>(null);

  useEffect(() => authorisation.subscribe(() => setAuthorised(false)), []);
  // a tab or a pane (runs, usage, agents) shown from anywhere takes the main area back
  useEffect(() => {
    setFilesFor(null);
    setPage(null);
    setTool(null);
  }, [active, pane]);
  /** Shows one thing in the main area in place of the others (the Files pane, a devices page, a project tool). */
  const showFiles = (projectPath: string) => {
    setFilesFor(projectPath);
    setPage(null);
    setTool(null);
  };
  const showPage = (next: 'devices' | 'audit' | null) => {
    setPage(next);
    if (next) {
      setFilesFor(null);
      setTool(null);
    }
  };
  const showTool = (next: ToolPane | null) => {
    setTool(next);
    if (next) {
      setFilesFor(null);
      setPage(null);
    }
  };

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
    // an address changed on an open page (typed, a link, a notification's) opens what it names; the
    // page's own updates use replaceState, which fires no hashchange
    const onHashChange = () => void openFromLocation(controller, window.location.hash);
    window.addEventListener('hashchange', onHashChange);
    return () => {
      gone = true;
      unsubscribe?.();
      window.removeEventListener('hashchange', onHashChange);
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
  /** A session of the usage view: its transcript in a tab. */
  const openUsageSession = (sessionId: string, projectPath: string, projectId: string) =>
    void controller.openPast(sessionId, projectPath, projectId);

  /** Starts a run once the server says the directory can be used (a directory that does not exist gives a
   *  sentence here, not a tab of a session that never existed). Without a connection the run starts anyway:
   *  its request waits for the socket. Returns whether it started (the composer keeps the text otherwise). */
  const start = async (prompt: string, commandType: 'execute' | 'continue', images: ImageAttachment[] = []): Promise<boolean> => {
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
    controller.run({ commandType, projectPath, prompt, model, projectId: projectIdFor(projectPath), live, permissionMode, images });
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
    <div className={`app ${active || pane || filesFor || page || tool ? 'has-active' : 'is-home'}`}>
      <OfflineBanner />
      <header className="topbar">
        <span className="brand" aria-label="opcode-web">
          ◆<span className="brand-text"> opcode</span>
        </span>
        <TabStrip />
        <button
          type="button"
          className={`tab-new security-button ${page ? 'active' : ''}`}
          data-testid="devices-open"
          aria-current={page ? 'page' : undefined}
          title="Devices, pairing, the token and the activity log"
          aria-label="Devices"
          onClick={() => showPage(page === 'devices' ? null : 'devices')}
        >
          <svg className="security-icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
            <path
              d="M7 10V7a5 5 0 0 1 10 0v3M5 10h14v11H5z"
              fill="none"
              stroke="currentColor"
              strokeWidth="2"
              strokeLinejoin="round"
            />
          </svg>
          <span className="security-label">Devices</span>
        </button>
      </header>
      <div className="body">
        <aside className="sidebar">
          {!active && !pane && <Overview projects={projects} projectIdFor={projectIdFor} />}
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
          <ProjectTools projectPath={path.trim()} pane={tool} onPane={showTool} />
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
              onFiles={() => showFiles(selected.path)}
            />
          )}
          <NotificationsPanel />
        </aside>
        <main className="main">
          {tool?.kind === 'claude-md' ? (
            <ClaudeMdPane key={tool.projectPath} projectPath={tool.projectPath} onClose={() => setTool(null)} />
          ) : tool?.kind === 'mcp' ? (
            <McpPane key={tool.projectPath} projectPath={tool.projectPath} onClose={() => setTool(null)} />
          ) : filesFor ? (
            <FilesPane key={filesFor} projectPath={filesFor} onClose={() => setFilesFor(null)} />
          ) : page === 'devices' ? (
            <DevicesPage onClose={() => setPage(null)} onActivity={() => setPage('audit')} />
          ) : page === 'audit' ? (
            <AuditPage onClose={() => setPage(null)} onDevices={() => setPage('devices')} />
          ) : pane === 'runs' ? (
            <RunsView projectIdFor={projectIdFor} />
          ) : pane === 'usage' ? (
            <UsageView onOpenSession={openUsageSession} />
          ) : pane === 'agents' ? (
            <AgentsView projects={projects} projectIdFor={projectIdFor} />
          ) : active ? (
            <SessionTab key={active} tabKey={active} />
          ) : (
            <HomeView
              path={path}
              error={startError}
              onStart={(p, images) => start(p, 'execute', images)}
              onContinue={(p) => start(p, 'continue')}
            />
          )}
        </main>
      </div>
    </div>
  );
}
