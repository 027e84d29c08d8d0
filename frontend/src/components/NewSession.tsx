// Where a run begins: the project directory (any path, with known projects suggested) and the model.
// The prompt itself is typed in the home composer (HomeView).

import type { Project } from '../events';
import { ModelPicker } from './ModelPicker';

interface Props {
  path: string;
  model: string;
  projects: Project[] | null;
  onPath: (path: string) => void;
  onModel: (model: string) => void;
}

export function NewSession({ path, model, projects, onPath, onModel }: Props) {
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
    </section>
  );
}
