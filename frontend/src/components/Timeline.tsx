// A session's timeline (from its transcript): each prompt with the tools claude ran and the files they
// changed. From a turn: "Fork" starts a new session that continues from the end of that turn (the old
// one is left as it is) and opens it; "Restore files" previews what going back to the files as they were
// at that prompt would change (diffs), then restores them with claude's own file checkpoints. A turn
// without a checkpoint says so instead.

import { useCallback, useEffect, useState } from 'react';
import { api, errorSentence, type RewindPreview, type TimelineTurn } from '../api';
import { useApp } from '../context';

interface Props {
  sessionId: string;
  projectPath: string;
  projectId: string | null;
  running: boolean;
  onClose: () => void;
}

export function TimelinePane({ sessionId, projectPath, projectId, running, onClose }: Props) {
  const { controller } = useApp();
  const [turns, setTurns] = useState<TimelineTurn[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<{ id: string; action: 'fork' | 'rewind' } | null>(null);

  const load = useCallback(async () => {
    setError(null);
    try {
      setTurns((await api.timeline(sessionId, projectPath)).turns);
    } catch (e) {
      setError(`Could not read the timeline: ${errorSentence(e)}`);
    }
  }, [sessionId, projectPath]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <section className="rules-page timeline" data-testid="timeline-pane" aria-label="Timeline">
      <div className="pane-head">
        <h2>Timeline</h2>
        <div className="pane-actions">
          <button type="button" className="btn btn-small btn-ghost" data-testid="timeline-reload" onClick={() => void load()}>
            Reload
          </button>
          <button type="button" className="btn btn-small" data-testid="timeline-close" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
      {error && (
        <div className="msg-error small" role="alert" data-testid="timeline-error">
          {error}
        </div>
      )}
      {!turns && !error && <p className="muted">Loading…</p>}
      {turns?.length === 0 && <p className="muted">No prompts in this session's transcript yet.</p>}
      {turns && (
        <ol className="timeline-turns" data-testid="timeline-turns">
          {turns.map((t, i) => (
            <li key={t.message_id} className="panel timeline-turn" data-testid="timeline-turn" data-message-id={t.message_id} data-checkpoint={t.checkpoint ? 'true' : 'false'}>
              <div className="timeline-prompt">
                <span className="muted small">#{i + 1}</span> <span className="pre-wrap">{t.prompt}</span>
              </div>
              {t.tools.length > 0 && (
                <div className="timeline-tools small" data-testid="timeline-tools">
                  {t.tools.map((tool, j) => (
                    <span key={j} className="timeline-tool" title={tool.target ?? ''}>
                      {tool.name}
                      {tool.target ? `: ${tool.target}` : ''}
                    </span>
                  ))}
                </div>
              )}
              {t.files_changed.length > 0 && (
                <div className="small timeline-files" data-testid="timeline-files">
                  Changed: {t.files_changed.map((f) => f.split('/').pop()).join(', ')}
                </div>
              )}
              <div className="pane-actions">
                <button
                  type="button"
                  className="btn btn-small"
                  data-testid="timeline-fork"
                  aria-pressed={open?.id === t.message_id && open.action === 'fork'}
                  onClick={() => setOpen({ id: t.message_id, action: 'fork' })}
                >
                  Fork after this
                </button>
                <button
                  type="button"
                  className="btn btn-small"
                  data-testid="timeline-rewind"
                  aria-pressed={open?.id === t.message_id && open.action === 'rewind'}
                  onClick={() => setOpen({ id: t.message_id, action: 'rewind' })}
                >
                  Restore files
                </button>
              </div>
              {open?.id === t.message_id && open.action === 'fork' && (
                <ForkForm
                  onFork={async (prompt, live) => {
                    const r = await api.fork(sessionId, { project_path: projectPath, message_id: t.last_message_id, prompt, live });
                    controller.attach(r.session_id, projectPath, projectId);
                  }}
                />
              )}
              {open?.id === t.message_id && open.action === 'rewind' && (
                <RewindPanel sessionId={sessionId} projectPath={projectPath} turn={t} running={running} />
              )}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

function ForkForm({ onFork }: { onFork: (prompt: string, live: boolean) => Promise<void> }) {
  const [prompt, setPrompt] = useState('');
  const [live, setLive] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="fork-form"
      data-testid="fork-form"
      onSubmit={(e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        onFork(prompt, live)
          .catch((err) => setError(`Could not fork: ${errorSentence(err)}`))
          .finally(() => setBusy(false));
      }}
    >
      <textarea
        className="md-text fork-prompt"
        data-testid="fork-prompt"
        aria-label="First prompt of the new session"
        placeholder="What the new session should do from here…"
        value={prompt}
        onChange={(e) => setPrompt(e.target.value)}
      />
      <label className="small">
        <input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} /> live session (asks before tools)
      </label>
      <button type="submit" className="btn btn-primary" data-testid="fork-submit" disabled={busy || !prompt.trim()}>
        {busy ? 'Forking…' : 'Start the fork'}
      </button>
      {error && (
        <div className="msg-error small" role="alert" data-testid="fork-error">
          {error}
        </div>
      )}
    </form>
  );
}

function RewindPanel({ sessionId, projectPath, turn, running }: { sessionId: string; projectPath: string; turn: TimelineTurn; running: boolean }) {
  const [preview, setPreview] = useState<RewindPreview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!turn.checkpoint) return;
    api
      .rewindPreview(sessionId, projectPath, turn.message_id)
      .then(setPreview)
      .catch((e) => setError(errorSentence(e)));
  }, [sessionId, projectPath, turn.message_id, turn.checkpoint]);

  if (!turn.checkpoint) {
    return (
      <p className="msg-error small" data-testid="rewind-none">
        No file checkpoint at this prompt: claude keeps one per prompt only when checkpoints were on for the run (runs started here have them), so these files cannot be restored from here.
      </p>
    );
  }
  const restore = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.rewind(sessionId, { project_path: projectPath, message_id: turn.message_id });
      setDone('Files restored to how they were at this prompt.');
    } catch (e) {
      setError(`Could not restore: ${errorSentence(e)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="rewind" data-testid="rewind-panel">
      {!preview && !error && <p className="muted small">Reading the checkpoint…</p>}
      {preview && preview.files.length === 0 && (
        <p className="muted small" data-testid="rewind-nothing">
          The files are already as they were at this prompt.
        </p>
      )}
      {preview && preview.files.length > 0 && (
        <>
          <p className="small">Restoring changes {preview.files.length} file(s):</p>
          <ul className="list" data-testid="rewind-files">
            {preview.files.map((f) => (
              <li key={f.path} data-testid="rewind-file" data-change={f.change}>
                <strong>{f.change === 'delete' ? 'delete' : f.change === 'create' ? 'recreate' : 'restore'}</strong> <code>{f.path}</code>
                {f.diff && <pre className="diff small">{f.diff}</pre>}
              </li>
            ))}
          </ul>
          <button type="button" className="btn btn-danger" data-testid="rewind-confirm" disabled={busy || running || !!done} onClick={() => void restore()}>
            {running ? 'Stop the run first' : busy ? 'Restoring…' : 'Restore these files'}
          </button>
        </>
      )}
      {done && (
        <div className="rules-note small" role="status" data-testid="rewind-done">
          {done}
        </div>
      )}
      {error && (
        <div className="msg-error small" role="alert" data-testid="rewind-error">
          {error}
        </div>
      )}
    </div>
  );
}
