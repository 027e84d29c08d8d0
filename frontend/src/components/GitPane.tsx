// The Git pane of a session's project: branch (with ahead/behind) and the branch list with switch, the
// changed files grouped staged / changes / untracked / conflicted, a tap on a file shows its diff, stage,
// unstage, discard (after a confirmation) and the commit box. A folder that is not a repository offers
// `git init`. Every action reloads the status; a refusal from git is shown as its sentence.

import { useCallback, useEffect, useState } from 'react';
import { api, errorSentence, type FileChange, type FileDiff, type GitBranch, type GitStatus } from '../api';
import { DiffView } from './DiffView';

type Group = 'staged' | 'unstaged' | 'untracked' | 'conflicted';

interface Row {
  path: string;
  label: string;
  group: Group;
}

const KIND_LETTER: Record<FileChange['kind'], string> = {
  added: 'A',
  modified: 'M',
  deleted: 'D',
  renamed: 'R',
  copied: 'C',
  type_changed: 'T',
};

function rows(status: Extract<GitStatus, { repository: true }>): Record<Group, Row[]> {
  const changed = (group: Group) => (c: FileChange) => ({ path: c.path, label: KIND_LETTER[c.kind], group });
  return {
    staged: status.staged.map(changed('staged')),
    unstaged: status.unstaged.map(changed('unstaged')),
    untracked: status.untracked.map((path) => ({ path, label: 'U', group: 'untracked' as const })),
    conflicted: status.conflicted.map((path) => ({ path, label: '!', group: 'conflicted' as const })),
  };
}

const TITLES: Record<Group, string> = {
  staged: 'Staged',
  unstaged: 'Changes',
  untracked: 'Untracked',
  conflicted: 'Conflicts',
};

export function GitPane({ projectPath, onClose }: { projectPath: string; onClose: () => void }) {
  const [status, setStatus] = useState<GitStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [open, setOpen] = useState<{ key: string; diff: FileDiff | null } | null>(null);
  const [confirm, setConfirm] = useState<string | null>(null);
  const [message, setMessage] = useState('');
  const [branches, setBranches] = useState<GitBranch[] | null>(null);

  const load = useCallback(async () => {
    try {
      setStatus(await api.gitStatus(projectPath));
    } catch (e) {
      setError(`Could not read the status: ${errorSentence(e)}`);
    }
  }, [projectPath]);

  useEffect(() => {
    void load();
  }, [load]);

  /** Runs an action, then reloads the status (and the branches when they are shown). */
  const act = async (what: () => Promise<unknown>, done?: string) => {
    setBusy(true);
    setError(null);
    setNote(null);
    let succeeded = false;
    try {
      await what();
      succeeded = true;
    } catch (e) {
      setError(errorSentence(e));
    } finally {
      setBusy(false);
      setConfirm(null);
      // the note says an action is done only once the status it changed is on screen
      await load();
      if (branches) setBranches(await api.gitBranches(projectPath).catch(() => branches));
      if (succeeded && done) setNote(done);
    }
  };

  const toggleDiff = async (row: Row) => {
    const key = `${row.group}:${row.path}`;
    if (open?.key === key) {
      setOpen(null);
      return;
    }
    setOpen({ key, diff: null });
    try {
      const diff = await api.gitDiff(projectPath, row.path, row.group === 'staged');
      setOpen((o) => (o?.key === key ? { key, diff } : o));
    } catch (e) {
      setOpen(null);
      setError(`Could not read the diff of ${row.path}: ${errorSentence(e)}`);
    }
  };

  const toggleBranches = async () => {
    if (branches) {
      setBranches(null);
      return;
    }
    try {
      setBranches(await api.gitBranches(projectPath));
    } catch (e) {
      setError(`Could not list the branches: ${errorSentence(e)}`);
    }
  };

  const head = (
    <div className="git-head">
      <h2>Git</h2>
      <span className="git-project muted small">{projectPath}</span>
      <button className="btn btn-small btn-ghost" data-testid="git-refresh" disabled={busy} onClick={() => void act(async () => {})}>
        Refresh
      </button>
      <button className="btn btn-small btn-ghost" data-testid="git-close" onClick={onClose}>
        Close
      </button>
    </div>
  );

  if (status && !status.repository) {
    return (
      <section className="git-pane" data-testid="git-pane" aria-label="Git">
        {head}
        <p data-testid="git-not-repo">This folder is not a git repository.</p>
        <button
          className="btn btn-primary"
          data-testid="git-init"
          disabled={busy}
          onClick={() => void act(() => api.gitInit(projectPath), 'Initialised an empty repository.')}
        >
          git init
        </button>
        {error && <p className="error-text" role="alert">{error}</p>}
      </section>
    );
  }

  const groups = status && status.repository ? rows(status) : null;
  const stagedCount = groups?.staged.length ?? 0;
  const clean = groups && Object.values(groups).every((g) => g.length === 0);

  return (
    <section className="git-pane" data-testid="git-pane" aria-label="Git">
      {head}
      {status && status.repository && (
        <div className="git-branch-bar">
          <button className="btn btn-small" data-testid="git-branch" aria-expanded={branches !== null} onClick={() => void toggleBranches()}>
            ⎇ {status.branch ?? `detached ${status.head?.slice(0, 7) ?? ''}`}
          </button>
          {status.upstream && (
            <span className="muted small" data-testid="git-ahead-behind">
              ↑{status.ahead} ↓{status.behind} {status.upstream}
            </span>
          )}
        </div>
      )}
      {branches && (
        <ul className="git-branches" data-testid="git-branches">
          {branches.map((b) => (
            <li key={b.name} className="git-row">
              <span className="git-path">
                {b.current ? '● ' : ''}
                {b.name} <span className="muted small">{b.commit}</span>
              </span>
              {!b.current && (
                <button
                  className="btn btn-small"
                  data-testid={`git-switch-${b.name}`}
                  disabled={busy}
                  onClick={() => void act(() => api.gitSwitch(projectPath, b.name), `Switched to ${b.name}.`)}
                >
                  Switch
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {error && (
        <p className="error-text" role="alert" data-testid="git-error">
          {error}
        </p>
      )}
      {note && (
        <p className="git-note" data-testid="git-note">
          {note}
        </p>
      )}
      {!status && !error && <p className="muted">Reading the status…</p>}
      {clean && <p className="muted" data-testid="git-clean">Nothing to commit: the working tree is clean.</p>}
      {groups &&
        (Object.keys(TITLES) as Group[])
          .filter((g) => groups[g].length > 0)
          .map((g) => (
            <div key={g} className="git-group" data-testid={`git-group-${g}`}>
              <h3>
                {TITLES[g]} <span className="muted small">({groups[g].length})</span>
              </h3>
              <ul>
                {groups[g].map((row) => {
                  const key = `${row.group}:${row.path}`;
                  return (
                    <li key={key} className="git-file" data-testid="git-file" data-path={row.path} data-group={row.group}>
                      <div className="git-row">
                        <button className="git-path btn-link" data-testid="git-file-open" onClick={() => void toggleDiff(row)}>
                          <span className={`git-kind kind-${row.label}`}>{row.label}</span> {row.path}
                        </button>
                        <span className="git-actions">
                          {row.group === 'staged' ? (
                            <button
                              className="btn btn-small"
                              data-testid="git-unstage"
                              disabled={busy}
                              onClick={() => void act(() => api.gitUnstage(projectPath, [row.path]))}
                            >
                              Unstage
                            </button>
                          ) : (
                            <button
                              className="btn btn-small"
                              data-testid="git-stage"
                              disabled={busy}
                              onClick={() => void act(() => api.gitStage(projectPath, [row.path]))}
                            >
                              Stage
                            </button>
                          )}
                          {(row.group === 'unstaged' || row.group === 'untracked') && (
                            <button
                              className="btn btn-small btn-danger"
                              data-testid="git-discard"
                              disabled={busy}
                              onClick={() => setConfirm(key)}
                            >
                              Discard
                            </button>
                          )}
                        </span>
                      </div>
                      {confirm === key && (
                        <div className="git-confirm" role="alertdialog" data-testid="git-discard-confirm">
                          <span>
                            {row.group === 'untracked' ? `Delete ${row.path}?` : `Discard the changes to ${row.path}?`} This cannot be
                            undone.
                          </span>
                          <button
                            className="btn btn-small btn-danger"
                            data-testid="git-discard-yes"
                            onClick={() => void act(() => api.gitDiscard(projectPath, row.path), `Discarded ${row.path}.`)}
                          >
                            Discard
                          </button>
                          <button className="btn btn-small" data-testid="git-discard-no" onClick={() => setConfirm(null)}>
                            Keep
                          </button>
                        </div>
                      )}
                      {open?.key === key &&
                        (open.diff ? <DiffView diff={open.diff.diff} truncated={open.diff.truncated} /> : <p className="muted small">Loading the diff…</p>)}
                    </li>
                  );
                })}
              </ul>
            </div>
          ))}
      {status && status.repository && (
        <form
          className="git-commit"
          onSubmit={(e) => {
            e.preventDefault();
            void act(async () => {
              const made = await api.gitCommit(projectPath, message);
              setMessage('');
              return made;
            }, 'Committed.');
          }}
        >
          <textarea
            data-testid="git-commit-message"
            placeholder={stagedCount ? `Message for ${stagedCount} staged file${stagedCount === 1 ? '' : 's'}` : 'Stage files to commit'}
            value={message}
            rows={2}
            onChange={(e) => setMessage(e.target.value)}
          />
          <button className="btn btn-primary" data-testid="git-commit" type="submit" disabled={busy || !stagedCount || !message.trim()}>
            Commit
          </button>
        </form>
      )}
    </section>
  );
}
