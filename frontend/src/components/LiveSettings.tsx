// The live session's model and permission mode, switchable between turns: two selects under the session
// bar, disabled while a turn runs (the server refuses a switch then: "between turns only"). What was
// switched shows in every viewer's transcript (`settings_changed`), and these selects follow it.

import type { PermissionMode } from '../events';
import { PERMISSION_MODES } from './NewSession';

const MODEL_PRESETS = ['sonnet', 'opus', 'haiku'];

interface Props {
  model: string | null;
  permissionMode: string | null;
  /** A turn is running (or waits for an answer): nothing can change now. */
  busy: boolean;
  onChange: (change: { model?: string; permission_mode?: PermissionMode }) => void;
}

export function LiveSettings({ model, permissionMode, busy, onChange }: Props) {
  const models = [...new Set([...(model ? [model] : []), ...MODEL_PRESETS])];
  const mode = permissionMode ?? 'default';
  const modes = PERMISSION_MODES.some((m) => m.value === mode) ? PERMISSION_MODES : [...PERMISSION_MODES, { value: mode as PermissionMode, label: mode }];
  const why = busy ? 'Between turns only: wait for the reply, or interrupt' : undefined;
  return (
    <div className="session-bar live-settings" data-testid="live-settings" role="group" aria-label="Live session settings">
      <label className="live-setting" title={why ?? 'The model claude uses from the next turn on'}>
        <span className="muted small">Model</span>
        <select
          data-testid="live-model-select"
          value={model ?? ''}
          disabled={busy}
          onChange={(e) => e.target.value && onChange({ model: e.target.value })}
        >
          {!model && <option value="">default</option>}
          {models.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </label>
      <label className="live-setting" title={why ?? 'What claude may do without asking'}>
        <span className="muted small">Mode</span>
        <select
          data-testid="live-mode-select"
          value={mode}
          disabled={busy}
          onChange={(e) => onChange({ permission_mode: e.target.value as PermissionMode })}
        >
          {modes.map((m) => (
            <option key={m.value} value={m.value}>
              {m.label}
            </option>
          ))}
        </select>
      </label>
      {busy && <span className="muted small live-settings-why">between turns only</span>}
    </div>
  );
}
