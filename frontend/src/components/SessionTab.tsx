// One open session: status bar (connection, run status, cancel, end of a live session), the transcript,
// why the last run stopped when it ended on its own (with Resume for a live session), the pending tool
// approvals pinned above the prompt box, and the prompt box: a follow-up written to the running live
// process, or a resume of a finished session.

import { useCallback, useState } from 'react';
import { useApp, useAppState } from '../context';
import { canResumeLive, composerMode, statusLabel, turnInProgress, type SessionState } from '../reducer';
import { ApprovalCard } from './Approval';
import { ConnIndicator } from './ConnIndicator';
import { Composer } from './Composer';
import { Outbox } from './Outbox';
import { GitPane } from './GitPane';
import { LiveSettings } from './LiveSettings';
import { FilesPane } from './FilesPane';
import { PermissionRulesPage } from './PermissionRules';
import { TerminalButton, TerminalSlot, useTerminalsAvailable } from './TerminalSlot';
import { TimelinePane } from './Timeline';
import { Transcript } from './Transcript';

export function composerPlaceholder(s: SessionState): string {
  switch (composerMode(s)) {
    case 'follow-up':
      return turnInProgress(s) ? 'Queue a follow-up…' : 'Reply (live session)';
    case 'busy':
      return 'Claude is working…';
    case 'resume':
      return 'Reply to continue this session';
    case 'unavailable':
      if (s.neverStarted) return 'This session never started';
      return s.starting ? 'Starting claude…' : 'Starting…';
  }
}

/** Above the prompt box when the last run ended on its own: why, and Resume for a live session. */
export function StoppedBanner({ s, onResume }: { s: SessionState; onResume: () => void }) {
  const stopped = s.stopped;
  if (!stopped) return null;
  const resumable = canResumeLive(s);
  return (
    <div className="run-stopped" data-testid="run-stopped" data-reason={stopped.reason} role="status">
      <div className="run-stopped-text">
        <strong>{stopped.reason === 'server-restart' ? 'The server restarted during this run' : 'Claude stopped unexpectedly'}</strong>
        <span className="run-stopped-message" data-testid="run-stopped-message">
          {stopped.message}
        </span>
        {!resumable && <span className="muted small">Send a prompt below to continue this session.</span>}
      </div>
      {resumable && (
        <button className="btn btn-primary" data-testid="resume-button" title="Start claude again on this session; it waits for your next prompt" onClick={onResume}>
          Resume
        </button>
      )}
    </div>
  );
}

export function SessionTab({ tabKey }: { tabKey: string }) {
  const { controller } = useApp();
  const s = useAppState((st) => st.sessions[tabKey]);
  const loadOlder = useCallback(() => void controller.loadHistory(tabKey), [controller, tabKey]);
  const [showRules, setShowRules] = useState(false);
  const [showTerminal, setShowTerminal] = useState(false);
  const terminalsOn = useTerminalsAvailable();
  const [showGit, setShowGit] = useState(false);
  const [showFiles, setShowFiles] = useState(false);
  const [showTimeline, setShowTimeline] = useState(false);
  if (!s) return null;
  const running = s.status === 'running';
  const mode = composerMode(s);
  const turn = turnInProgress(s);
  return (
    <section
      className="session"
      data-testid="session-view"
      data-session-id={s.sessionId ?? ''}
      data-live={s.live ? 'true' : 'false'}
      data-composer-mode={mode}
    >
      <div className="session-bar">
        <div className="session-meta">
          <span className="session-path" data-testid="session-path" title={s.projectPath}>
            {s.projectPath || '(unknown project)'}
          </span>
          <span className="session-id" data-testid="session-id">
            {s.sessionId ?? 'starting…'}
            {s.live && <span className="live-badge"> · live{s.permissionMode && s.permissionMode !== 'default' ? ` (${s.permissionMode})` : ''}</span>}
          </span>
        </div>
        <div className="session-controls">
          <ConnIndicator state={s.conn} />
          {s.projectPath && (
            <button
              type="button"
              className="btn btn-small btn-ghost"
              data-testid="files-button"
              aria-pressed={showFiles}
              title="Browse, edit, upload and download the project's files"
              onClick={() => setShowFiles((v) => !v)}
            >
              Files
            </button>
          )}
          {s.projectPath && (
            <button
              type="button"
              className="btn btn-small btn-ghost"
              data-testid="rules-button"
              aria-pressed={showRules}
              title="The tool rules kept for this project (what “Always allow” remembered)"
              onClick={() => setShowRules((v) => !v)}
            >
              Rules
            </button>
          )}
          {s.projectPath && terminalsOn && <TerminalButton open={showTerminal} onToggle={() => setShowTerminal((v) => !v)} />}
          {s.projectPath && (
            <button
              type="button"
              className="btn btn-small btn-ghost"
              data-testid="git-button"
              aria-pressed={showGit}
              title="The project's git status: changes, diffs, stage, commit, branches"
              onClick={() => setShowGit((v) => !v)}
            >
              Git
            </button>
          )}
          {s.projectPath && s.sessionId && (
            <button
              type="button"
              className="btn btn-small btn-ghost"
              data-testid="timeline-button"
              aria-pressed={showTimeline}
              title="The session's prompts, tools and changed files; fork it or restore files from a prompt"
              onClick={() => setShowTimeline((v) => !v)}
            >
              Timeline
            </button>
          )}
          <span className={`run-status status-${s.status}`} data-testid="run-status" data-status={s.status}>
            {statusLabel(s)}
          </span>
          {s.live && running && (
            <button
              className="btn btn-small"
              data-testid="end-button"
              title="End the live session: claude finishes normally"
              disabled={!s.sessionId}
              onClick={() => void controller.end(tabKey)}
            >
              End
            </button>
          )}
          {running && <CancelButton disabled={!s.sessionId} onConfirm={() => void controller.cancel(tabKey)} />}
        </div>
      </div>
      {s.live && running && (
        <LiveSettings
          model={s.model}
          permissionMode={s.permissionMode}
          busy={turn || s.approvals.length > 0 || !s.sessionId}
          onChange={(change) => void controller.changeSettings(tabKey, change)}
        />
      )}
      {showRules && s.projectPath && <PermissionRulesPage projectPath={s.projectPath} onClose={() => setShowRules(false)} />}
      {showTerminal && terminalsOn && s.projectPath && (
        <TerminalSlot projectPath={s.projectPath} onClose={() => setShowTerminal(false)} />
      )}
      {showGit && s.projectPath && <GitPane projectPath={s.projectPath} onClose={() => setShowGit(false)} />}
      {showFiles && s.projectPath && <FilesPane projectPath={s.projectPath} onClose={() => setShowFiles(false)} />}
      {showTimeline && s.projectPath && s.sessionId && (
        <TimelinePane
          sessionId={s.sessionId}
          projectPath={s.projectPath}
          projectId={s.projectId}
          running={running}
          onClose={() => setShowTimeline(false)}
        />
      )}
      {!showFiles && (
      <>
      <Transcript
        history={s.history.items}
        items={s.items}
        streaming={s.streaming}
        canLoadOlder={s.history.loaded && s.history.nextBefore !== null}
        onLoadOlder={loadOlder}
        sessionId={s.sessionId}
      />
      {s.stopped && !running && <StoppedBanner s={s} onResume={() => controller.resumeLive(tabKey)} />}
      {s.neverStarted && (
        <div className="run-stopped" data-testid="never-started" role="status">
          <div className="run-stopped-text">
            <strong>This session never started</strong>
            <span className="muted small">Nothing ran, so there is nothing to continue. Fix the request above and start a new session.</span>
          </div>
          <button className="btn" data-testid="close-dead-tab" onClick={() => controller.close(tabKey)}>
            Close
          </button>
        </div>
      )}
      {s.approvals.length > 0 && (
        <div className="approvals" data-testid="approvals" aria-live="assertive">
          {s.approvals.map((a) => (
            <ApprovalCard key={a.requestId} approval={a} onRespond={(answer) => controller.respond(tabKey, a.requestId, answer)} />
          ))}
        </div>
      )}
      <Outbox
        outbox={s.outbox}
        running={running && s.live}
        onEdit={(id, text) => void controller.editQueued(tabKey, id, text)}
        onRemove={(id) => void controller.unqueue(tabKey, id)}
        onRetry={(id) => controller.retryFailed(tabKey, id)}
      />
      <Composer
        placeholder={composerPlaceholder(s)}
        disabled={mode === 'busy' || mode === 'unavailable'}
        projectPath={s.projectPath || undefined}
        onSend={(prompt, images) => {
          if (mode === 'follow-up') {
            void controller.prompt(tabKey, prompt, undefined, images);
            return;
          }
          // a session that was live resumes live: its tools keep being asked for
          controller.resumeWith(tabKey, prompt, images);
        }}
        extra={() =>
          turn && (
            <button
              type="button"
              className="btn btn-warn"
              data-testid="interrupt-button"
              title="Stop the current turn; the session stays open"
              onClick={() => void controller.interrupt(tabKey)}
            >
              Interrupt
            </button>
          )
        }
      />
      </>
      )}
    </section>
  );
}

/** Cancel kills claude's whole process group: it asks first, in place (no dialog to miss on a phone). */
export function CancelButton({ disabled, onConfirm }: { disabled: boolean; onConfirm: () => void }) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button className="btn btn-small btn-danger-outline" data-testid="cancel-button" title="Kill claude (asks first)" disabled={disabled} onClick={() => setAsking(true)}>
        Cancel…
      </button>
    );
  }
  return (
    <span className="confirm-cancel" role="group" aria-label="Confirm cancel">
      <span className="small">Kill claude now?</span>
      <button
        className="btn btn-small btn-danger"
        data-testid="confirm-cancel"
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        Kill
      </button>
      <button className="btn btn-small" data-testid="keep-running" onClick={() => setAsking(false)}>
        Keep
      </button>
    </span>
  );
}
