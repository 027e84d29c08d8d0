// The view when no tab is selected: a short guide and the composer that starts a new session or
// continues the latest one in the chosen project directory.

import { Composer } from './Composer';

interface Props {
  path: string;
  onStart: (prompt: string) => void;
  onContinue: (prompt: string) => void;
}

export function HomeView({ path, onStart, onContinue }: Props) {
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
      </div>
      <Composer
        placeholder={ready ? 'What should Claude do?' : 'Pick a project first'}
        disabled={!ready}
        sendLabel="Start"
        onSend={onStart}
        extra={(text, clear) => (
          <button
            type="button"
            className="btn"
            data-testid="continue-button"
            title="Continue the latest session of this project"
            disabled={!ready || !text}
            onClick={() => {
              onContinue(text);
              clear();
            }}
          >
            Continue
          </button>
        )}
      />
    </section>
  );
}
