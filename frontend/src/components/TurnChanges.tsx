// "What did this turn change": under each turn's result in the transcript, a collapsible "Changed N files"
// with the files and, once opened, the turn's unified diff (the working tree before its prompt against the
// tree at its result, committed or not). The n-th result of the transcript is the session's turn n; a
// project that is not a repository has no turns and shows nothing.

import { useEffect, useRef, useState } from 'react';
import { api, errorSentence, type TurnDiff, type TurnInfo } from '../api';
import { DiffView } from './DiffView';

/** Polls the session's turns while one of the first `results` turns is still waiting for its snapshot. */
export function useTurns(sessionId: string | null | undefined, results: number): Map<number, TurnInfo> {
  const [turns, setTurns] = useState<Map<number, TurnInfo>>(new Map());
  const tries = useRef(0);
  useEffect(() => {
    tries.current = 0;
  }, [results]);
  useEffect(() => {
    if (!sessionId || results === 0) return;
    let gone = false;
    let timer: number | undefined;
    const load = async () => {
      let list: TurnInfo[] = [];
      try {
        list = await api.turns(sessionId);
      } catch {
        list = [];
      }
      if (gone) return;
      setTurns(new Map(list.map((t) => [t.turn, t])));
      // the `after` snapshot is taken just after the result: ask again for a little while
      const waiting = list.length > 0 && list.some((t) => t.turn <= results && t.finished_at === null);
      const missing = list.length > 0 && list.length < results;
      if ((waiting || missing) && tries.current < 20) {
        tries.current += 1;
        timer = window.setTimeout(() => void load(), 500);
      }
    };
    void load();
    return () => {
      gone = true;
      if (timer !== undefined) window.clearTimeout(timer);
    };
  }, [sessionId, results]);
  return turns;
}

export function TurnChanges({ sessionId, turn }: { sessionId: string; turn: TurnInfo }) {
  const [diff, setDiff] = useState<TurnDiff | null>(null);
  const [error, setError] = useState<string | null>(null);
  const files = turn.files;
  if (!files || files.length === 0) return null;
  const onToggle = (e: React.SyntheticEvent<HTMLDetailsElement>) => {
    if (!e.currentTarget.open || diff) return;
    api.turnDiff(sessionId, turn.turn).then(setDiff, (err: unknown) => setError(errorSentence(err)));
  };
  return (
    <details className="turn-changes" data-testid="turn-changes" data-turn={turn.turn} onToggle={onToggle}>
      <summary>
        Changed {files.length} file{files.length === 1 ? '' : 's'}
      </summary>
      <ul className="turn-files">
        {files.map((f) => (
          <li key={f.path} data-testid="turn-file">
            <span className="git-kind">{f.kind}</span> {f.orig_path ? `${f.orig_path} → ` : ''}
            {f.path}
          </li>
        ))}
      </ul>
      {error && <p className="git-error" role="alert">{error}</p>}
      {diff ? <DiffView diff={diff.diff} truncated={diff.truncated} /> : !error && <p className="muted small">Loading the diff…</p>}
    </details>
  );
}
