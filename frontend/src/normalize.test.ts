import { describe, expect, it } from 'vitest';
import { normalizeHistoryLine, normalizeOutput, toolResultText } from './normalize';
import { assistantText, assistantThinking, assistantToolUse, init, resultLine, textDelta, userToolResult } from './test/fixtures';

describe('normalizeOutput', () => {
  it('system/init gives model, cwd and tool count', () => {
    expect(normalizeOutput(init())).toEqual([{ kind: 'system-init', model: 'claude-test', cwd: '/home/dev/project', tools: 2 }]);
  });

  it('other system subtypes become notes; "status: requesting" (every API call) is not shown', () => {
    expect(normalizeOutput({ type: 'system', subtype: 'status', status: 'requesting' })).toEqual([]);
    expect(normalizeOutput({ type: 'system', subtype: 'status', status: 'compacting' })).toEqual([
      { kind: 'system-note', text: 'status: compacting' },
    ]);
    expect(normalizeOutput({ type: 'system', subtype: 'api_retry', attempt: 2, retry_delay_ms: 1200 })).toEqual([
      { kind: 'system-note', text: 'api_retry: attempt 2 in 1200 ms' },
    ]);
  });

  it('assistant text, tool_use and thinking blocks', () => {
    expect(normalizeOutput(assistantText('Hello'))).toEqual([{ kind: 'assistant-text', text: 'Hello' }]);
    expect(normalizeOutput(assistantToolUse())).toEqual([
      { kind: 'tool-use', id: 'toolu_1', name: 'Bash', input: { command: 'echo hi', description: 'say hi' } },
    ]);
    expect(normalizeOutput(assistantThinking('hmm'))).toEqual([{ kind: 'thinking', text: 'hmm' }]);
  });

  it('user tool_result with string or block content, and errors', () => {
    expect(normalizeOutput(userToolResult('(Bash completed with no output)'))).toEqual([
      { kind: 'tool-result', toolUseId: 'toolu_1', content: '(Bash completed with no output)', isError: false },
    ]);
    expect(normalizeOutput(userToolResult([{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }], true))).toEqual([
      { kind: 'tool-result', toolUseId: 'toolu_1', content: 'a\nb', isError: true },
    ]);
  });

  it('result line (keys in any order) is summarised', () => {
    expect(normalizeOutput(resultLine({ is_error: true, subtype: 'error_during_execution' }))).toEqual([
      {
        kind: 'result',
        isError: true,
        subtype: 'error_during_execution',
        durationMs: 146,
        numTurns: 1,
        costUsd: 0.00016,
        usage: { input_tokens: 10, output_tokens: 6, cache_read_input_tokens: 0 },
        text: 'Hello',
      },
    ]);
  });

  it('stream_event deltas produce no items (the reducer folds them)', () => {
    expect(normalizeOutput(textDelta('x'))).toEqual([]);
  });

  it('a non-JSON line (string content) is shown raw, never dropped', () => {
    expect(normalizeOutput('this line is not json')).toEqual([{ kind: 'raw', text: 'this line is not json' }]);
  });

  it('unknown types and shapes degrade to raw without throwing', () => {
    expect(normalizeOutput({ type: 'rate_limit_event', x: 1 })[0].kind).toBe('raw');
    expect(normalizeOutput(42)).toEqual([{ kind: 'raw', text: '42' }]);
    expect(normalizeOutput({ type: 'assistant', message: null })).toEqual([]);
    expect(normalizeOutput({ type: 'control_request', request: { subtype: 'can_use_tool' } })).toEqual([
      { kind: 'system-note', text: 'control_request (can_use_tool)' },
    ]);
    // live sessions: claude's acknowledgements of initialize / interrupt are not shown; errors are
    expect(normalizeOutput({ type: 'control_response', response: { subtype: 'success', request_id: 'init-1', response: {} } })).toEqual([]);
    expect(normalizeOutput({ type: 'control_response', response: { subtype: 'error', request_id: 'x', error: 'bad' } })).toEqual([
      { kind: 'system-note', text: 'control_response (error): bad' },
    ]);
    // a refused model or mode switch says which, and why
    expect(
      normalizeOutput({ type: 'control_response', response: { subtype: 'error', request_id: 'set-mode-1', error: 'invalid_mode' } }),
    ).toEqual([{ kind: 'system-note', text: 'Claude refused the permission mode change: invalid_mode' }]);
    expect(normalizeOutput({ type: 'control_response', response: { subtype: 'error', request_id: 'set-model-1' } })).toEqual([
      { kind: 'system-note', text: 'Claude refused the model change' },
    ]);
  });
});

describe('normalizeHistoryLine', () => {
  it('keeps user and assistant turns, skips bookkeeping lines', () => {
    expect(normalizeHistoryLine({ type: 'user', message: { role: 'user', content: 'say hello' } })).toEqual([
      { kind: 'user-text', text: 'say hello' },
    ]);
    expect(normalizeHistoryLine(assistantText('Hi'))).toEqual([{ kind: 'assistant-text', text: 'Hi' }]);
    for (const t of ['queue-operation', 'attachment', 'last-prompt', 'cost-state', 'api-request']) {
      expect(normalizeHistoryLine({ type: t })).toEqual([]);
    }
    expect(normalizeHistoryLine({ type: 'user', isMeta: true, message: { content: 'x' } })).toEqual([]);
  });
});

describe('toolResultText', () => {
  it('handles strings, lists with images, and absent content', () => {
    expect(toolResultText('x')).toBe('x');
    expect(toolResultText([{ type: 'image' }, { type: 'text', text: 't' }])).toBe('(image)\nt');
    expect(toolResultText(undefined)).toBe('');
  });
});
