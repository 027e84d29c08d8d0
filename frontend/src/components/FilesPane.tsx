// The Files pane of a project: a tree that loads folder by folder (ignored entries hidden unless asked), a
// fuzzy name search, a viewer with syntax highlighting that becomes an editor (CodeMirror, loaded lazily),
// save with a version (a file changed on disk since it was opened is refused and said so), new file or
// folder, rename, delete (asks first), upload into the chosen folder, download of a file or a folder (zip).
// On a phone the tree and the open file take the whole pane in turn; on a laptop they sit side by side.

import { lazy, Suspense, useCallback, useEffect, useRef, useState } from 'react';
import { api, ApiError, errorSentence, filesUrl, type FileContent, type FileEntry, type FileSearch, type FolderListing } from '../api';

const CodeEditor = lazy(() => import('./CodeEditor'));

type Folder = FolderListing | { error: string } | 'loading';
type Form = { mode: 'new-file' | 'new-folder' | 'rename'; value: string } | null;
interface Selection {
  path: string;
  kind: 'file' | 'folder';
}

const parentOf = (path: string) => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');
const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1);
const joinPath = (folder: string, name: string) => (folder ? `${folder}/${name}` : name);

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function FilesPane({ projectPath, onClose }: { projectPath: string; onClose: () => void }) {
  const [showIgnored, setShowIgnored] = useState(false);
  const [folders, setFolders] = useState<Record<string, Folder>>({});
  const [expanded, setExpanded] = useState<Set<string>>(() => new Set(['']));
  const [selected, setSelected] = useState<Selection>({ path: '', kind: 'folder' });
  const [query, setQuery] = useState('');
  const [hits, setHits] = useState<FileSearch | null>(null);
  const [open, setOpen] = useState<FileContent | null>(null);
  const [openKey, setOpenKey] = useState(0);
  const [editing, setEditing] = useState(false);
  const [dirty, setDirty] = useState(false);
  const [conflict, setConflict] = useState<string | null>(null);
  const [form, setForm] = useState<Form>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const current = useRef<() => string>(() => '');

  const load = useCallback(
    async (path: string) => {
      setFolders((f) => ({ ...f, [path]: 'loading' }));
      try {
        const listing = await api.listFolder(projectPath, path, showIgnored);
        setFolders((f) => ({ ...f, [path]: listing }));
      } catch (e) {
        setFolders((f) => ({ ...f, [path]: { error: errorSentence(e) } }));
      }
    },
    [projectPath, showIgnored],
  );

  // the expanded folders, again whenever "show ignored" changes
  useEffect(() => {
    for (const path of expanded) void load(path);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [load]);

  useEffect(() => {
    const q = query.trim();
    if (!q) {
      setHits(null);
      return;
    }
    let stale = false;
    const timer = window.setTimeout(() => {
      api.searchFiles(projectPath, q, showIgnored).then(
        (found) => !stale && setHits(found),
        (e) => !stale && setError(`Search failed: ${errorSentence(e)}`),
      );
    }, 200);
    return () => {
      stale = true;
      window.clearTimeout(timer);
    };
  }, [query, projectPath, showIgnored]);

  const toggle = (path: string) => {
    setSelected({ path, kind: 'folder' });
    setExpanded((s) => {
      const next = new Set(s);
      if (next.has(path)) next.delete(path);
      else {
        next.add(path);
        void load(path);
      }
      return next;
    });
  };

  const openFile = async (path: string) => {
    setSelected({ path, kind: 'file' });
    setError(null);
    setNote(null);
    setConflict(null);
    setEditing(false);
    setDirty(false);
    try {
      const content = await api.readFile(projectPath, path);
      setOpen(content);
      setOpenKey((k) => k + 1);
    } catch (e) {
      setError(`Could not open ${path}: ${errorSentence(e)}`);
    }
  };

  const save = async () => {
    if (!open) return;
    setConflict(null);
    setNote(null);
    try {
      const saved = await api.saveFile(projectPath, open.path, open.version, current.current());
      setOpen({ ...open, version: saved.version, size: saved.size, text: current.current() });
      setDirty(false);
      setNote(`Saved ${open.path}`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) setConflict(errorSentence(e));
      else setError(`Could not save: ${errorSentence(e)}`);
    }
  };

  const folderOfSelection = selected.kind === 'folder' ? selected.path : parentOf(selected.path);

  const after = async (message: string, ...reload: string[]) => {
    setNote(message);
    setError(null);
    for (const path of new Set(reload)) {
      setExpanded((s) => new Set(s).add(path));
      await load(path);
    }
  };

  const submitForm = async () => {
    if (!form) return;
    const value = form.value.trim();
    if (!value) return;
    try {
      if (form.mode === 'rename') {
        const to = joinPath(parentOf(selected.path), value);
        await api.renameEntry(projectPath, selected.path, to);
        if (open?.path === selected.path) setOpen(null);
        setSelected({ path: to, kind: selected.kind });
        await after(`Renamed to ${to}`, parentOf(to));
      } else {
        const path = joinPath(folderOfSelection, value);
        await api.createEntry(projectPath, path, form.mode === 'new-file' ? 'file' : 'folder');
        await after(`Created ${path}`, folderOfSelection);
        if (form.mode === 'new-file') void openFile(path);
      }
      setForm(null);
    } catch (e) {
      setError(errorSentence(e));
    }
  };

  const remove = async () => {
    setConfirmDelete(false);
    try {
      await api.deleteEntry(projectPath, selected.path);
      if (open && (open.path === selected.path || open.path.startsWith(`${selected.path}/`))) setOpen(null);
      const parent = parentOf(selected.path);
      const gone = selected.path;
      setSelected({ path: parent, kind: 'folder' });
      await after(`Deleted ${gone}`, parent);
    } catch (e) {
      setError(errorSentence(e));
    }
  };

  const upload = async (files: FileList | null) => {
    if (!files || files.length === 0) return;
    const folder = folderOfSelection;
    setNote(`Uploading ${files.length} file${files.length === 1 ? '' : 's'}…`);
    try {
      const done = await api.uploadFiles(projectPath, folder, Array.from(files));
      await after(`Uploaded ${done.written.join(', ')}`, folder);
    } catch (e) {
      setNote(null);
      setError(`Upload refused: ${errorSentence(e)}`);
    }
  };

  const row = (e: FileEntry, depth: number) => {
    const isFolder = e.kind === 'folder';
    const isOpen = expanded.has(e.path);
    return (
      <li key={e.path}>
        <button
          type="button"
          className={`files-row${selected.path === e.path ? ' selected' : ''}${e.ignored ? ' ignored' : ''}`}
          style={{ paddingLeft: 8 + depth * 14 }}
          data-testid="files-row"
          data-path={e.path}
          data-kind={e.kind}
          aria-expanded={isFolder ? isOpen : undefined}
          title={e.kind === 'broken_link' ? 'a link that points outside the project (or nowhere)' : e.path}
          onClick={() => (isFolder ? toggle(e.path) : e.kind === 'file' ? void openFile(e.path) : setSelected({ path: e.path, kind: 'file' }))}
        >
          <span className="files-icon" aria-hidden="true">
            {isFolder ? (isOpen ? '▾' : '▸') : e.kind === 'broken_link' ? '↗' : '·'}
          </span>
          <span className="files-name">{e.name}</span>
          {e.symlink && <span className="muted small"> →</span>}
          {e.size !== null && <span className="files-size muted small">{formatBytes(e.size)}</span>}
        </button>
        {isFolder && isOpen && tree(e.path, depth + 1)}
      </li>
    );
  };

  const tree = (path: string, depth: number) => {
    const f = folders[path];
    if (!f || f === 'loading') return <div className="muted small files-loading" style={{ paddingLeft: 8 + depth * 14 }}>Loading…</div>;
    if ('error' in f) return <div className="msg-error small" role="alert">{f.error}</div>;
    return (
      <ul className="files-list" data-folder={path}>
        {f.entries.length === 0 && <li className="muted small" style={{ paddingLeft: 8 + depth * 14 }}>Empty folder</li>}
        {f.entries.map((e) => row(e, depth))}
        {f.truncated > 0 && <li className="muted small">… and {f.truncated} more (use the search)</li>}
        {f.hidden_ignored > 0 && depth === 0 && (
          <li className="muted small files-hidden-note" style={{ paddingLeft: 8 }}>
            {f.hidden_ignored} ignored hidden
          </li>
        )}
      </ul>
    );
  };

  const selectedName = selected.path ? baseName(selected.path) : 'the project folder';
  return (
    <section className={`files-pane${open ? ' has-file' : ''}`} data-testid="files-pane" aria-label="Files">
      <div className="files-head">
        <h2>Files</h2>
        <span className="muted small files-project" title={projectPath}>
          {projectPath}
        </span>
        <button type="button" className="btn btn-small" data-testid="files-close" onClick={onClose}>
          Close
        </button>
      </div>
      {note && (
        <div className="files-note small" role="status" data-testid="files-note">
          {note}
        </div>
      )}
      {error && (
        <div className="msg-error small" role="alert" data-testid="files-error">
          {error}
        </div>
      )}
      <div className="files-body">
        <div className="files-browser">
          <div className="files-tools">
            <input
              type="search"
              className="files-search"
              placeholder="Find a file by name…"
              aria-label="Find a file by name"
              data-testid="files-search"
              value={query}
              onChange={(e) => setQuery(e.target.value)}
            />
            <label className="files-toggle small">
              <input type="checkbox" data-testid="files-show-ignored" checked={showIgnored} onChange={(e) => setShowIgnored(e.target.checked)} />
              Show ignored
            </label>
          </div>
          <div className="files-actions" role="group" aria-label="Actions">
            <span className="muted small files-target" data-testid="files-target">
              {selected.path || '/'}
            </span>
            <button type="button" className="btn btn-small" data-testid="files-new-file" onClick={() => setForm({ mode: 'new-file', value: '' })}>
              New file
            </button>
            <button type="button" className="btn btn-small" data-testid="files-new-folder" onClick={() => setForm({ mode: 'new-folder', value: '' })}>
              New folder
            </button>
            <label className="btn btn-small files-upload" title={`Upload into ${folderOfSelection || 'the project folder'}`}>
              Upload
              <input type="file" multiple data-testid="files-upload-input" onChange={(e) => void upload(e.target.files).then(() => (e.target.value = ''))} />
            </label>
            {selected.kind === 'folder' ? (
              <a className="btn btn-small" data-testid="files-download-folder" href={filesUrl('archive', projectPath, { path: selected.path, ignored: String(showIgnored) })} download>
                Download .zip
              </a>
            ) : (
              <a className="btn btn-small" data-testid="files-download-selected" href={filesUrl('download', projectPath, { path: selected.path })} download>
                Download
              </a>
            )}
            {selected.path && (
              <>
                <button type="button" className="btn btn-small" data-testid="files-rename" onClick={() => setForm({ mode: 'rename', value: baseName(selected.path) })}>
                  Rename
                </button>
                <button type="button" className="btn btn-small btn-danger-outline" data-testid="files-delete" onClick={() => setConfirmDelete(true)}>
                  Delete…
                </button>
              </>
            )}
          </div>
          {confirmDelete && (
            <div className="files-confirm" role="group" aria-label="Confirm delete">
              <span className="small">
                Delete {selectedName}
                {selected.kind === 'folder' ? ' and everything in it' : ''}?
              </span>
              <button type="button" className="btn btn-small btn-danger" data-testid="files-confirm-delete" onClick={() => void remove()}>
                Delete
              </button>
              <button type="button" className="btn btn-small" data-testid="files-keep" onClick={() => setConfirmDelete(false)}>
                Keep
              </button>
            </div>
          )}
          {form && (
            <form
              className="files-form"
              onSubmit={(e) => {
                e.preventDefault();
                void submitForm();
              }}
            >
              <input
                autoFocus
                data-testid="files-form-input"
                aria-label={form.mode === 'rename' ? 'New name' : 'Name'}
                placeholder={form.mode === 'rename' ? 'New name' : `Name in ${folderOfSelection || '/'}`}
                value={form.value}
                onChange={(e) => setForm({ ...form, value: e.target.value })}
              />
              <button type="submit" className="btn btn-small btn-primary" data-testid="files-form-ok">
                {form.mode === 'rename' ? 'Rename' : 'Create'}
              </button>
              <button type="button" className="btn btn-small" onClick={() => setForm(null)}>
                Cancel
              </button>
            </form>
          )}
          {hits ? (
            <ul className="files-list files-hits" data-testid="files-hits">
              {hits.hits.length === 0 && <li className="muted small">No file name matches.</li>}
              {hits.hits.map((h) => (
                <li key={h.path}>
                  <button type="button" className="files-row" data-testid="files-hit" data-path={h.path} onClick={() => void openFile(h.path)}>
                    <span className="files-name">{baseName(h.path)}</span>
                    <span className="muted small files-hit-dir">{parentOf(h.path)}</span>
                  </button>
                </li>
              ))}
            </ul>
          ) : (
            <div className="files-tree" data-testid="files-tree">
              <button
                type="button"
                className={`files-row${selected.path === '' ? ' selected' : ''}`}
                data-testid="files-root"
                onClick={() => setSelected({ path: '', kind: 'folder' })}
              >
                <span className="files-name">/</span>
              </button>
              {tree('', 0)}
            </div>
          )}
        </div>
        {open && (
          <div className="files-viewer" data-testid="files-viewer" data-path={open.path}>
            <div className="files-viewer-head">
              <button type="button" className="btn btn-small files-back" data-testid="files-back" onClick={() => setOpen(null)}>
                ← Files
              </button>
              <span className="files-open-name" title={open.path}>
                {open.path}
                {dirty ? ' •' : ''}
              </span>
              {!open.binary && !editing && (
                <button type="button" className="btn btn-small" data-testid="files-edit" onClick={() => setEditing(true)}>
                  Edit
                </button>
              )}
              {editing && (
                <button type="button" className="btn btn-small btn-primary" data-testid="files-save" disabled={!dirty} onClick={() => void save()}>
                  Save
                </button>
              )}
              <a className="btn btn-small" data-testid="files-download" href={filesUrl('download', projectPath, { path: open.path })} download>
                Download
              </a>
            </div>
            {conflict && (
              <div className="msg-error small files-conflict" role="alert" data-testid="files-conflict">
                {conflict}{' '}
                <button type="button" className="btn btn-small" data-testid="files-reload" onClick={() => void openFile(open.path)}>
                  Reload from disk
                </button>
              </div>
            )}
            {open.binary ? (
              <p className="files-binary" data-testid="files-binary">
                Binary file, {formatBytes(open.size)} —{' '}
                <a href={filesUrl('download', projectPath, { path: open.path })} download>
                  download
                </a>
              </p>
            ) : (
              <Suspense fallback={<p className="muted">Loading the editor…</p>}>
                <CodeEditor
                  key={openKey}
                  name={baseName(open.path)}
                  text={open.text ?? ''}
                  editable={editing}
                  onChange={(get) => {
                    current.current = get;
                    setDirty(true);
                  }}
                />
              </Suspense>
            )}
          </div>
        )}
      </div>
    </section>
  );
}
