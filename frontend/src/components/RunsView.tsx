// The running-sessions view: every run the server knows (GET /api/sessions/running, polled only while this
// view is shown and the page visible), most urgent first: runs waiting for an answer, runs in progress with
// their health (alive, CPU, RSS, quiet time), live sessions that stopped on their own (Resume: one click),
// then finished runs. Open attaches a tab; Cancel kills a run.

import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { api } from '../api';
import { useApp, useAppState } from '../context';
import type { RunningSession } from '../events';
import { RunsPoller, endLine, formatAgo, formatBytes, formatCpu, formatQuiet, runCategory, sortRuns, unixSeconds, type RunCategory } from '../runs';
import { basename } from './ProjectList';

interface Props {
  /** The Claude project id of a directory, when the projects list knows it (for the transcript). */
  projectIdFor: (path: string) => string | null;
  intervalMs?: number;
}

/** Finished runs listed before "Show all". */
const FINISHED_SHOWN = 8;

const nowSeconds = () => Math.floor(Date.now() / 1000);

export function RunsView({ projectIdFor, intervalMs }: Props) {
  const { controller } = useApp();
  const [runs, setRuns] = useState<RunningSession[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [asOf, setAsOf] = useState(nowSeconds);
  const [allFinished, setAllFinished] = useState(false);
  const poller = useRef<RunsPoller | null>(null);

  useEffect(() => {
    const p = new RunsPoller({
      fetch: api.running,
      intervalMs,
      onData: (list) => {
        setRuns(list);
        setError(null);
        setAsOf(nowSeconds());
      },
      onError: (message) => setError(`Could not load runs: ${message}`),
    });
    poller.current = p;
    const onVisibility = () => (document.visibilityState === 'hidden' ? p.pause() : p.resume());
    if (document.visibilityState === 'hidden') p.pause();
    document.addEventListener('visibilitychange', onVisibility);
    p.start();
    return () => {
      document.removeEventListener('visibilitychange', onVisibility);
      p.stop();
      poller.current = null;
    };
  }, [intervalMs]);

  const sorted = useMemo(() => (runs ? sortRuns(runs) : []), [runs]);
  const groups = useMemo(() => {
    const g: Record<'active' | 'stopped' | 'finished', RunningSession[]> = { active: [], stopped: [], finished: [] };
    for (const r of sorted) {
      const c = runCategory(r);
      g[c === 'waiting' || c === 'running' ? 'active' : c].push(r);
    }
    return g;
  }, [sorted]);
  const waiting = groups.active.filter((r) => runCategory(r) === 'waiting').length;
  const finishedShown = allFinished ? groups.finished : groups.finished.slice(0, FINISHED_SHOWN);

  const actions: RowActions = {
    open: (r) => controller.attach(r.session_id, r.project_path, projectIdFor(r.project_path)),
    resume: (r) => controller.resumeRun(r, projectIdFor(r.project_path)),
    cancel: async (r) => {
      if (!window.confirm(`Cancel the run in ${basename(r.project_path)}? claude is stopped.`)) return;
      try {
        await api.cancel(r.session_id);
      } catch (e) {
        setError(`Cancel failed: ${e instanceof Error ? e.message : String(e)}`);
      }
      poller.current?.refresh();
    },
  };

  return (
    <section className="runs" data-testid="runs-view" aria-label="Runs">
      <div className="runs-head">
        <div className="runs-title">
          <h1>Runs</h1>
          <span className="muted small" data-testid="runs-summary">
            {runs === null
              ? 'Loading…'
              : `${groups.active.length} in progress${waiting ? ` · ${waiting} waiting for you` : ''}${
                  groups.stopped.length ? ` · ${groups.stopped.length} stopped` : ''
                }`}
          </span>
        </div>
        <button className="btn btn-small" data-testid="runs-refresh" aria-label="Refresh runs" onClick={() => poller.current?.refresh()}>
          ↻
        </button>
      </div>
      <div className="runs-body">
        {error && (
          <div className="msg-error" role="alert">
            {error}
          </div>
        )}
        {runs !== null && runs.length === 0 && <p className="muted">No runs yet. Runs of this server show up here.</p>}
        {groups.active.length > 0 && <RunGroup title="In progress" runs={groups.active} asOf={asOf} actions={actions} />}
        {groups.stopped.length > 0 && (
          <RunGroup title="Stopped unexpectedly" runs={groups.stopped} asOf={asOf} actions={actions} />
        )}
        {groups.finished.length > 0 && (
          <RunGroup title="Finished" runs={finishedShown} asOf={asOf} actions={actions}>
            {groups.finished.length > FINISHED_SHOWN && (
              <button className="btn btn-ghost" data-testid="runs-show-all" onClick={() => setAllFinished((v) => !v)}>
                {allFinished ? 'Show fewer' : `Show all ${groups.finished.length}`}
              </button>
            )}
          </RunGroup>
        )}
      </div>
    </section>
  );
}

interface RowActions {
  open: (r: RunningSession) => void;
  resume: (r: RunningSession) => void;
  cancel: (r: RunningSession) => Promise<void>;
}

function RunGroup({
  title,
  runs,
  asOf,
  actions,
  children,
}: {
  title: string;
  runs: RunningSession[];
  asOf: number;
  actions: RowActions;
  children?: ReactNode;
}) {
  return (
    <section className="run-group" aria-label={title}>
      <h2>{title}</h2>
      <ul className="list run-list">
        {runs.map((r) => (
          <RunRow key={r.session_id} run={r} asOf={asOf} actions={actions} />
        ))}
      </ul>
      {children}
    </section>
  );
}

const CATEGORY_LABEL: Record<RunCategory, string> = {
  waiting: 'waiting for you',
  running: 'running',
  stopped: 'stopped unexpectedly',
  finished: 'finished',
};

export function RunRow({ run: r, asOf, actions }: { run: RunningSession; asOf: number; actions: RowActions }) {
  const tab = useAppState((s) => s.sessions[r.session_id]);
  const category = runCategory(r);
  const h = r.health;
  const waiting = h?.waiting_for_you ?? 0;
  const inProgress = r.status === 'running';
  const started = formatAgo(unixSeconds(r.started_at), asOf);
  return (
    <li className={`run-card run-card-${category}`} data-testid="run-row" data-session-id={r.session_id} data-category={category}>
      <div className="run-head">
        <span className="run-name" title={r.project_path}>
          {basename(r.project_path) || r.project_path}
        </span>
        <span className="tab-id">{r.session_id.slice(0, 8)}</span>
        {r.live && <span className="badge">live</span>}
        {category === 'waiting' ? (
          <span className="waiting-badge" data-testid="waiting-badge" role="status">
            waiting for you{waiting > 1 ? ` (${waiting})` : ''}
          </span>
        ) : (
          <span className={`run-state state-${category}${category === 'finished' && r.outcome ? ` status-${r.outcome}` : ''}`} data-testid="run-state">
            {category === 'finished' ? (r.outcome ?? 'finished') : CATEGORY_LABEL[category]}
          </span>
        )}
      </div>
      <div className="list-sub" title={r.project_path}>
        {r.project_path}
        {started ? ` · started ${started}` : ''}
        {tab ? ' · open in a tab' : ''}
      </div>
      {inProgress && h ? (
        <div className="run-health" data-testid="run-health">
          <span className={h.alive ? 'health-alive' : 'health-dead'} data-testid="health-alive">
            {h.alive ? `alive${h.processes > 1 ? ` · ${h.processes} processes` : ''}` : 'process gone'}
          </span>
          <span data-testid="health-cpu">CPU {formatCpu(h.cpu_seconds)}</span>
          <span data-testid="health-rss">RSS {formatBytes(h.rss_bytes)}</span>
          <span className={h.seconds_since_output >= 300 ? 'health-quiet-long' : ''} data-testid="health-quiet">
            {formatQuiet(h.seconds_since_output)}
          </span>
        </div>
      ) : inProgress ? (
        <div className="run-health muted">starting…</div>
      ) : (
        <div className="run-end muted" data-testid="run-end">
          {endLine(r, asOf)}
        </div>
      )}
      <div className="run-actions">
        {category === 'stopped' && (
          <button className="btn btn-primary" data-testid="run-resume" title="Start claude again on this session (live)" onClick={() => actions.resume(r)}>
            Resume
          </button>
        )}
        <button className={`btn ${category === 'waiting' ? 'btn-primary' : ''}`} data-testid="run-open" onClick={() => actions.open(r)}>
          {category === 'waiting' ? 'Answer' : 'Open'}
        </button>
        {inProgress && (
          <button className="btn btn-danger" data-testid="run-cancel" onClick={() => void actions.cancel(r)}>
            Cancel
          </button>
        )}
      </div>
    </li>
  );
}
