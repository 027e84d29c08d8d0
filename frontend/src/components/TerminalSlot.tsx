// Where the Terminal pane plugs into a session: the session bar's button, whether the server has
// terminals at all (`--no-terminal` answers 403: then neither shows), and the pane itself, loaded lazily
// (xterm.js is only fetched when a terminal is opened).

import { lazy, Suspense, useEffect, useState } from 'react';
import { api, ApiError } from '../api';

const TerminalPane = lazy(() => import('./TerminalPane'));

let available: Promise<boolean> | null = null;

/** Whether this server offers terminals (asked once per page). */
function terminalsAvailable(): Promise<boolean> {
  available ??= api.terminals().then(
    () => true,
    (e: unknown) => {
      const off = e instanceof ApiError && e.status === 403;
      if (!off) available = null; // a network failure: ask again next time
      return !off;
    },
  );
  return available;
}

/** True unless the server says terminals are off. */
export function useTerminalsAvailable(): boolean {
  const [on, setOn] = useState(false);
  useEffect(() => {
    let live = true;
    void terminalsAvailable().then((v) => live && setOn(v));
    return () => {
      live = false;
    };
  }, []);
  return on;
}

export function TerminalButton({ open, onToggle }: { open: boolean; onToggle: () => void }) {
  return (
    <button
      type="button"
      className="btn btn-small btn-ghost"
      data-testid="terminal-button"
      aria-pressed={open}
      title="A shell in this project's folder"
      onClick={onToggle}
    >
      Terminal
    </button>
  );
}

export function TerminalSlot({ projectPath, onClose }: { projectPath: string; onClose: () => void }) {
  return (
    <Suspense fallback={<p className="terminal-message">Loading the terminal…</p>}>
      <TerminalPane projectPath={projectPath} onClose={onClose} />
    </Suspense>
  );
}
