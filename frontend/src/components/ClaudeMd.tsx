// The CLAUDE.md pane: the memory files of a project (every CLAUDE.md / CLAUDE.local.md found in it) and
// the user's own ~/.claude/CLAUDE.md; one opens in a rendered preview, and "Edit" gives a text area saved
// with the version read. A save over a file changed on disk since (409) keeps the text typed and says so;
// "Reload" reads the file again. A project without a CLAUDE.md offers to create it.

import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, errorSentence, type MdContent, type MdFile } from '../api';
import { renderMarkdown } from '../markdown';

type Target = { scope: 'user' } | { scope: 'project'; path: string };

const keyOf = (f: MdFile) => `${f.scope}:${f.path}`;
const targetOf = (f: MdFile): Target => (f.scope === 'user' ? { scope: 'user' } : { scope: 'project', path: f.path });

export function ClaudeMdPane({ projectPath, onClose }: { projectPath: string; onClose: () => void }) {
  const [files, setFiles] = useState<MdFile[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<MdFile | null>(null);

  const load = useCallback(async () => {
    setError(null);
    try {
      setFiles((await api.claudeMdFiles(projectPath)).files);
    } catch (e) {
      setError(`Could not list the CLAUDE.md files: ${errorSentence(e)}`);
    }
  }, [projectPath]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <section className="pane" data-testid="claude-md-pane" aria-label="CLAUDE.md files">
      <div className="pane-head">
        <h2>CLAUDE.md</h2>
        <button type="button" className="btn btn-small" data-testid="pane-close" onClick={onClose}>
          Close
        </button>
      </div>
      <div className="muted small pane-sub" title={projectPath}>
        {projectPath}
      </div>
      {error && (
        <div className="msg-error small" role="alert" data-testid="claude-md-error">
          {error}
        </div>
      )}
      {!files && !error && <p className="muted">Loading…</p>}
      {files && (
        <ul className="list" data-testid="claude-md-files">
          {files.map((f) => (
            <li key={keyOf(f)}>
              <button
                type="button"
                className={`list-item${open && keyOf(open) === keyOf(f) ? ' selected' : ''}`}
                data-testid="claude-md-file"
                data-scope={f.scope}
                data-path={f.path}
                data-exists={f.exists ? 'true' : 'false'}
                onClick={() => setOpen(f)}
              >
                <span className="list-title">
                  {f.scope === 'user' ? '~/.claude/CLAUDE.md (yours, every project)' : f.path}
                </span>
                <span className="list-sub">
                  {f.exists ? `${f.size} bytes` : f.scope === 'project' ? 'none yet — tap to create' : 'none yet'}
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {open && (
        <MdEditor
          key={keyOf(open)}
          projectPath={projectPath}
          file={open}
          onSaved={() => void load()}
        />
      )}
    </section>
  );
}

function MdEditor({ projectPath, file, onSaved }: { projectPath: string; file: MdFile; onSaved: () => void }) {
  const target = targetOf(file);
  const [doc, setDoc] = useState<MdContent | null>(null);
  const [draft, setDraft] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const read = useCallback(async () => {
    setError(null);
    try {
      const d = await api.claudeMd(projectPath, target);
      setDoc(d);
      return d;
    } catch (e) {
      setError(`Could not read it: ${errorSentence(e)}`);
      return null;
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [projectPath, file.scope, file.path]);

  useEffect(() => {
    void read().then((d) => {
      if (d && !d.exists && file.scope === 'project') setDraft(`# ${projectPath.split('/').pop() ?? 'Project'}\n\n`);
    });
  }, [read, file.scope, projectPath]);

  const save = async () => {
    if (!doc || draft === null) return;
    setBusy(true);
    setError(null);
    setNote(null);
    try {
      const saved = await api.saveClaudeMd(projectPath, target, draft, doc.version);
      setDoc(saved);
      setDraft(null);
      setNote(doc.exists ? 'Saved.' : 'Created.');
      onSaved();
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        setError(`${errorSentence(e)} Your text is still here: copy it, then Reload.`);
      } else {
        setError(`Could not save: ${errorSentence(e)}`);
      }
    } finally {
      setBusy(false);
    }
  };

  const reload = async () => {
    setNote(null);
    const d = await read();
    if (d) setDraft(null);
  };

  return (
    <div className="panel md-editor" data-testid="claude-md-editor" data-path={file.path} data-scope={file.scope}>
      <div className="pane-head">
        <h3 className="md-title">{file.scope === 'user' ? '~/.claude/CLAUDE.md' : file.path}</h3>
        <div className="pane-actions">
          {draft === null ? (
            <button type="button" className="btn btn-small" data-testid="claude-md-edit" disabled={!doc} onClick={() => setDraft(doc?.content ?? '')}>
              {doc && !doc.exists ? 'Create' : 'Edit'}
            </button>
          ) : (
            <>
              <button type="button" className="btn btn-small btn-primary" data-testid="claude-md-save" disabled={busy} onClick={() => void save()}>
                {doc && !doc.exists ? 'Create' : 'Save'}
              </button>
              <button type="button" className="btn btn-small btn-ghost" data-testid="claude-md-cancel" disabled={busy} onClick={() => setDraft(null)}>
                Cancel
              </button>
            </>
          )}
          <button type="button" className="btn btn-small btn-ghost" data-testid="claude-md-reload" onClick={() => void reload()}>
            Reload
          </button>
        </div>
      </div>
      {note && (
        <div className="rules-note small" role="status" data-testid="claude-md-note">
          {note}
        </div>
      )}
      {error && (
        <div className="msg-error small" role="alert" data-testid="claude-md-save-error">
          {error}
        </div>
      )}
      {!doc && !error && <p className="muted">Loading…</p>}
      {draft !== null ? (
        <textarea
          className="md-text"
          data-testid="claude-md-text"
          aria-label="CLAUDE.md text"
          value={draft}
          spellCheck={false}
          onChange={(e) => setDraft(e.target.value)}
        />
      ) : (
        doc &&
        (doc.exists ? (
          <div className="md-preview markdown" data-testid="claude-md-preview" dangerouslySetInnerHTML={{ __html: renderMarkdown(doc.content) }} />
        ) : (
          <p className="muted" data-testid="claude-md-absent">
            This file does not exist yet.
          </p>
        ))
      )}
    </div>
  );
}
