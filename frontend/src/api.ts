// REST client for opcode-web: unwraps the `{ success, data, error }` envelope, sends the auth cookie
// (same-origin), and raises UnauthorizedError on 401 so the app can show the "open the printed URL" page.

import type { Envelope, HistoryPage, Project, RunningSession, SessionInfo } from './events';

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

async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers:
      body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
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
  prompt: (sessionId: string, prompt: string) => request<unknown>('POST', `/api/sessions/${enc(sessionId)}/prompt`, { prompt }),
  respond: (sessionId: string, requestId: string, answer: PermissionAnswer) =>
    request<unknown>('POST', `/api/sessions/${enc(sessionId)}/permissions/${enc(requestId)}`, answer),
  interrupt: (sessionId: string) => request<unknown>('POST', `/api/sessions/${enc(sessionId)}/interrupt`, {}),
  end: (sessionId: string) => request<unknown>('POST', `/api/sessions/${enc(sessionId)}/end`, {}),
};

export interface PermissionAnswer {
  behavior: 'allow' | 'deny';
  updated_input?: unknown;
  message?: string;
}
