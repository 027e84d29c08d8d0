// Summary of claude's final `result` line: outcome, duration, turns, cost and token usage.

import { memo } from 'react';
import type { ItemBody } from '../items';

/** The fields of a `result` item that the summary shows. */
export type ResultProps = Omit<Extract<ItemBody, { kind: 'result' }>, 'kind' | 'text'>;

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export function formatCost(usd: number): string {
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

export const ResultSummary = memo(function ResultSummary(p: ResultProps) {
  const parts: string[] = [];
  if (p.durationMs !== null) parts.push(formatDuration(p.durationMs));
  if (p.numTurns !== null) parts.push(`${p.numTurns} turn${p.numTurns === 1 ? '' : 's'}`);
  if (p.costUsd !== null) parts.push(formatCost(p.costUsd));
  if (p.usage) {
    const u = p.usage;
    const tok = [`in ${u.input_tokens ?? 0}`, `out ${u.output_tokens ?? 0}`];
    if (u.cache_read_input_tokens) tok.push(`cache read ${u.cache_read_input_tokens}`);
    if (u.cache_creation_input_tokens) tok.push(`cache write ${u.cache_creation_input_tokens}`);
    parts.push(`${tok.join(' / ')} tokens`);
  }
  if (p.interrupted) {
    return (
      <div className="result-summary is-interrupted" data-testid="result-summary" data-interrupted="true">
        <strong>⏸ Interrupted</strong>
        <span> · you stopped this turn; the session is still open</span>
      </div>
    );
  }
  const outcome = p.isError ? `error${p.subtype && p.subtype !== 'success' ? ` (${p.subtype})` : ''}` : 'done';
  return (
    <div className={`result-summary ${p.isError ? 'is-error' : ''}`} data-testid="result-summary">
      <strong>{p.isError ? '✗' : '✓'} {outcome}</strong>
      {parts.length > 0 && <span> · {parts.join(' · ')}</span>}
    </div>
  );
});
