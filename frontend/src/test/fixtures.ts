// Builders of session events and stream-json lines for the unit tests, shaped like the real CLI's output
// (system/init, assistant, user tool_result, result, stream_event deltas).

import type { SessionEvent } from '../events';

export const SID = '11111111-2222-4333-8444-555555555555';
export const OTHER = '99999999-2222-4333-8444-555555555555';

export function start(seq: number, session_id = SID): SessionEvent {
  return { type: 'start', session_id, seq, message: 'started', command_type: 'execute', project_path: '/p', model: null };
}

export function output(seq: number, content: unknown, session_id = SID): SessionEvent {
  return { type: 'output', session_id, seq, content };
}

export function error(seq: number, message: string, session_id = SID): SessionEvent {
  return { type: 'error', session_id, seq, message };
}

export function completion(seq: number, status: 'success' | 'error' | 'cancelled' = 'success', session_id = SID): SessionEvent {
  return { type: 'completion', session_id, seq, status, exit_code: status === 'success' ? 0 : null, signal: null };
}

export function cancelled(seq: number, session_id = SID): SessionEvent {
  return { type: 'cancelled', session_id, seq };
}

export const init = (session_id = SID) => ({
  type: 'system',
  subtype: 'init',
  cwd: '/home/dev/project',
  session_id,
  tools: ['Bash', 'Read'],
  model: 'claude-test',
});

export const assistantText = (text: string, session_id = SID) => ({
  type: 'assistant',
  message: { id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'text', text }] },
  session_id,
});

export const assistantToolUse = (session_id = SID) => ({
  type: 'assistant',
  message: {
    role: 'assistant',
    content: [{ type: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: 'echo hi', description: 'say hi' } }],
  },
  session_id,
});

export const assistantThinking = (thinking: string) => ({
  type: 'assistant',
  message: { role: 'assistant', content: [{ type: 'thinking', thinking, signature: 'x' }] },
});

export const userToolResult = (content: unknown, is_error = false) => ({
  type: 'user',
  message: { role: 'user', content: [{ tool_use_id: 'toolu_1', type: 'tool_result', content, is_error }] },
});

export const resultLine = (over: Record<string, unknown> = {}) => ({
  duration_api_ms: 24,
  session_id: SID,
  total_cost_usd: 0.00016,
  usage: { input_tokens: 10, output_tokens: 6, cache_read_input_tokens: 0 },
  is_error: false,
  num_turns: 1,
  subtype: 'success',
  result: 'Hello',
  type: 'result',
  duration_ms: 146,
  ...over,
});

export const textDelta = (text: string) => ({
  type: 'stream_event',
  event: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } },
  session_id: SID,
});

export const streamEvent = (event: Record<string, unknown>) => ({ type: 'stream_event', event, session_id: SID });

// ---- live sessions ----

export function liveStart(seq: number, session_id = SID, permission_mode = 'default'): SessionEvent {
  return { type: 'start', session_id, seq, message: 'started', command_type: 'execute', project_path: '/p', model: null, live: true, permission_mode };
}

export function userPrompt(seq: number, prompt: string, session_id = SID): SessionEvent {
  return { type: 'user_prompt', session_id, seq, prompt };
}

export function permissionRequest(
  seq: number,
  request_id: string,
  over: { tool_name?: string; input?: unknown } = {},
  session_id = SID,
): SessionEvent {
  return {
    type: 'permission_request',
    session_id,
    seq,
    request_id,
    tool_name: over.tool_name ?? 'Bash',
    input: over.input ?? { command: 'echo hi > tool-ran.txt', description: 'write a file' },
    tool_use_id: 'toolu_1',
    description: 'write a file',
    timeout_ms: 1_800_000,
    expires_at: 1_900_000_000_000,
  };
}

export function permissionResolved(
  seq: number,
  request_id: string,
  behavior: 'allow' | 'deny' = 'allow',
  by = 'viewer',
  message: string | null = null,
  session_id = SID,
): SessionEvent {
  return { type: 'permission_resolved', session_id, seq, request_id, behavior, by, message };
}
