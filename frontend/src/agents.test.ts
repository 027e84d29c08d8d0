// The Agents pane's figures: a run's duration (claude's own when it reported one, else the wall clock),
// tokens and cost as the run history shows them, and the icon glyphs.
import { describe, expect, it } from 'vitest';
import type { AgentRun } from './api';
import { formatCost, formatTokens, glyphOf, runDuration } from './components/AgentsView';

const run = (over: Partial<AgentRun>): AgentRun => ({
  id: 1, agent_id: 1, agent_name: 'a', agent_icon: 'bot', session_id: 's', project_path: '/p', task: 't', model: 'opus', live: false,
  status: 'running', started_at: 1000, ended_at: null, duration_ms: null, input_tokens: null, output_tokens: null,
  cache_creation_tokens: null, cache_read_tokens: null, total_tokens: null, cost_usd: null, ...over,
});

describe('agent run figures', () => {
  it('duration: claude\'s figure first, else the wall clock (still running: until now)', () => {
    expect(runDuration(run({ duration_ms: 1234, ended_at: 2000 }))).toBe('1.2 s');
    expect(runDuration(run({ ended_at: 1042 }))).toBe('42 s');
    expect(runDuration(run({}), 1000 + 125)).toBe('2 min 5 s');
    expect(runDuration(run({ ended_at: 1000 + 3 * 3600 + 120 }))).toBe('3 h 2 min');
  });
  it('tokens and cost read at a glance; unknown is a dash', () => {
    expect([formatTokens(15), formatTokens(12_345), formatTokens(2_500_000), formatTokens(null)]).toEqual(['15', '12.3k', '2.5M', '—']);
    expect([formatCost(0.0001), formatCost(1.234), formatCost(null)]).toEqual(['$0.0001', '$1.23', '—']);
  });
  it('icons: Opcode\'s names, an unknown one shown as the bot', () => {
    expect(glyphOf('shield')).toBe('🛡️');
    expect(glyphOf('sparkles')).toBe('🤖');
  });
});
