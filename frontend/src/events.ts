// Wire types of opcode-web (docs/protocol.md): REST envelope, records, the run request, session events
// and request-error frames, plus `parseFrame` that classifies one WebSocket text frame.

export type CommandType = 'execute' | 'continue' | 'resume';
export type CompletionStatus = 'success' | 'error' | 'cancelled';

/** `{ success, data, error }` around every REST answer. */
export interface Envelope<T> {
  success: boolean;
  data: T;
  error: string | null;
}

export interface Project {
  id: string;
  path: string;
  sessions: string[];
  created_at: number;
  most_recent_session: number | null;
}

export interface SessionInfo {
  id: string;
  project_id: string;
  project_path: string;
  created_at: number;
  first_message: string | null;
  message_timestamp: string | null;
}

export interface HistoryPage {
  messages: unknown[];
  next_before: number | null;
}

export interface RunningSession {
  session_id: string;
  project_path: string;
  command_type: CommandType;
  model: string | null;
  started_at: number | string;
  status: 'running' | 'finished';
}

/** One request sent on `/ws/claude`. */
export interface ClaudeRequest {
  command_type: CommandType;
  project_path: string;
  prompt: string;
  model?: string;
  session_id?: string;
  include_partial_messages?: boolean;
}

interface EventBase {
  session_id: string;
  seq: number;
}

export interface StartEvent extends EventBase {
  type: 'start';
  message: string;
  command_type: CommandType;
  project_path: string;
  model: string | null;
}

export interface OutputEvent extends EventBase {
  type: 'output';
  /** A parsed stream-json object, or the raw line when it was not JSON. */
  content: unknown;
}

export interface ErrorEvent extends EventBase {
  type: 'error';
  message: string;
}

export interface CancelledEvent extends EventBase {
  type: 'cancelled';
}

export interface CompletionEvent extends EventBase {
  type: 'completion';
  status: CompletionStatus;
  exit_code: number | null;
  signal: number | null;
}

export type SessionEvent = StartEvent | OutputEvent | ErrorEvent | CancelledEvent | CompletionEvent;

/** A refused or malformed request on `/ws/claude`: an `error` without `seq`. */
export interface RequestErrorFrame {
  type: 'error';
  message: string;
  session_id?: string | null;
}

export type Frame =
  | { kind: 'event'; event: SessionEvent }
  | { kind: 'request-error'; error: RequestErrorFrame }
  | { kind: 'invalid'; text: string };

const EVENT_TYPES = new Set(['start', 'output', 'error', 'cancelled', 'completion']);

/** Classifies one WebSocket text frame; never throws. */
export function parseFrame(text: string): Frame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'invalid', text };
  }
  if (!isObject(value) || typeof value.type !== 'string') return { kind: 'invalid', text };
  if (value.type === 'error' && typeof value.seq !== 'number') {
    return {
      kind: 'request-error',
      error: {
        type: 'error',
        message: typeof value.message === 'string' ? value.message : text,
        session_id: typeof value.session_id === 'string' ? value.session_id : null,
      },
    };
  }
  if (EVENT_TYPES.has(value.type) && typeof value.seq === 'number' && typeof value.session_id === 'string') {
    return { kind: 'event', event: value as unknown as SessionEvent };
  }
  return { kind: 'invalid', text };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
