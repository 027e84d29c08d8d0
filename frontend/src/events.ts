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

/** One slash command of the composer's menu (`GET /api/projects/commands`). */
export interface SlashCommand {
  /** What follows the `/` (`name`, or `namespace:name`). */
  name: string;
  description: string | null;
  argument_hint: string | null;
}

/** The slash commands of a project, by where they come from. */
export interface ProjectCommands {
  builtin: SlashCommand[];
  user: SlashCommand[];
  project: SlashCommand[];
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

/** How a run in progress is doing (`health` of `/api/sessions/running`). */
export interface RunHealth {
  /** claude's process is still alive. */
  alive: boolean;
  /** Live processes in its process group. */
  processes: number;
  cpu_seconds: number;
  rss_bytes: number;
  /** Seconds since claude last wrote a line (or since the run started). */
  seconds_since_output: number;
  /** Permission requests waiting for an answer. */
  waiting_for_you: number;
}

/** One entry of `GET /api/sessions/running`: the latest run of a session the server knows. The fields after
 *  `status` are optional so that an older server (or the e2e mock) still fits. */
export interface RunningSession {
  session_id: string;
  project_path: string;
  command_type: CommandType;
  model: string | null;
  started_at: number | string;
  status: 'running' | 'finished';
  live?: boolean;
  permission_mode?: PermissionMode | null;
  /** How the run ended, once it has. */
  outcome?: CompletionStatus | null;
  /** Unix seconds. */
  finished_at?: number | null;
  /** The process ended without being asked to (claude died in a live session, or the server restarted). */
  exited_unexpectedly?: boolean;
  /** A live session that exited unexpectedly: a live `resume` (empty prompt) takes it up again. */
  resumable?: boolean;
  events?: number;
  /** null unless running. */
  health?: RunHealth | null;
  run_id?: number;
}

/** An image sent with a prompt: one of the four types, standard base64 without a `data:` prefix. */
export interface ImageAttachment {
  media_type: 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp';
  data: string;
}

/** One request sent on `/ws/claude`. */
export interface ClaudeRequest {
  command_type: CommandType;
  project_path: string;
  /** Non-empty, except for a live `resume`: claude starts and waits for the next prompt. */
  prompt: string;
  model?: string;
  session_id?: string;
  include_partial_messages?: boolean;
  /** A live session: one claude process across turns, tools approved by viewers. */
  live?: boolean;
  permission_mode?: PermissionMode;
  /** Images for claude to see with the prompt (at most 4, 5 MiB each). */
  images?: ImageAttachment[];
  /** The run's settings beyond the prompt, each through the CLI's own flag (an agent's run). */
  run_options?: RunOptions;
}

/** `--append-system-prompt`, `--allowedTools`, `--disallowedTools`; unknown fields are refused. */
export interface RunOptions {
  append_system_prompt?: string;
  allowed_tools?: string[];
  disallowed_tools?: string[];
}

export type PermissionMode = 'default' | 'acceptEdits' | 'plan' | 'bypassPermissions';

/** Control messages of live sessions, sent on an open socket (`/ws/claude` or `/ws/sessions/{id}`). */
export type ControlMessage =
  | { type: 'prompt'; session_id: string; prompt: string; client_id?: string; images?: ImageAttachment[] }
  | { type: 'edit_queued'; session_id: string; client_id: string; prompt: string }
  | { type: 'unqueue'; session_id: string; client_id: string }
  | {
      type: 'permission_response';
      session_id: string;
      request_id: string;
      behavior: 'allow' | 'deny';
      updated_input?: unknown;
      message?: string;
      remember?: boolean;
    }
  | { type: 'interrupt'; session_id: string }
  | { type: 'end'; session_id: string }
  /** Switch a live session's model and/or permission mode between turns (at least one). */
  | { type: 'settings'; session_id: string; model?: string; permission_mode?: PermissionMode };

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
  /** Present (true) for live sessions. */
  live?: boolean;
  permission_mode?: string | null;
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
  /** Why the run did not succeed (null on success; absent from servers before issue 18). */
  error?: string | null;
}

/** A prompt written to a live process (the first and every follow-up). */
export interface UserPromptEvent extends EventBase {
  type: 'user_prompt';
  prompt: string;
  /** The client's id for the prompt, when it gave one (a queued prompt's when it goes out). */
  client_id?: string | null;
  /** The images sent with it (absent when none). */
  images?: ImageAttachment[];
}

/** A prompt sent while a turn ran waits on the server; logged again with new text when edited. */
export interface PromptQueuedEvent extends EventBase {
  type: 'prompt_queued';
  client_id: string;
  prompt: string;
  images?: ImageAttachment[];
}

/** A queued prompt was removed before it went out. */
export interface PromptUnqueuedEvent extends EventBase {
  type: 'prompt_unqueued';
  client_id: string;
}

/** Claude asks to use a tool; pending until a `permission_resolved` with the same request_id. */
export interface PermissionRequestEvent extends EventBase {
  type: 'permission_request';
  request_id: string;
  tool_name: string;
  input: unknown;
  tool_use_id: string | null;
  description: string | null;
  timeout_ms: number | null;
  /** Unix milliseconds (server clock). */
  expires_at: number | null;
  /** What "always allow" would remember: the CLI's permission updates (`addRules` with `rules: [{toolName, ruleContent?}]`). */
  remember?: unknown;
}

export type ResolvedBy = 'viewer' | 'timeout' | 'end' | string;

export interface PermissionResolvedEvent extends EventBase {
  type: 'permission_resolved';
  request_id: string;
  behavior: 'allow' | 'deny';
  by: ResolvedBy;
  message: string | null;
  /** The allow was remembered in the project (claude will not ask again for it). */
  remembered?: boolean;
}

/** A viewer switched the live session's model and/or permission mode between turns (null: unchanged). */
export interface SettingsChangedEvent extends EventBase {
  type: 'settings_changed';
  model: string | null;
  permission_mode: string | null;
}

/** An event type this UI does not know (a newer server): it still takes its seq, so no gap stalls the log. */
export interface UnknownEvent extends EventBase {
  type: '__unknown';
}

export type SessionEvent =
  | StartEvent
  | OutputEvent
  | ErrorEvent
  | CancelledEvent
  | CompletionEvent
  | UserPromptEvent
  | PromptQueuedEvent
  | PromptUnqueuedEvent
  | PermissionRequestEvent
  | PermissionResolvedEvent
  | SettingsChangedEvent
  | UnknownEvent;

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

const EVENT_TYPES = new Set([
  'start',
  'output',
  'error',
  'cancelled',
  'completion',
  'user_prompt',
  'prompt_queued',
  'prompt_unqueued',
  'permission_request',
  'permission_resolved',
  'settings_changed',
]);

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
  if (typeof value.seq === 'number' && typeof value.session_id === 'string') {
    if (EVENT_TYPES.has(value.type)) return { kind: 'event', event: value as unknown as SessionEvent };
    // unknown type: keep its place in the numbering, ignore its content
    return { kind: 'event', event: { type: '__unknown', session_id: value.session_id, seq: value.seq } };
  }
  return { kind: 'invalid', text };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
