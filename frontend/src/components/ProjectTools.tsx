// The project's panes, from the sidebar: its CLAUDE.md memory files and its MCP servers. The project is
// the one chosen in "New session" (a project picked from the list fills it in).

export type Pane = { kind: 'claude-md' | 'mcp'; projectPath: string };

export function ProjectTools({ projectPath, pane, onPane }: { projectPath: string; pane: Pane | null; onPane: (p: Pane | null) => void }) {
  const toggle = (kind: Pane['kind']) => onPane(pane?.kind === kind ? null : { kind, projectPath });
  return (
    <section className="panel project-tools" aria-label="Project tools" data-testid="project-tools">
      <div className="panel-head">
        <h2>Project</h2>
      </div>
      <div className="list-sub" title={projectPath}>
        {projectPath || 'Choose a project (or type its folder above) to see its CLAUDE.md; MCP servers of your own are listed without one.'}
      </div>
      <div className="project-tools-actions">
        <button
          type="button"
          className="btn btn-small"
          data-testid="open-claude-md"
          disabled={!projectPath}
          aria-pressed={pane?.kind === 'claude-md'}
          onClick={() => toggle('claude-md')}
        >
          CLAUDE.md
        </button>
        <button type="button" className="btn btn-small" data-testid="open-mcp" aria-pressed={pane?.kind === 'mcp'} onClick={() => toggle('mcp')}>
          MCP servers
        </button>
      </div>
    </section>
  );
}
