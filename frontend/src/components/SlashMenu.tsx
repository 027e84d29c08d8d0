// The menu a `/` at the start of the prompt opens: the project's, the user's and claude's built-in slash
// commands, filtered by what follows the `/`. The composer keeps the keyboard (↑ ↓ move, Enter or Tab
// choose, Esc close); a tap or click chooses too. Rows are at least 44 px high.

import { useEffect, useRef, useState } from 'react';
import { errorSentence } from '../api';
import { filterCommands, knownCommands, loadCommands, type MenuCommand } from '../slash';

const SOURCE_LABELS: Record<MenuCommand['source'], string> = { project: 'project', user: 'user', builtin: 'built-in' };

/** The commands for a project, asked for when the menu opens. */
export function useProjectCommands(projectPath: string | undefined, open: boolean) {
  const [state, setState] = useState<{ commands: MenuCommand[] | null; error: string | null }>({ commands: null, error: null });
  useEffect(() => {
    if (!open || !projectPath) return;
    let live = true;
    setState({ commands: knownCommands(projectPath) ?? null, error: null });
    loadCommands(projectPath).then(
      (commands) => live && setState({ commands, error: null }),
      (e: unknown) => live && setState((cur) => ({ commands: cur.commands, error: errorSentence(e) })),
    );
    return () => {
      live = false;
    };
  }, [projectPath, open]);
  return state;
}

interface Props {
  id: string;
  query: string;
  commands: MenuCommand[] | null;
  error: string | null;
  active: number;
  onActive: (index: number) => void;
  onChoose: (command: MenuCommand) => void;
}

export function matches(commands: MenuCommand[] | null, query: string): MenuCommand[] {
  return commands ? filterCommands(commands, query) : [];
}

export function SlashMenu({ id, query, commands, error, active, onActive, onChoose }: Props) {
  const list = useRef<HTMLUListElement | null>(null);
  const shown = matches(commands, query);
  useEffect(() => {
    list.current?.querySelector<HTMLElement>('[aria-selected="true"]')?.scrollIntoView({ block: 'nearest' });
  }, [active, query]);
  return (
    <div className="slash-menu" data-testid="slash-menu">
      {error && (
        <div className="slash-menu-note msg-error small" role="alert">
          Could not load the commands. {error}
        </div>
      )}
      {!commands && !error && <div className="slash-menu-note muted small">Loading commands…</div>}
      {commands && shown.length === 0 && (
        <div className="slash-menu-note muted small" data-testid="slash-menu-empty">
          No command matches /{query}
        </div>
      )}
      {shown.length > 0 && (
        <ul id={id} role="listbox" aria-label="Slash commands" ref={list}>
          {shown.map((c, i) => (
            <li
              key={`${c.source}:${c.name}`}
              id={`${id}-${i}`}
              role="option"
              aria-selected={i === active}
              className={`slash-item ${i === active ? 'is-active' : ''}`}
              data-testid="slash-item"
              data-name={c.name}
              data-source={c.source}
              // keep the focus (and the phone's keyboard) in the prompt box
              onMouseDown={(e) => e.preventDefault()}
              onMouseEnter={() => onActive(i)}
              onClick={() => onChoose(c)}
            >
              <span className="slash-item-head">
                <span className="slash-name">/{c.name}</span>
                {c.argument_hint && <span className="slash-hint muted">{c.argument_hint}</span>}
                <span className={`slash-source source-${c.source}`}>{SOURCE_LABELS[c.source]}</span>
              </span>
              {c.description && <span className="slash-description muted small">{c.description}</span>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
