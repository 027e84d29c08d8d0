// REST client for opcode-web: unwraps the `{ success, data, error }` envelope, sends the auth cookie
// (same-origin), and raises UnauthorizedError on 401 so the app can show the "open the printed URL" page.

import type { Envelope, HistoryPage, PermissionMode, Project, RunningSession, SessionInfo } from './events';

export class UnauthorizedError extends Error {
  constructor() {
    super('Not authorised');
    this.name = 'UnauthorizedError';
  }
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

/** The header the service worker puts on an answer it serves from its cache because the network failed. */
export const OFFLINE_HEADER = 'x-opcode-offline';

/** A body sent as it is (an agent file's text), not as JSON. */
class RawBody {
  constructor(readonly text: string) {}
}

async function request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers:
        body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': body instanceof RawBody ? 'text/plain' : 'application/json' },
      ...(body === undefined ? {} : { body: body instanceof RawBody ? body.text : JSON.stringify(body) }),
    });
  } catch (e) {
    connectivity.set(true);
    throw e;
  }
  connectivity.set(res.headers?.get?.(OFFLINE_HEADER) === '1' || res.status === 502 || res.status === 503 || res.status === 504);
  if (res.status === 401) throw new UnauthorizedError();
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
  cancel: (sessionId: string) => request<{ cancelled: boolean }>('POST', `/api/sessions/${enc(sessionId)}/cancel`),
  // live sessions (REST equivalents of the WebSocket control messages)
  prompt: (sessionId: string, prompt: string, clientId?: string) =>
    request<{ sent: boolean; outcome?: 'sent' | 'queued' | 'duplicate' }>('POST', `/api/sessions/${enc(sessionId)}/prompt`, {
      prompt,
      ...(clientId ? { client_id: clientId } : {}),
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
  // remembered permission rules of a project (its `.claude/settings.local.json`)
  permissionRules: (projectPath: string) =>
    request<PermissionRules>('GET', `/api/permission-rules?${new URLSearchParams({ project_path: projectPath })}`),
  putPermissionRules: (projectPath: string, rules: RuleLists & { version: PermissionRules['version'] }) =>
    request<PermissionRules>('PUT', `/api/permission-rules?${new URLSearchParams({ project_path: projectPath })}`, rules),
  // Web Push
  vapidPublicKey: () => request<{ public_key: string }>('GET', '/api/push/vapid-public-key'),
  subscribePush: (deviceId: string, subscription: unknown) =>
    request<{ device_id: string }>('POST', '/api/push/subscriptions', { device_id: deviceId, subscription }),
  unsubscribePush: (deviceId: string) => request<{ deleted: boolean }>('DELETE', '/api/push/subscriptions', { device_id: deviceId }),
  testPush: (deviceId: string) => request<{ accepted: boolean }>('POST', '/api/push/test', { device_id: deviceId }),
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
};

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
