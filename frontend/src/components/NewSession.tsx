// Where a run begins: the project directory (any path, with known projects suggested), the model, and
// whether it is a live session (one claude process across turns, tools approved from here) with which
// permission mode. The prompt itself is typed in the home composer (HomeView).

import type { PermissionMode, Project } from '../events';
import { ModelPicker } from './ModelPicker';

interface Props {
  path: string;
  model: string;
  projects: Project[] | null;
  onPath: (path: string) => void;
  onModel: (model: string) => void;
  live: boolean;
  onLive: (live: boolean) => void;
  permissionMode: PermissionMode;
  onPermissionMode: (mode: PermissionMode) => void;
}

export const PERMISSION_MODES: { value: PermissionMode; label: string }[] = [
  { value: 'default', label: 'default (ask for risky tools)' },
  { value: 'acceptEdits', label: 'acceptEdits (edits allowed)' },
  { value: 'plan', label: 'plan (no changes)' },
];

export function NewSession({ path, model, projects, onPath, onModel, live, onLive, permissionMode, onPermissionMode }: Props) {
  return (
    <section className="panel new-session" aria-label="New session">
      <label className="field">
        <span>Project directory</span>
        <input
          data-testid="project-path-input"
          list="project-paths"
          value={path}
          placeholder="/path/to/project"
          autoCapitalize="off"
          autoCorrect="off"
          spellCheck={false}
          onChange={(e) => onPath(e.target.value)}
        />
        <datalist id="project-paths">
          {projects?.map((p) => <option key={p.id} value={p.path} />)}
        </datalist>
      </label>
      <ModelPicker value={model} onChange={onModel} />
      <label className="toggle">
        <input type="checkbox" data-testid="live-toggle" checked={live} onChange={(e) => onLive(e.target.checked)} />
        <span>Live session (approve tools from here)</span>
      </label>
      {live && (
        <label className="field">
          <span>Permission mode</span>
          <select
            data-testid="permission-mode-select"
            value={permissionMode}
            onChange={(e) => onPermissionMode(e.target.value as PermissionMode)}
          >
            {PERMISSION_MODES.map((m) => (
              <option key={m.value} value={m.value}>
                {m.label}
              </option>
            ))}
          </select>
        </label>
      )}
    </section>
  );
}
