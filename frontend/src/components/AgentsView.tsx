// The Agents pane (Opcode's "CC Agents"): saved agents (a system prompt with a model, a permission mode and
// tool lists), each runnable on a project; create and edit them, delete with a confirmation, import an
// agent file (Opcode's `.opcode.json`) and export one (a download), and the history of every agent run with
// its status, duration, tokens and cost. Running an agent opens its session in a tab like any other; a run
// of the history opens the same way (attached live while it runs).

import { useCallback, useEffect, useRef, useState } from 'react';
import { api, errorSentence, type Agent, type AgentFields, type AgentRun } from '../api';
import { useApp } from '../context';
import type { PermissionMode, Project } from '../events';
import { formatAgo } from '../runs';
import { ModelPicker } from './ModelPicker';
import { PERMISSION_MODES } from './NewSession';
import { basename } from './ProjectList';

/** Opcode's agent icons, by name. */
export const AGENT_ICONS: { name: string; glyph: string }[] = [
  { name: 'bot', glyph: '🤖' },
  { name: 'shield', glyph: '🛡️' },
  { name: 'code', glyph: '💻' },
  { name: 'terminal', glyph: '🖥️' },
  { name: 'database', glyph: '🗄️' },
  { name: 'globe', glyph: '🌐' },
  { name: 'file-text', glyph: '📄' },
  { name: 'git-branch', glyph: '🌿' },
];

export const glyphOf = (icon: string) => AGENT_ICONS.find((i) => i.name === icon)?.glyph ?? '🤖';

/** How long a run took: claude's own figure when it reported one, else the wall clock. */
export function runDuration(r: AgentRun, now = Math.floor(Date.now() / 1000)): string {
  const seconds = r.duration_ms !== null ? r.duration_ms / 1000 : (r.ended_at ?? now) - r.started_at;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m} min ${Math.round(seconds % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export const formatTokens = (n: number | null) =>
  n === null ? '—' : n >= 1_000_000 ? `${(n / 1_000_000).toFixed(1)}M` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(n);

export const formatCost = (usd: number | null) => (usd === null ? '—' : usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`);

type Mode = { kind: 'list' } | { kind: 'edit'; agent: Agent | null } | { kind: 'run'; agent: Agent };

interface Props {
  projects: Project[] | null;
  projectIdFor: (path: string) => string | null;
}

export function AgentsView({ projects, projectIdFor }: Props) {
  const { controller } = useApp();
  const [agents, setAgents] = useState<Agent[] | null>(null);
  const [runs, setRuns] = useState<AgentRun[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  /** Why the list could not be loaded; kept apart from `error`, which says why an action failed. */
  const [loadError, setLoadError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [mode, setMode] = useState<Mode>({ kind: 'list' });
  const [confirming, setConfirming] = useState<number | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  const load = useCallback(async () => {
    try {
      const [a, r] = await Promise.all([api.agents(), api.agentRuns()]);
      setAgents(a);
      setRuns(r);
      setLoadError(null);
    } catch (e) {
      setLoadError(`Could not load agents: ${errorSentence(e)}`);
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  // while a run is in progress, its figures come in when it ends: look again now and then
  const anyRunning = runs?.some((r) => r.status === 'running') ?? false;
  useEffect(() => {
    if (!anyRunning || mode.kind !== 'list') return;
    const timer = window.setInterval(() => void load(), 2000);
    return () => window.clearInterval(timer);
  }, [anyRunning, mode.kind, load]);

  const remove = async (agent: Agent) => {
    setConfirming(null);
    try {
      await api.deleteAgent(agent.id);
      setNote(`Deleted ${agent.name}`);
    } catch (e) {
      setError(`Could not delete ${agent.name}: ${errorSentence(e)}`);
    }
    await load();
  };

  const importFile = async (file: File) => {
    setNote(null);
    setError(null);
    try {
      const agent = await api.importAgent(await file.text());
      setNote(`Imported ${agent.name}`);
    } catch (e) {
      setError(`Could not import ${file.name}: ${errorSentence(e)}`);
    }
    if (fileInput.current) fileInput.current.value = '';
    await load();
  };

  const open = (r: AgentRun) => controller.attach(r.session_id, r.project_path, projectIdFor(r.project_path));

  if (mode.kind === 'edit') {
    return (
      <AgentForm
        agent={mode.agent}
        onCancel={() => setMode({ kind: 'list' })}
        onSaved={(a) => {
          setNote(`Saved ${a.name}`);
          setMode({ kind: 'list' });
          void load();
        }}
      />
    );
  }
  if (mode.kind === 'run') {
    return (
      <RunAgentForm
        agent={mode.agent}
        projects={projects}
        onCancel={() => setMode({ kind: 'list' })}
        onStarted={(r) => {
          setMode({ kind: 'list' });
          void load();
          open(r);
        }}
      />
    );
  }

  return (
    <section className="runs agents" data-testid="agents-view" aria-label="Agents">
      <div className="runs-head">
        <div className="runs-title">
          <h1>Agents</h1>
          <span className="muted small">{agents === null ? 'Loading…' : `${agents.length} agent${agents.length === 1 ? '' : 's'}`}</span>
        </div>
        <label className="btn btn-small file-button" data-testid="agent-import-button" title="Import an agent file (.opcode.json)">
          Import
          <input
            ref={fileInput}
            type="file"
            accept=".json,application/json"
            data-testid="agent-import-input"
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) void importFile(f);
            }}
          />
        </label>
        <button className="btn btn-small btn-primary" data-testid="agent-new" onClick={() => setMode({ kind: 'edit', agent: null })}>
          New
        </button>
      </div>
      <div className="runs-body">
        {(error || loadError) && (
          <div className="msg-error" role="alert" data-testid="agents-error">
            {error ?? loadError}
          </div>
        )}
        {note && (
          <div className="rules-note" role="status" data-testid="agents-note">
            {note}
          </div>
        )}
        {agents !== null && agents.length === 0 && (
          <p className="muted">No agents yet. Create one, or import an agent file exported from Opcode.</p>
        )}
        {agents && agents.length > 0 && (
          <ul className="list run-list" aria-label="Agents">
            {agents.map((a) => (
              <li key={a.id} className="run-card" data-testid="agent-card" data-agent-id={a.id} data-agent-name={a.name}>
                <div className="run-head">
                  <span className="agent-glyph" aria-hidden="true">
                    {glyphOf(a.icon)}
                  </span>
                  <span className="run-name" data-testid="agent-name">
                    {a.name}
                  </span>
                  <span className="badge">{a.model}</span>
                  {a.permission_mode && <span className="badge">{a.permission_mode}</span>}
                </div>
                <div className="list-sub agent-prompt">{a.system_prompt}</div>
                {confirming === a.id ? (
                  <div className="run-actions" role="alertdialog" aria-label={`Delete ${a.name}?`}>
                    <span className="confirm-text">Delete {a.name}? Its runs stay in the history.</span>
                    <button className="btn btn-danger" data-testid="agent-confirm-delete" onClick={() => void remove(a)}>
                      Delete
                    </button>
                    <button className="btn" data-testid="agent-keep" onClick={() => setConfirming(null)}>
                      Keep
                    </button>
                  </div>
                ) : (
                  <div className="run-actions">
                    <button className="btn btn-primary" data-testid="agent-run" onClick={() => setMode({ kind: 'run', agent: a })}>
                      Run
                    </button>
                    <button className="btn" data-testid="agent-edit" onClick={() => setMode({ kind: 'edit', agent: a })}>
                      Edit
                    </button>
                    <a className="btn link-button" data-testid="agent-export" href={api.exportAgentUrl(a.id)} download>
                      Export
                    </a>
                    <button className="btn btn-danger" data-testid="agent-delete" onClick={() => setConfirming(a.id)}>
                      Delete
                    </button>
                  </div>
                )}
              </li>
            ))}
          </ul>
        )}
        <RunHistory runs={runs} onOpen={open} />
      </div>
    </section>
  );
}

function RunHistory({ runs, onOpen }: { runs: AgentRun[] | null; onOpen: (r: AgentRun) => void }) {
  if (!runs || runs.length === 0) return null;
  const now = Math.floor(Date.now() / 1000);
  return (
    <section className="run-group" aria-label="Agent runs" data-testid="agent-runs">
      <h2>Run history</h2>
      <ul className="list run-list">
        {runs.map((r) => (
          <li key={r.id} className="run-card" data-testid="agent-run-row" data-session-id={r.session_id} data-status={r.status}>
            <div className="run-head">
              <span className="agent-glyph" aria-hidden="true">
                {glyphOf(r.agent_icon)}
              </span>
              <span className="run-name">{r.agent_name}</span>
              {r.live && <span className="badge">live</span>}
              <span className={`run-state status-${r.status}${r.status === 'running' ? ' state-running' : ''}`} data-testid="agent-run-status">
                {r.status}
              </span>
            </div>
            <div className="list-sub" title={r.project_path}>
              {basename(r.project_path) || r.project_path} · {formatAgo(r.started_at, now) || 'just now'} · {r.task}
            </div>
            <div className="run-health" data-testid="agent-run-figures">
              <span data-testid="agent-run-duration">{runDuration(r, now)}</span>
              <span data-testid="agent-run-tokens">{formatTokens(r.total_tokens)} tokens</span>
              <span data-testid="agent-run-cost">{formatCost(r.cost_usd)}</span>
            </div>
            <div className="run-actions">
              <button className="btn" data-testid="agent-run-open" onClick={() => onOpen(r)}>
                Open
              </button>
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

const lines = (text: string) =>
  text
    .split('\n')
    .map((t) => t.trim())
    .filter((t) => t !== '');

function AgentForm({ agent, onCancel, onSaved }: { agent: Agent | null; onCancel: () => void; onSaved: (a: Agent) => void }) {
  const [name, setName] = useState(agent?.name ?? '');
  const [icon, setIcon] = useState(agent?.icon ?? 'bot');
  const [systemPrompt, setSystemPrompt] = useState(agent?.system_prompt ?? '');
  const [defaultTask, setDefaultTask] = useState(agent?.default_task ?? '');
  const [model, setModel] = useState(agent?.model ?? 'sonnet');
  const [mode, setMode] = useState<PermissionMode | ''>(agent?.permission_mode ?? '');
  const [allowed, setAllowed] = useState((agent?.allowed_tools ?? []).join('\n'));
  const [disallowed, setDisallowed] = useState((agent?.disallowed_tools ?? []).join('\n'));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const save = async () => {
    const fields: AgentFields = {
      name,
      icon,
      system_prompt: systemPrompt,
      default_task: defaultTask.trim() ? defaultTask : null,
      model: model || 'sonnet',
      permission_mode: mode || null,
      allowed_tools: lines(allowed),
      disallowed_tools: lines(disallowed),
      hooks: agent?.hooks ?? null,
    };
    setBusy(true);
    setError(null);
    try {
      onSaved(agent ? await api.updateAgent(agent.id, fields) : await api.createAgent(fields));
    } catch (e) {
      setError(errorSentence(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="runs agents" data-testid="agent-form" aria-label={agent ? `Edit ${agent.name}` : 'New agent'}>
      <div className="runs-head">
        <div className="runs-title">
          <h1>{agent ? `Edit ${agent.name}` : 'New agent'}</h1>
        </div>
        <button className="btn btn-small" data-testid="agent-form-cancel" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <form
        className="runs-body agent-form"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <label className="field">
          <span>Name</span>
          <input data-testid="agent-name-input" value={name} onChange={(e) => setName(e.target.value)} maxLength={100} />
        </label>
        <fieldset className="field icon-picker" data-testid="agent-icon-picker">
          <legend>Icon</legend>
          <div className="icon-choices">
            {AGENT_ICONS.map((i) => (
              <label key={i.name} className={`icon-choice ${icon === i.name ? 'selected' : ''}`} title={i.name}>
                <input
                  type="radio"
                  name="agent-icon"
                  value={i.name}
                  data-testid={`agent-icon-${i.name}`}
                  checked={icon === i.name}
                  onChange={() => setIcon(i.name)}
                />
                <span aria-hidden="true">{i.glyph}</span>
                <span className="sr-only">{i.name}</span>
              </label>
            ))}
          </div>
        </fieldset>
        <label className="field">
          <span>System prompt (appended to claude's)</span>
          <textarea data-testid="agent-prompt-input" rows={6} value={systemPrompt} onChange={(e) => setSystemPrompt(e.target.value)} />
        </label>
        <label className="field">
          <span>Default task</span>
          <textarea data-testid="agent-task-input" rows={2} value={defaultTask} onChange={(e) => setDefaultTask(e.target.value)} />
        </label>
        <ModelPicker value={model} onChange={setModel} />
        <label className="field">
          <span>Permission mode</span>
          <select data-testid="agent-mode-select" value={mode} onChange={(e) => setMode(e.target.value as PermissionMode | '')}>
            <option value="">server default</option>
            {PERMISSION_MODES.map((m) => (
              <option key={m.value} value={m.value}>
                {m.label}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Allowed tools, one a line (e.g. Read, Bash(git diff:*))</span>
          <textarea data-testid="agent-allowed-input" rows={3} value={allowed} onChange={(e) => setAllowed(e.target.value)} spellCheck={false} autoCapitalize="off" />
        </label>
        <label className="field">
          <span>Disallowed tools, one a line</span>
          <textarea data-testid="agent-disallowed-input" rows={2} value={disallowed} onChange={(e) => setDisallowed(e.target.value)} spellCheck={false} autoCapitalize="off" />
        </label>
        {error && (
          <div className="msg-error" role="alert" data-testid="agent-form-error">
            {error}
          </div>
        )}
        <div className="run-actions">
          <button type="submit" className="btn btn-primary" data-testid="agent-save" disabled={busy}>
            Save
          </button>
        </div>
      </form>
    </section>
  );
}

function RunAgentForm({
  agent,
  projects,
  onCancel,
  onStarted,
}: {
  agent: Agent;
  projects: Project[] | null;
  onCancel: () => void;
  onStarted: (r: AgentRun) => void;
}) {
  const [path, setPath] = useState('');
  const [task, setTask] = useState(agent.default_task ?? '');
  const [live, setLive] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      onStarted(await api.runAgent(agent.id, { project_path: path.trim(), task, live }));
    } catch (e) {
      setError(errorSentence(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="runs agents" data-testid="agent-run-form" aria-label={`Run ${agent.name}`}>
      <div className="runs-head">
        <div className="runs-title">
          <h1>
            {glyphOf(agent.icon)} Run {agent.name}
          </h1>
          <span className="muted small">
            {agent.model}
            {agent.permission_mode ? ` · ${agent.permission_mode}` : ''}
          </span>
        </div>
        <button className="btn btn-small" data-testid="agent-run-cancel" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <form
        className="runs-body agent-form"
        onSubmit={(e) => {
          e.preventDefault();
          void start();
        }}
      >
        <label className="field">
          <span>Project directory</span>
          <input
            data-testid="agent-project-input"
            list="agent-project-paths"
            value={path}
            placeholder="/path/to/project"
            autoCapitalize="off"
            autoCorrect="off"
            spellCheck={false}
            onChange={(e) => setPath(e.target.value)}
          />
          <datalist id="agent-project-paths">
            {projects?.map((p) => <option key={p.id} value={p.path} />)}
          </datalist>
        </label>
        <label className="field">
          <span>Task</span>
          <textarea data-testid="agent-run-task" rows={3} value={task} onChange={(e) => setTask(e.target.value)} />
        </label>
        <label className="toggle">
          <input type="checkbox" data-testid="agent-live-toggle" checked={live} onChange={(e) => setLive(e.target.checked)} />
          <span>Live session (approve tools, follow-up prompts)</span>
        </label>
        {error && (
          <div className="msg-error" role="alert" data-testid="agent-run-error">
            {error}
          </div>
        )}
        <div className="run-actions">
          <button type="submit" className="btn btn-primary" data-testid="agent-run-start" disabled={busy || path.trim() === ''}>
            Run
          </button>
        </div>
      </form>
    </section>
  );
}
