// The view when no tab is selected: a short guide and the composer that starts a new session or
// continues the latest one in the chosen project directory.

import type { ImageAttachment } from '../events';
import { ClusterStatus } from './ClusterStatus';
import { Composer } from './Composer';

interface Props {
  path: string;
  /** Why the last start was refused (a directory that does not exist, …). */
  error?: string | null;
  onStart: (prompt: string, images: ImageAttachment[]) => Promise<boolean> | boolean | void;
  onContinue: (prompt: string) => Promise<boolean> | boolean | void;
}

export function HomeView({ path, error, onStart, onContinue }: Props) {
  const ready = path.trim().startsWith('/');
  return (
    <section className="home">
      <div className="home-intro">
        <h1>Claude Code, anywhere</h1>
        <p className="muted">
          {ready
            ? `New session in ${path.trim()}`
            : 'Choose a project (or type an absolute directory path), then write a prompt.'}
        </p>
        <ClusterStatus />
        {error && (
          <p className="msg-error" data-testid="start-error" role="alert">
            {error}
          </p>
        )}
      </div>
      <Composer
        placeholder={ready ? 'What should Claude do?' : 'Pick a project first'}
        disabled={!ready}
        sendLabel="Start"
        onSend={onStart}
        projectPath={ready ? path.trim() : undefined}
        extra={(text, clear) => (
          <button
            type="button"
            className="btn"
            data-testid="continue-button"
            title="Continue the latest session of this project"
            disabled={!ready || !text}
            onClick={() => {
              const r = onContinue(text);
              if (r instanceof Promise) void r.then((ok) => ok && clear());
              else if (r !== false) clear();
            }}
          >
            Continue
          </button>
        )}
      />
    </section>
  );
}
