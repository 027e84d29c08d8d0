// Model choice: a select of the usual aliases plus "custom…" that reveals a free-text field.

import { useState } from 'react';

const PRESETS = ['sonnet', 'opus', 'haiku'];

export function ModelPicker({ value, onChange }: { value: string; onChange: (model: string) => void }) {
  const [custom, setCustom] = useState(value !== '' && !PRESETS.includes(value));
  const selectValue = custom ? '__custom' : value;
  return (
    <div className="model-picker">
      <label className="field">
        <span>Model</span>
        <select
          data-testid="model-select"
          value={selectValue}
          onChange={(e) => {
            const v = e.target.value;
            if (v === '__custom') {
              setCustom(true);
            } else {
              setCustom(false);
              onChange(v);
            }
          }}
        >
          <option value="">default</option>
          {PRESETS.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
          <option value="__custom">custom…</option>
        </select>
      </label>
      {custom && (
        <label className="field">
          <span>Model name</span>
          <input
            data-testid="model-input"
            value={value}
            placeholder="e.g. claude-sonnet-4-5"
            onChange={(e) => onChange(e.target.value)}
          />
        </label>
      )}
    </div>
  );
}
