// A unified diff, coloured line by line. Long lines scroll sideways inside the diff box only (never the
// page); on a phone the box is the full width of the pane.

export function lineClass(line: string): string {
  if (line.startsWith('+++') || line.startsWith('---')) return 'diff-file';
  if (line.startsWith('@@')) return 'diff-hunk';
  if (line.startsWith('+')) return 'diff-add';
  if (line.startsWith('-')) return 'diff-del';
  if (line.startsWith('diff ') || line.startsWith('index ') || line.startsWith('new file') || line.startsWith('deleted file'))
    return 'diff-meta';
  return 'diff-ctx';
}

export function DiffView({ diff, truncated }: { diff: string; truncated?: boolean }) {
  if (!diff) return <p className="muted small" data-testid="diff-empty">No changes.</p>;
  const lines = diff.endsWith('\n') ? diff.slice(0, -1).split('\n') : diff.split('\n');
  return (
    <div className="diff-box" data-testid="diff-view">
      <pre className="diff">
        {lines.map((line, i) => (
          <span key={i} className={`diff-line ${lineClass(line)}`}>
            {line || ' '}
            {'\n'}
          </span>
        ))}
      </pre>
      {truncated && <p className="muted small">The diff is too long and was cut.</p>}
    </div>
  );
}
