// REST client for opcode-web: unwraps the `{ success, data, error }` envelope, sends the auth cookie
// (same-origin), and raises UnauthorizedError on 401 so the app can show the "open the printed URL" page.

import type { Envelope, HistoryPage, ImageAttachment, PermissionMode, Project, ProjectCommands, RunningSession, SessionEvent, SessionInfo } from './events';
import type { UsageReport } from './usage';

export class UnauthorizedError extends Error {
  constructor() {
    super('Not authorised');
    this.name = 'UnauthorizedError';
  }
}

/** A terminal on the server (`/api/terminals`). */
export interface TerminalInfo {
  id: string;
  project_path: string;
  shell: string;
  rows: number;
  cols: number;
  viewers: number;
  created_at: number;
}

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/** Whether the server could be reached by the last request (false: no network, or the service worker
 *  answered with the last copy it kept). */
export const connectivity = {
  offline: false,
  listeners: new Set<() => void>(),
  set(offline: boolean) {
    if (this.offline === offline) return;
    this.offline = offline;
    for (const l of this.listeners) l();
  },
  subscribe(fn: () => void) {
    connectivity.listeners.add(fn);
    return () => {
      connectivity.listeners.delete(fn);
    };
  },
};

/** Whether the server still accepts this browser: a 401 on any request, or a socket closed with 4401 (this
 *  device was revoked), turns it off, and the app shows the "not authorised" page. */
export const authorisation = {
  lost: false,
  listeners: new Set<() => void>(),
  lose() {
    if (this.lost) return;
    this.lost = true;
    for (const l of this.listeners) l();
  },
  subscribe(fn: () => void) {
    authorisation.listeners.add(fn);
    return () => {
      authorisation.listeners.delete(fn);
    };
  },
};

/** The header the service worker puts on an answer it serves from its cache because the network failed. */
export const OFFLINE_HEADER = 'x-opcode-offline';

/** A body sent as it is (a file's content, a multipart form, an agent file's text) instead of as JSON. */
class RawBody {
  constructor(readonly body: BodyInit) {}
}

async function request<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    const raw = body instanceof RawBody;
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers:
        body === undefined || raw ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: raw ? body.body : JSON.stringify(body) }),
    });
  } catch (e) {
    connectivity.set(true);
    throw e;
  }
  connectivity.set(res.headers?.get?.(OFFLINE_HEADER) === '1' || res.status === 502 || res.status === 503 || res.status === 504);
  if (res.status === 401) {
    authorisation.lose();
    throw new UnauthorizedError();
  }
  let env: Envelope<T> | null = null;
  try {
    env = (await res.json()) as Envelope<T>;
  } catch {
    env = null;
  }
  if (!res.ok || !env || env.success !== true) {
    throw new ApiError(res.status, env?.error ?? `${method} ${path}: HTTP ${res.status}`);
  }
  return env.data;
}

const enc = encodeURIComponent;
const pq = (projectPath: string) => new URLSearchParams({ project_path: projectPath }).toString();

export const api = {
  projects: () => request<Project[]>('GET', '/api/projects'),
  sessions: (projectId: string) => request<SessionInfo[]>('GET', `/api/projects/${enc(projectId)}/sessions`),
  // `limit` is always sent: it asks for the paged shape ({messages, next_before}); without paging
  // parameters the server answers the whole transcript as an array (the shape Opcode's client reads).
  history: (sessionId: string, projectId: string, before?: number | null, limit = 200) => {
    const q = new URLSearchParams({ limit: String(limit) });
    if (before !== undefined && before !== null) q.set('before', String(before));
    return request<HistoryPage>('GET', `/api/sessions/${enc(sessionId)}/history/${enc(projectId)}?${q}`);
  },
  running: () => request<RunningSession[]>('GET', '/api/sessions/running'),
  /** Every event of a session so far (404 for a session the server does not know). */
  output: (sessionId: string) => request<SessionEvent[]>('GET', `/api/sessions/${enc(sessionId)}/output`),
  cancel: (sessionId: string) => request<{ cancelled: boolean }>('POST', `/api/sessions/${enc(sessionId)}/cancel`),
  // live sessions (REST equivalents of the WebSocket control messages)
  prompt: (sessionId: string, prompt: string, clientId?: string, images: ImageAttachment[] = []) =>
    request<{ sent: boolean; outcome?: 'sent' | 'queued' | 'duplicate' }>('POST', `/api/sessions/${enc(sessionId)}/prompt`, {
      prompt,
      ...(clientId ? { client_id: clientId } : {}),
      ...(images.length ? { images } : {}),
    }),
  editQueued: (sessionId: string, clientId: string, prompt: string) =>
    request<unknown>('PUT', `/api/sessions/${enc(sessionId)}/queue/${enc(clientId)}`, { prompt }),
  unqueue: (sessionId: string, clientId: string) => request<unknown>('DELETE', `/api/sessions/${enc(sessionId)}/queue/${enc(clientId)}`),
  /** Checks a project directory before a run starts (400 / 403 with a sentence when it cannot be used). */
  checkProject: (path: string) => request<string>('GET', `/api/sessions/new?${new URLSearchParams({ path })}`),
  respond: (sessionId: string, requestId: string, answer: PermissionAnswer) =>
    request<unknown>('POST', `/api/sessions/${enc(sessionId)}/permissions/${enc(requestId)}`, answer),
  interrupt: (sessionId: string) => request<unknown>('POST', `/api/sessions/${enc(sessionId)}/interrupt`, {}),
  end: (sessionId: string) => request<unknown>('POST', `/api/sessions/${enc(sessionId)}/end`, {}),
  /** Switches a live session's model and/or permission mode between turns (409 while a turn runs). */
  settings: (sessionId: string, change: { model?: string; permission_mode?: PermissionMode }) =>
    request<unknown>('POST', `/api/sessions/${enc(sessionId)}/settings`, change),
  /** The slash commands claude knows in the project, by source. */
  projectCommands: (projectPath: string) =>
    request<ProjectCommands>('GET', `/api/projects/commands?${new URLSearchParams({ path: projectPath })}`),
  // remembered permission rules of a project (its `.claude/settings.local.json`)
  terminals: (projectPath?: string) =>
    request<TerminalInfo[]>(
      'GET',
      projectPath === undefined ? '/api/terminals' : `/api/terminals?${new URLSearchParams({ project_path: projectPath })}`,
    ),
  createTerminal: (projectPath: string) => request<TerminalInfo>('POST', '/api/terminals', { project_path: projectPath }),
  closeTerminal: (id: string) => request<unknown>('DELETE', `/api/terminals/${encodeURIComponent(id)}`),
  permissionRules: (projectPath: string) =>
    request<PermissionRules>('GET', `/api/permission-rules?${new URLSearchParams({ project_path: projectPath })}`),
  putPermissionRules: (projectPath: string, rules: RuleLists & { version: PermissionRules['version'] }) =>
    request<PermissionRules>('PUT', `/api/permission-rules?${new URLSearchParams({ project_path: projectPath })}`, rules),
  // Git (the project's working tree) and what each turn of a session changed
  gitStatus: (projectPath: string) => request<GitStatus>('GET', `/api/git/status?${pq(projectPath)}`),
  gitDiff: (projectPath: string, path: string, staged: boolean) =>
    request<FileDiff>('GET', `/api/git/diff?${new URLSearchParams({ project_path: projectPath, path, staged: String(staged) })}`),
  gitStage: (projectPath: string, paths: string[]) => request<unknown>('POST', `/api/git/stage?${pq(projectPath)}`, { paths }),
  gitUnstage: (projectPath: string, paths: string[]) => request<unknown>('POST', `/api/git/unstage?${pq(projectPath)}`, { paths }),
  gitCommit: (projectPath: string, message: string) =>
    request<{ commit: string; branch: string | null }>('POST', `/api/git/commit?${pq(projectPath)}`, { message }),
  gitDiscard: (projectPath: string, path: string) => request<unknown>('POST', `/api/git/discard?${pq(projectPath)}`, { path }),
  gitBranches: (projectPath: string) => request<GitBranch[]>('GET', `/api/git/branches?${pq(projectPath)}`),
  gitSwitch: (projectPath: string, branch: string) => request<unknown>('POST', `/api/git/switch?${pq(projectPath)}`, { branch }),
  gitInit: (projectPath: string) => request<unknown>('POST', `/api/git/init?${pq(projectPath)}`, {}),
  turns: (sessionId: string) => request<TurnInfo[]>('GET', `/api/sessions/${enc(sessionId)}/turns`),
  turnDiff: (sessionId: string, turn: number) =>
    request<TurnDiff>('GET', `/api/sessions/${enc(sessionId)}/turns/${turn}/diff`),
  // usage analytics: `query` is a period's query string (`periodQuery`); the server refreshes its index first
  usageReport: (query: string) => request<UsageReport>('GET', `/api/usage/report?${query}`),
  // CLAUDE.md memory files of a project and of the user
  claudeMdFiles: (projectPath: string) =>
    request<{ project_path: string; files: MdFile[] }>('GET', `/api/claude-md?${new URLSearchParams({ project_path: projectPath })}`),
  claudeMd: (projectPath: string, target: MdTarget) => request<MdContent>('GET', `/api/claude-md/file?${mdQuery(projectPath, target)}`),
  saveClaudeMd: (projectPath: string, target: MdTarget, content: string, version: string) =>
    request<MdContent>('PUT', `/api/claude-md/file?${mdQuery(projectPath, target)}`, { content, version }),
  // MCP servers (changes go through claude's own `claude mcp` commands)
  mcpServers: (projectPath: string | null) =>
    request<McpServer[]>('GET', `/api/mcp/servers${projectPath ? `?${new URLSearchParams({ project_path: projectPath })}` : ''}`),
  addMcp: (name: string, scope: McpScope, projectPath: string | null, config: unknown) =>
    request<unknown>('POST', '/api/mcp/servers', { name, scope, ...(projectPath ? { project_path: projectPath } : {}), config }),
  removeMcp: (name: string, scope: McpScope, projectPath: string | null) =>
    request<unknown>('DELETE', `/api/mcp/servers/${enc(name)}?${mcpQuery(scope, projectPath)}`),
  testMcp: (name: string, scope: McpScope, projectPath: string | null) =>
    request<McpTest>('POST', `/api/mcp/servers/${enc(name)}/test?${mcpQuery(scope, projectPath)}`),
  importMcp: (scope: McpScope, projectPath: string | null, config: unknown) =>
    request<{ imported: string[]; failed: { name: string; error: string }[] }>('POST', '/api/mcp/import', {
      scope,
      ...(projectPath ? { project_path: projectPath } : {}),
      config,
    }),
  // a session's timeline, forks and file checkpoints
  timeline: (sessionId: string, projectPath: string) =>
    request<{ session_id: string; turns: TimelineTurn[]; truncated: boolean }>(
      'GET',
      `/api/sessions/${enc(sessionId)}/timeline?${new URLSearchParams({ project_path: projectPath })}`,
    ),
  fork: (sessionId: string, body: { project_path: string; message_id: string; prompt: string; live: boolean }) =>
    request<{ session_id: string }>('POST', `/api/sessions/${enc(sessionId)}/fork`, body),
  rewindPreview: (sessionId: string, projectPath: string, messageId: string) =>
    request<RewindPreview>('GET', `/api/sessions/${enc(sessionId)}/rewind?${new URLSearchParams({ project_path: projectPath, message_id: messageId })}`),
  rewind: (sessionId: string, body: { project_path: string; message_id: string }) =>
    request<{ rewound: boolean }>('POST', `/api/sessions/${enc(sessionId)}/rewind`, body),
  // Web Push
  vapidPublicKey: () => request<{ public_key: string }>('GET', '/api/push/vapid-public-key'),
  subscribePush: (deviceId: string, subscription: unknown) =>
    request<{ device_id: string }>('POST', '/api/push/subscriptions', { device_id: deviceId, subscription }),
  unsubscribePush: (deviceId: string) => request<{ deleted: boolean }>('DELETE', '/api/push/subscriptions', { device_id: deviceId }),
  testPush: (deviceId: string) => request<{ accepted: boolean }>('POST', '/api/push/test', { device_id: deviceId }),
  listFolder: (project: string, path: string, ignored: boolean) =>
    request<FolderListing>('GET', filesUrl('list', project, { path, ignored: String(ignored) })),
  searchFiles: (project: string, q: string, ignored: boolean) =>
    request<FileSearch>('GET', filesUrl('search', project, { q, ignored: String(ignored) })),
  readFile: (project: string, path: string) => request<FileContent>('GET', filesUrl('read', project, { path })),
  saveFile: (project: string, path: string, version: string, text: string) =>
    request<{ path: string; size: number; version: string }>('PUT', filesUrl('save', project, { path, version }), new RawBody(text)),
  createEntry: (project: string, path: string, kind: 'file' | 'folder') =>
    request<{ path: string }>('POST', filesUrl('create', project), { path, kind }),
  renameEntry: (project: string, from: string, to: string) => request<{ path: string }>('POST', filesUrl('rename', project), { from, to }),
  deleteEntry: (project: string, path: string) => request<{ deleted: string }>('POST', filesUrl('delete', project), { path }),
  uploadFiles: (project: string, folder: string, files: File[]) => {
    const form = new FormData();
    for (const f of files) form.append('file', f, f.name);
    return request<{ written: string[] }>('POST', filesUrl('upload', project, { path: folder }), new RawBody(form));
  },
  // agents
  agents: () => request<Agent[]>('GET', '/api/agents'),
  createAgent: (agent: AgentFields) => request<Agent>('POST', '/api/agents', agent),
  updateAgent: (id: number, agent: AgentFields) => request<Agent>('PUT', `/api/agents/${id}`, agent),
  deleteAgent: (id: number) => request<{ deleted: boolean }>('DELETE', `/api/agents/${id}`),
  /** Imports an agent file (Opcode's `.opcode.json`), sent as its text. */
  importAgent: (fileText: string) => request<Agent>('POST', '/api/agents/import', new RawBody(fileText)),
  /** Where the agent's file downloads from (a same-origin GET: the cookie goes along). */
  exportAgentUrl: (id: number) => `/api/agents/${id}/export`,
  runAgent: (id: number, run: { project_path: string; task?: string; live?: boolean; model?: string }) =>
    request<AgentRun>('POST', `/api/agents/${id}/run`, run),
  agentRuns: () => request<AgentRun[]>('GET', '/api/agent-runs'),
  // paired devices, pairing links, the token, the audit trail
  devices: () => request<{ devices: Device[]; current: string | null }>('GET', '/api/devices'),
  renameDevice: (id: string, name: string) => request<{ id: string; name: string }>('PATCH', `/api/devices/${enc(id)}`, { name }),
  revokeDevice: (id: string) => request<{ revoked: boolean }>('DELETE', `/api/devices/${enc(id)}`),
  pairingLink: () => request<PairingLink>('POST', '/api/pairing-links'),
  rotateToken: () => request<{ token: string; url: string; qr_svg: string | null }>('POST', '/api/token/rotate'),
  audit: (limit = 100) => request<AuditEntry[]>('GET', `/api/audit?limit=${limit}`),
};


/** The address of a files route (`/api/files/<route>?project_path=…&…`); also the link of a download. */
export function filesUrl(route: string, project: string, params: Record<string, string> = {}): string {
  return `/api/files/${route}?${new URLSearchParams({ project_path: project, ...params })}`;
}

export type EntryKind = 'file' | 'folder' | 'broken_link' | 'other';

export interface FileEntry {
  name: string;
  path: string;
  kind: EntryKind;
  symlink: boolean;
  size: number | null;
  ignored: boolean;
}

export interface FolderListing {
  path: string;
  entries: FileEntry[];
  truncated: number;
  hidden_ignored: number;
}

export interface FileSearch {
  hits: { path: string; score: number }[];
  scanned: number;
  truncated: boolean;
}

export interface FileContent {
  path: string;
  size: number;
  version: string;
  binary: boolean;
  text: string | null;
}

/** A paired device (`GET /api/devices`). Times are unix seconds. */
export interface Device {
  id: string;
  name: string;
  paired_at: number;
  paired_addr: string;
  last_seen_at: number;
  last_seen_addr: string;
  current: boolean;
}

/** A one-time pairing link (`POST /api/pairing-links`). */
export interface PairingLink {
  url: string;
  expires_at: number;
  qr_svg: string | null;
}

/** One entry of the audit trail (`GET /api/audit`). */
export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  actor_kind: 'token' | 'device';
  actor_id: string | null;
  action: string;
  target: string;
  addr: string;
}

/** What an agent is made of (the body of a create or an edit). */
export interface AgentFields {
  name: string;
  icon: string;
  system_prompt: string;
  default_task: string | null;
  model: string;
  permission_mode: PermissionMode | null;
  allowed_tools: string[];
  disallowed_tools: string[];
  hooks?: string | null;
}

/** `GET /api/agents`: a saved agent. */
export interface Agent extends AgentFields {
  id: number;
  hooks: string | null;
  /** RFC 3339. */
  created_at: string;
  updated_at: string;
}

/** A run of an agent (`/api/agent-runs`): its session, how it ended, and claude's figures. */
export interface AgentRun {
  id: number;
  agent_id: number | null;
  agent_name: string;
  agent_icon: string;
  session_id: string;
  project_path: string;
  task: string;
  model: string;
  live: boolean;
  status: 'running' | 'success' | 'error' | 'cancelled';
  /** Unix seconds. */
  started_at: number;
  ended_at: number | null;
  duration_ms: number | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cache_creation_tokens: number | null;
  cache_read_tokens: number | null;
  total_tokens: number | null;
  cost_usd: number | null;
}

/** One prompt of a session's timeline. */
export interface TimelineTurn {
  message_id: string;
  last_message_id: string;
  parent_message_id: string | null;
  timestamp: string | null;
  prompt: string;
  tools: { name: string; target: string | null }[];
  files_changed: string[];
  checkpoint: boolean;
}

/** What restoring the files of a prompt's checkpoint would change. */
export interface RewindPreview {
  message_id: string;
  files: { path: string; change: 'delete' | 'create' | 'modify'; diff: string | null }[];
  truncated: boolean;
}

export type McpScope = 'user' | 'project' | 'local';

function mcpQuery(scope: McpScope, projectPath: string | null) {
  const q = new URLSearchParams({ scope });
  if (projectPath && scope !== 'user') q.set('project_path', projectPath);
  return q;
}

/** A configured MCP server (`GET /api/mcp/servers`, the seed's `MCPServer` plus `headers` and `config`). */
export interface McpServer {
  name: string;
  transport: string;
  command: string | null;
  args: string[];
  env: Record<string, string>;
  url: string | null;
  headers: Record<string, string>;
  scope: McpScope;
  is_active: boolean;
  config: unknown;
}

/** What testing a server found. */
export interface McpTest {
  ok: boolean;
  server: string | null;
  tools: { name: string; description: string | null }[];
  message: string;
}

export type MdTarget = { scope: 'user' } | { scope: 'project'; path: string };

function mdQuery(projectPath: string, target: MdTarget) {
  return target.scope === 'user'
    ? new URLSearchParams({ scope: 'user' })
    : new URLSearchParams({ project_path: projectPath, path: target.path });
}

/** A memory file of `GET /api/claude-md`. */
export interface MdFile {
  scope: 'user' | 'project';
  /** Relative to the project; `CLAUDE.md` for the user's. */
  path: string;
  absolute: string;
  exists: boolean;
  size: number;
}

/** `GET /api/claude-md/file`: the text and the version a save must name. */
export interface MdContent extends MdFile {
  content: string;
  version: string;
}

export interface RuleLists {
  allow: string[];
  deny: string[];
  ask: string[];
}

/** `GET /api/permission-rules`: the rule lists of the project's `.claude/settings.local.json`. */
export interface PermissionRules extends RuleLists {
  file: string;
  /** Opaque: sent back with a PUT (a file changed since is a 409). */
  version: unknown;
}

/** The request never reached the server (no network, the server is down or restarting). */
export function isNetworkError(e: unknown): boolean {
  if (e instanceof ApiError) return e.status === 502 || e.status === 503 || e.status === 504;
  return e instanceof TypeError;
}

/** An error as a sentence a person can act on ("Failed to fetch" is not one). */
export function errorSentence(e: unknown): string {
  if (isNetworkError(e)) return 'The server could not be reached (no connection, or it is restarting).';
  const text = e instanceof Error ? e.message : String(e);
  const t = text.trim();
  if (t === '') return 'Something went wrong.';
  const first = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

export interface PermissionAnswer {
  behavior: 'allow' | 'deny';
  updated_input?: unknown;
  message?: string;
  /** With allow: "always allow", the request's `remember` rules are kept for the project. */
  remember?: boolean;
}

export type ChangeKind = 'added' | 'modified' | 'deleted' | 'renamed' | 'copied' | 'type_changed';

export interface FileChange {
  path: string;
  orig_path?: string;
  kind: ChangeKind;
}

/** `GET /api/git/status`: `{repository: false}` for a folder that is not a repository. */
export type GitStatus =
  | { repository: false }
  | {
      repository: true;
      branch: string | null;
      head: string | null;
      upstream: string | null;
      ahead: number;
      behind: number;
      staged: FileChange[];
      unstaged: FileChange[];
      untracked: string[];
      conflicted: string[];
    };

export interface FileDiff {
  path: string;
  staged: boolean;
  diff: string;
  truncated: boolean;
}

export interface GitBranch {
  name: string;
  current: boolean;
  upstream: string | null;
  commit: string;
}

/** One turn of a session: `files` is null while it runs. */
export interface TurnInfo {
  turn: number;
  started_at: number;
  finished_at: number | null;
  files: FileChange[] | null;
}

export interface TurnDiff {
  turn: number;
  files: FileChange[];
  diff: string;
  truncated: boolean;
}
