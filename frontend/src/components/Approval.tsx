// Tool approvals of live sessions: the card of a pending permission request (pinned above the prompt box,
// big Allow / Deny buttons, a countdown to its expiry, optional deny reason and edited input), the way a
// tool's input is previewed (the command for Bash, a line diff for Edit / MultiEdit, the content for Write,
// JSON otherwise), and the collapsed transcript entry once the request was resolved.

import { memo, useEffect, useState } from 'react';
import type { PermissionAnswer } from '../api';
import type { Item, PendingApproval, Resolution } from '../items';
import { safeStringify } from '../normalize';

// ---- line diff ----

export type DiffLine = { op: ' ' | '-' | '+'; text: string };

/** Above this many line pairs the diff is not aligned: all old lines out, all new lines in. */
const MAX_DIFF_CELLS = 250_000;

/** A simple line diff (longest common subsequence): unchanged lines ' ', removed '-', added '+'. */
export function lineDiff(before: string, after: string): DiffLine[] {
  const a = before === '' ? [] : before.split('\n');
  const b = after === '' ? [] : after.split('\n');
  if (a.length * b.length > MAX_DIFF_CELLS) {
    return [...a.map((text) => ({ op: '-' as const, text })), ...b.map((text) => ({ op: '+' as const, text }))];
  }
  // lcs[i][j] = LCS length of a[i..] and b[j..]
  const lcs: Uint32Array[] = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      out.push({ op: ' ', text: a[i] });
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      out.push({ op: '-', text: a[i++] });
    } else {
      out.push({ op: '+', text: b[j++] });
    }
  }
  while (i < a.length) out.push({ op: '-', text: a[i++] });
  while (j < b.length) out.push({ op: '+', text: b[j++] });
  return out;
}

function Diff({ before, after }: { before: string; after: string }) {
  const lines = lineDiff(before, after);
  return (
    <pre className="diff" data-testid="approval-diff">
      {lines.map((l, i) => (
        <span key={i} className={l.op === '-' ? 'diff-del' : l.op === '+' ? 'diff-add' : 'diff-ctx'}>
          {l.op} {l.text}
          {'\n'}
        </span>
      ))}
    </pre>
  );
}

// ---- tool input preview ----

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const rec = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** What the tool is about to do, shaped by tool: the command, a diff, the file content, or JSON. */
export function ToolPreview({ toolName, input }: { toolName: string; input: unknown }) {
  const o = rec(input);
  const filePath = str(o.file_path) ?? str(o.notebook_path) ?? str(o.path);
  switch (toolName) {
    case 'Bash': {
      const command = str(o.command);
      if (command === null) break;
      return (
        <div className="tool-preview">
          <pre className="approval-command" data-testid="approval-command">
            <code>{command}</code>
          </pre>
          {str(o.description) && <div className="muted small">{str(o.description)}</div>}
        </div>
      );
    }
    case 'Edit': {
      if (str(o.old_string) === null && str(o.new_string) === null) break;
      return (
        <div className="tool-preview">
          {filePath && <div className="approval-file">{filePath}</div>}
          <Diff before={str(o.old_string) ?? ''} after={str(o.new_string) ?? ''} />
          {o.replace_all === true && <div className="muted small">every occurrence</div>}
        </div>
      );
    }
    case 'MultiEdit': {
      if (!Array.isArray(o.edits)) break;
      return (
        <div className="tool-preview">
          {filePath && <div className="approval-file">{filePath}</div>}
          {o.edits.map((e, i) => (
            <Diff key={i} before={str(rec(e).old_string) ?? ''} after={str(rec(e).new_string) ?? ''} />
          ))}
        </div>
      );
    }
    case 'Write': {
      const content = str(o.content);
      if (content === null) break;
      return (
        <div className="tool-preview">
          {filePath && <div className="approval-file">{filePath}</div>}
          <pre className="approval-content" data-testid="approval-content">
            {content}
          </pre>
        </div>
      );
    }
  }
  return (
    <div className="tool-preview">
      <pre className="approval-json">{safeStringify(input)}</pre>
    </div>
  );
}

// ---- countdown ----

export function formatRemaining(ms: number): string {
  if (ms <= 0) return 'expiring';
  const total = Math.ceil(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

function Countdown({ expiresAt }: { expiresAt: number }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const left = expiresAt - now;
  return (
    <span className={`countdown ${left < 60_000 ? 'urgent' : ''}`} data-testid="approval-countdown" title="Denied automatically when this runs out">
      {formatRemaining(left)} left
    </span>
  );
}

// ---- the pending card ----

interface CardProps {
  approval: PendingApproval;
  onRespond: (answer: PermissionAnswer) => Promise<unknown> | unknown;
}

/** Enough time for the `permission_resolved` to arrive; after that the buttons work again. */
const BUSY_MS = 8000;

export const ApprovalCard = memo(function ApprovalCard({ approval, onRespond }: CardProps) {
  const [reason, setReason] = useState('');
  const [editing, setEditing] = useState(false);
  const [edited, setEdited] = useState(() => safeStringify(approval.input));
  const [inputError, setInputError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!busy) return;
    const t = setTimeout(() => setBusy(false), BUSY_MS);
    return () => clearTimeout(t);
  }, [busy]);

  const rules = approval.rememberRules ?? [];

  const answer = async (behavior: 'allow' | 'deny', remember = false) => {
    const a: PermissionAnswer = { behavior };
    if (behavior === 'allow' && remember) a.remember = true;
    if (behavior === 'allow' && editing) {
      try {
        a.updated_input = JSON.parse(edited);
      } catch (e) {
        setInputError(`Not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
    }
    if (behavior === 'deny' && reason.trim()) a.message = reason.trim();
    setInputError(null);
    setBusy(true);
    const r = await onRespond(a);
    if (r === 'failed') setBusy(false);
  };

  return (
    <div className="panel approval-card" data-testid="approval-card" data-request-id={approval.requestId} role="group" aria-label={`Approve ${approval.toolName}`}>
      <div className="approval-head">
        <span className="approval-title">
          Allow <strong data-testid="approval-tool">{approval.toolName}</strong>?
        </span>
        {approval.expiresAt !== null && <Countdown expiresAt={approval.expiresAt} />}
      </div>
      {approval.description && approval.toolName !== 'Bash' && <div className="muted small">{approval.description}</div>}
      <div className="approval-body">
        {editing ? (
          <label className="field">
            <span>Input (JSON) sent with Allow</span>
            <textarea
              className="approval-edit"
              data-testid="approval-edit-input"
              value={edited}
              rows={Math.min(12, Math.max(3, edited.split('\n').length))}
              spellCheck={false}
              onChange={(e) => setEdited(e.target.value)}
            />
          </label>
        ) : (
          <ToolPreview toolName={approval.toolName} input={approval.input} />
        )}
        {inputError && (
          <div className="msg-error small" role="alert">
            {inputError}
          </div>
        )}
      </div>
      <div className="approval-options">
        <input
          className="approval-reason"
          data-testid="deny-message"
          aria-label="Reason for denying (optional)"
          placeholder="Reason if denied (optional)"
          value={reason}
          onChange={(e) => setReason(e.target.value)}
        />
        <button
          type="button"
          className="btn btn-ghost btn-small"
          data-testid="edit-input-toggle"
          aria-pressed={editing}
          onClick={() => {
            setEditing((v) => !v);
            setInputError(null);
          }}
        >
          {editing ? 'Preview' : 'Edit input'}
        </button>
      </div>
      <div className="approval-actions">
        <button type="button" className="btn btn-deny" data-testid="deny-button" disabled={busy} onClick={() => void answer('deny')}>
          Deny
        </button>
        {rules.length > 0 && (
          <button
            type="button"
            className="btn btn-allow-always"
            data-testid="always-allow-button"
            disabled={busy}
            title={`Allow, and keep ${rules.join(', ')} for this project: claude will not ask again`}
            onClick={() => void answer('allow', true)}
          >
            Always allow
          </button>
        )}
        <button type="button" className="btn btn-allow" data-testid="approve-button" disabled={busy} onClick={() => void answer('allow')}>
          Allow
        </button>
      </div>
      {rules.length > 0 && (
        <div className="approval-remember muted small" data-testid="always-allow-rules">
          Always allow keeps for this project:{' '}
          {rules.map((r, i) => (
            <span key={r}>
              {i > 0 && ', '}
              <code className="rule">{r}</code>
            </span>
          ))}
        </div>
      )}
    </div>
  );
});

// ---- in the transcript ----

export function resolutionLabel(r: Resolution | null, orphaned?: boolean): string {
  if (!r) return orphaned ? 'Not answered (run ended)' : 'Waiting for approval';
  if (r.behavior === 'allow') {
    const base = r.by === 'viewer' ? 'Allowed' : `Allowed (by ${r.by})`;
    return r.remembered ? `${base} · remembered` : base;
  }
  return `Denied (by ${r.by})`;
}

type ApprovalItem = Extract<Item, { kind: 'approval' }>;

/** The transcript entry of a permission request: a pointer to the pinned card while pending, a collapsed
 *  record once resolved. */
export function ApprovalEntry({ item }: { item: ApprovalItem }) {
  if (!item.resolution && !item.orphaned) {
    return (
      <div className="msg approval-waiting" data-testid="approval-waiting" data-request-id={item.requestId}>
        Waiting for your approval: <strong>{item.toolName}</strong> (below)
      </div>
    );
  }
  const r = item.resolution;
  const cls = r?.behavior === 'allow' ? 'is-allowed' : 'is-denied';
  return (
    <details className={`msg approval-resolved ${cls}`} data-testid="approval-resolved" data-request-id={item.requestId}>
      <summary>
        <span className="approval-verdict">{resolutionLabel(r, item.orphaned)}</span> · {item.toolName}
        {r?.message ? ` · ${r.message}` : ''}
      </summary>
      {item.description && <div className="muted small">{item.description}</div>}
      <ToolPreview toolName={item.toolName} input={item.input} />
    </details>
  );
}
