// The strip of open sessions (one tab each, keyed by session id) plus "+ New" for the home view, "Runs"
// for the running-sessions view and "Usage" for the usage analytics.

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
  const runsView = useAppState((st) => st.runsView);
  const usageView = useAppState((st) => st.usageView ?? false);
  return (
    <nav className="tabs" aria-label="Open sessions">
      <button
        className={`tab-new ${active === null && !runsView && !usageView ? 'active' : ''}`}
        data-testid="new-tab"
        onClick={() => store.dispatch({ type: 'activate', key: null })}
      >
        + New
      </button>
      <button
        className={`tab-new ${runsView ? 'active' : ''}`}
        data-testid="runs-tab"
        aria-current={runsView ? 'page' : undefined}
        title="Runs of this server: health, waiting for you, resume"
        onClick={() => store.dispatch({ type: 'show-runs' })}
      >
        Runs
      </button>
      <button
        className={`tab-new ${usageView ? 'active' : ''}`}
        data-testid="usage-tab"
        aria-current={usageView ? 'page' : undefined}
        title="Usage: cost and tokens by day, project, model and session"
        onClick={() => store.dispatch({ type: 'show-usage' })}
      >
        Usage
      </button>
      {order.map((k) => (
        <Tab key={k} tabKey={k} active={k === active && !runsView && !usageView} />
      ))}
    </nav>
  );
}
