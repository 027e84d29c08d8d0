// The strip of open sessions (one tab each, keyed by session id) plus "+ New" for the home view, "Runs"
// for the running-sessions view, "Usage" for the usage analytics and "Agents" for the agents pane.

import { memo } from 'react';
import { useApp, useAppState } from '../context';
import { sessionTitle } from '../reducer';
import { basename } from './ProjectList';

const Tab = memo(function Tab({ tabKey, active }: { tabKey: string; active: boolean }) {
  const { store, controller } = useApp();
  const s = useAppState((st) => st.sessions[tabKey]);
  if (!s) return null;
  return (
    <div className={`tab ${active ? 'active' : ''}`} data-testid="tab" data-session-id={s.sessionId ?? ''}>
      <button
        className="tab-main"
        aria-current={active ? 'page' : undefined}
        onClick={() => store.dispatch({ type: 'activate', key: tabKey })}
        title={`${s.projectPath} · ${s.sessionId ?? 'starting'}`}
      >
        <span className={`tab-dot status-${s.status}`} aria-hidden="true" />
        <span className="tab-text">
          <span className="tab-label" data-testid="tab-project">{basename(s.projectPath) || 'session'}</span>
          <span className="tab-title" data-testid="tab-title">{sessionTitle(s)}</span>
        </span>
        {s.approvals.length > 0 && (
          <span
            className="approval-badge"
            data-testid="approval-badge"
            title={`${s.approvals.length} tool approval${s.approvals.length === 1 ? '' : 's'} waiting`}
            aria-label={`${s.approvals.length} approvals waiting`}
          >
            {s.approvals.length}
          </span>
        )}
      </button>
      <button className="tab-close" aria-label="Close tab" data-testid="tab-close" onClick={() => controller.close(tabKey)}>
        ×
      </button>
    </div>
  );
});

export function TabStrip() {
  const { store } = useApp();
  const order = useAppState((st) => st.order);
  const active = useAppState((st) => st.active);
  const pane = useAppState((st) => st.pane);
  return (
    <nav className="tabs" aria-label="Open sessions">
      <button
        className={`tab-new ${active === null && !pane ? 'active' : ''}`}
        data-testid="new-tab"
        onClick={() => store.dispatch({ type: 'activate', key: null })}
      >
        + New
      </button>
      <button
        className={`tab-new ${pane === 'runs' ? 'active' : ''}`}
        data-testid="runs-tab"
        aria-current={pane === 'runs' ? 'page' : undefined}
        title="Runs of this server: health, waiting for you, resume"
        onClick={() => store.dispatch({ type: 'show-pane', pane: 'runs' })}
      >
        Runs
      </button>
      <button
        className={`tab-new ${pane === 'usage' ? 'active' : ''}`}
        data-testid="usage-tab"
        aria-current={pane === 'usage' ? 'page' : undefined}
        title="Usage: cost and tokens by day, project, model and session"
        onClick={() => store.dispatch({ type: 'show-pane', pane: 'usage' })}
      >
        Usage
      </button>
      <button
        className={`tab-new ${pane === 'agents' ? 'active' : ''}`}
        data-testid="agents-tab"
        aria-current={pane === 'agents' ? 'page' : undefined}
        title="Agents: saved system prompts and tools, run on a project"
        onClick={() => store.dispatch({ type: 'show-pane', pane: 'agents' })}
      >
        Agents
      </button>
      {order.map((k) => (
        <Tab key={k} tabKey={k} active={k === active && !pane} />
      ))}
    </nav>
  );
}
