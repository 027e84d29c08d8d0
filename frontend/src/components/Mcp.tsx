// The MCP servers pane: the servers claude has configured in every scope (yours in ~/.claude.json, this
// project's local ones there too, and the project's shared .mcp.json), each testable (does it start and
// list its tools) and removable; a form adds one (stdio: command, arguments, environment; HTTP/SSE: URL,
// headers; or pasted JSON), and a Claude Desktop config file can be imported. Every change is made by
// claude itself (`claude mcp add-json` / `remove`), so the terminal sees the same servers.

import { useCallback, useEffect, useState } from 'react';
import { api, errorSentence, type McpScope, type McpServer, type McpTest } from '../api';

const SCOPES: { value: McpScope; label: string; hint: string }[] = [
  { value: 'local', label: 'Local', hint: 'you, in this project (~/.claude.json)' },
  { value: 'project', label: 'Project', hint: 'everyone with the project (.mcp.json)' },
  { value: 'user', label: 'User', hint: 'you, in every project (~/.claude.json)' },
];

/** `KEY=value` (or `Key: value` for headers) lines to an object; blank lines are skipped. */
export function pairs(text: string, separator: '=' | ':'): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf(separator);
    if (at <= 0) return `"${line}" is not ${separator === '=' ? 'KEY=value' : 'Name: value'}`;
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

export function McpPane({ projectPath, onClose }: { projectPath: string; onClose: () => void }) {
  const [servers, setServers] = useState<McpServer[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [tests, setTests] = useState<Record<string, McpTest | 'testing'>>({});
  const [confirm, setConfirm] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);

  const load = useCallback(async () => {
    setError(null);
    try {
      setServers(await api.mcpServers(projectPath || null));
    } catch (e) {
      setError(`Could not list the MCP servers: ${errorSentence(e)}`);
    }
  }, [projectPath]);

  useEffect(() => {
    void load();
  }, [load]);

  const key = (s: McpServer) => `${s.scope}:${s.name}`;

  const test = async (s: McpServer) => {
    setTests((t) => ({ ...t, [key(s)]: 'testing' }));
    try {
      const result = await api.testMcp(s.name, s.scope, projectPath || null);
      setTests((t) => ({ ...t, [key(s)]: result }));
    } catch (e) {
      setTests((t) => ({ ...t, [key(s)]: { ok: false, server: null, tools: [], message: errorSentence(e) } }));
    }
  };

  const remove = async (s: McpServer) => {
    setConfirm(null);
    setNote(null);
    try {
      await api.removeMcp(s.name, s.scope, projectPath || null);
      setNote(`Removed ${s.name}`);
      await load();
    } catch (e) {
      setError(`Could not remove ${s.name}: ${errorSentence(e)}`);
    }
  };

  return (
    <section className="pane" data-testid="mcp-pane" aria-label="MCP servers">
      <div className="pane-head">
        <h2>MCP servers</h2>
        <div className="pane-actions">
          <button type="button" className="btn btn-small btn-primary" data-testid="mcp-add-open" aria-pressed={adding} onClick={() => setAdding((a) => !a)}>
            Add
          </button>
          <button type="button" className="btn btn-small" data-testid="pane-close" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
      <div className="muted small pane-sub">{projectPath ? projectPath : 'No project chosen: your own (user) servers only.'}</div>
      {note && (
        <div className="rules-note small" role="status" data-testid="mcp-note">
          {note}
        </div>
      )}
      {error && (
        <div className="msg-error small" role="alert" data-testid="mcp-error">
          {error}
        </div>
      )}
      {adding && (
        <McpAddForm
          projectPath={projectPath}
          onDone={(message) => {
            setAdding(false);
            setNote(message);
            void load();
          }}
        />
      )}
      {!servers && !error && <p className="muted">Loading…</p>}
      {servers?.length === 0 && (
        <p className="muted" data-testid="mcp-empty">
          No MCP servers configured{projectPath ? ' for this project or you' : ''}.
        </p>
      )}
      {servers && servers.length > 0 && (
        <ul className="list" data-testid="mcp-list">
          {servers.map((s) => {
            const t = tests[key(s)];
            return (
              <li key={key(s)} className="panel mcp-server" data-testid="mcp-server" data-name={s.name} data-scope={s.scope}>
                <div className="pane-head">
                  <span className="list-title">
                    {s.name} <span className="muted small">· {s.scope} · {s.transport}</span>
                  </span>
                  <div className="pane-actions">
                    <button type="button" className="btn btn-small" data-testid="mcp-test" disabled={t === 'testing'} onClick={() => void test(s)}>
                      {t === 'testing' ? 'Testing…' : 'Test'}
                    </button>
                    {confirm === key(s) ? (
                      <button type="button" className="btn btn-small btn-danger" data-testid="mcp-remove-confirm" onClick={() => void remove(s)}>
                        Remove {s.name}?
                      </button>
                    ) : (
                      <button type="button" className="btn btn-small btn-ghost" data-testid="mcp-remove" onClick={() => setConfirm(key(s))}>
                        Remove
                      </button>
                    )}
                  </div>
                </div>
                <code className="mcp-detail small">{s.command ? [s.command, ...s.args].join(' ') : s.url}</code>
                {t && t !== 'testing' && (
                  <div className={t.ok ? 'mcp-ok small' : 'msg-error small'} data-testid="mcp-test-result" data-ok={t.ok ? 'true' : 'false'}>
                    {t.ok ? `✓ ${t.server ?? s.name}: ${t.message}` : `✘ ${t.message}`}
                    {t.tools.length > 0 && (
                      <ul className="mcp-tools" data-testid="mcp-tools">
                        {t.tools.map((tool) => (
                          <li key={tool.name}>
                            <code>{tool.name}</code>
                            {tool.description ? ` — ${tool.description}` : ''}
                          </li>
                        ))}
                      </ul>
                    )}
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

type Mode = 'stdio' | 'http' | 'sse' | 'json' | 'desktop';

function McpAddForm({ projectPath, onDone }: { projectPath: string; onDone: (message: string) => void }) {
  const [mode, setMode] = useState<Mode>('stdio');
  const [scope, setScope] = useState<McpScope>(projectPath ? 'local' : 'user');
  const [name, setName] = useState('');
  const [command, setCommand] = useState('');
  const [args, setArgs] = useState('');
  const [env, setEnv] = useState('');
  const [url, setUrl] = useState('');
  const [headers, setHeaders] = useState('');
  const [json, setJson] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const config = (): Record<string, unknown> | string => {
    if (mode === 'json') {
      try {
        const v: unknown = JSON.parse(json);
        return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : 'The JSON must be an object.';
      } catch (e) {
        return `That is not JSON: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
    if (mode === 'stdio') {
      const vars = pairs(env, '=');
      if (typeof vars === 'string') return vars;
      return { type: 'stdio', command: command.trim(), args: args.split('\n').map((a) => a.trim()).filter(Boolean), env: vars };
    }
    const hs = pairs(headers, ':');
    if (typeof hs === 'string') return hs;
    return { type: mode, url: url.trim(), headers: hs };
  };

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    const c = config();
    if (typeof c === 'string') {
      setError(c);
      return;
    }
    setBusy(true);
    try {
      await api.addMcp(name.trim(), scope, projectPath || null, c);
      onDone(`Added ${name.trim()} (${scope})`);
    } catch (err) {
      setError(errorSentence(err));
    } finally {
      setBusy(false);
    }
  };

  const importFile = async (file: File | undefined) => {
    if (!file) return;
    setError(null);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await file.text());
    } catch {
      setError(`${file.name} is not JSON: choose claude_desktop_config.json.`);
      return;
    }
    setBusy(true);
    try {
      const r = await api.importMcp(scope, projectPath || null, parsed);
      const failed = r.failed.map((f) => `${f.name}: ${f.error}`).join('; ');
      if (r.imported.length === 0 && failed) setError(`Nothing imported. ${failed}`);
      else onDone(`Imported ${r.imported.join(', ') || 'nothing'}${failed ? `. Not imported: ${failed}` : ''}`);
    } catch (err) {
      setError(errorSentence(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="panel mcp-add" data-testid="mcp-add-form" onSubmit={(e) => void submit(e)}>
      <div className="mcp-modes" role="tablist" aria-label="How to add">
        {(['stdio', 'http', 'sse', 'json', 'desktop'] as Mode[]).map((m) => (
          <button
            key={m}
            type="button"
            role="tab"
            aria-selected={mode === m}
            className={`btn btn-small${mode === m ? ' btn-primary' : ''}`}
            data-testid={`mcp-mode-${m}`}
            onClick={() => setMode(m)}
          >
            {{ stdio: 'Command', http: 'HTTP', sse: 'SSE', json: 'JSON', desktop: 'Claude Desktop' }[m]}
          </button>
        ))}
      </div>
      <label className="field">
        <span className="small">Scope</span>
        <select data-testid="mcp-scope" value={scope} onChange={(e) => setScope(e.target.value as McpScope)}>
          {SCOPES.map((s) => (
            <option key={s.value} value={s.value} disabled={s.value !== 'user' && !projectPath}>
              {s.label} — {s.hint}
            </option>
          ))}
        </select>
      </label>
      {mode === 'desktop' ? (
        <label className="field">
          <span className="small">claude_desktop_config.json</span>
          <input type="file" accept=".json,application/json" data-testid="mcp-desktop-file" disabled={busy} onChange={(e) => void importFile(e.target.files?.[0])} />
        </label>
      ) : (
        <>
          <label className="field">
            <span className="small">Name</span>
            <input data-testid="mcp-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="my-server" autoCapitalize="off" autoCorrect="off" />
          </label>
          {mode === 'stdio' && (
            <>
              <label className="field">
                <span className="small">Command</span>
                <input data-testid="mcp-command" value={command} onChange={(e) => setCommand(e.target.value)} placeholder="npx" autoCapitalize="off" />
              </label>
              <label className="field">
                <span className="small">Arguments (one a line)</span>
                <textarea data-testid="mcp-args" rows={3} value={args} onChange={(e) => setArgs(e.target.value)} />
              </label>
              <label className="field">
                <span className="small">Environment (KEY=value, one a line)</span>
                <textarea data-testid="mcp-env" rows={2} value={env} onChange={(e) => setEnv(e.target.value)} />
              </label>
            </>
          )}
          {(mode === 'http' || mode === 'sse') && (
            <>
              <label className="field">
                <span className="small">URL</span>
                <input data-testid="mcp-url" type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/mcp" />
              </label>
              <label className="field">
                <span className="small">Headers (Name: value, one a line)</span>
                <textarea data-testid="mcp-headers" rows={2} value={headers} onChange={(e) => setHeaders(e.target.value)} />
              </label>
            </>
          )}
          {mode === 'json' && (
            <label className="field">
              <span className="small">Server JSON</span>
              <textarea
                data-testid="mcp-json"
                rows={5}
                value={json}
                onChange={(e) => setJson(e.target.value)}
                placeholder={'{"type": "stdio", "command": "npx", "args": ["-y", "server"]}'}
              />
            </label>
          )}
          <button type="submit" className="btn btn-primary" data-testid="mcp-add-submit" disabled={busy || !name.trim()}>
            {busy ? 'Adding…' : 'Add server'}
          </button>
        </>
      )}
      {error && (
        <div className="msg-error small" role="alert" data-testid="mcp-add-error">
          {error}
        </div>
      )}
    </form>
  );
}
