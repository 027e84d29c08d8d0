// One open session: status bar (connection, run status, cancel), the transcript, and a prompt box that
// resumes the session with a follow-up.

import { useCallback } from 'react';
import { useApp, useAppState } from '../context';
import { ConnIndicator } from './ConnIndicator';
import { Composer } from './Composer';
import { Transcript } from './Transcript';

export function SessionTab({ tabKey }: { tabKey: string }) {
  const { controller } = useApp();
  const s = useAppState((st) => st.sessions[tabKey]);
  const loadOlder = useCallback(() => void controller.loadHistory(tabKey), [controller, tabKey]);
  if (!s) return null;
  const running = s.status === 'running';
  return (
    <section className="session" data-testid="session-view" data-session-id={s.sessionId ?? ''}>
      <div className="session-bar">
        <div className="session-meta">
          <span className="session-path" title={s.projectPath}>
            {s.projectPath || '(unknown project)'}
          </span>
          <span className="session-id">{s.sessionId ? s.sessionId.slice(0, 8) : 'starting…'}</span>
        </div>
        <ConnIndicator state={s.conn} />
        <span className={`run-status status-${s.status}`} data-testid="run-status">
          {s.status}
        </span>
        <button
          className="btn btn-danger"
          data-testid="cancel-button"
          disabled={!running || !s.sessionId}
          onClick={() => void controller.cancel(tabKey)}
        >
          Cancel
        </button>
      </div>
      <Transcript
        history={s.history.items}
        items={s.items}
        streaming={s.streaming}
        canLoadOlder={s.history.loaded && s.history.nextBefore !== null}
        onLoadOlder={loadOlder}
      />
      <Composer
        placeholder={running ? 'Claude is working…' : 'Reply to continue this session'}
        disabled={running || !s.sessionId || !s.projectPath}
        onSend={(prompt) =>
          controller.run({
            commandType: 'resume',
            projectPath: s.projectPath,
            prompt,
            sessionId: s.sessionId,
            projectId: s.projectId,
            model: s.model,
          })
        }
      />
    </section>
  );
}
