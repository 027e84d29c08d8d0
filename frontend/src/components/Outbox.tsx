// Prompts claude has not received yet, pinned above the prompt box: ours waiting for a connection or on
// their way, and every prompt the server queued behind the running turn (from any viewer). Queued and
// waiting ones can be edited or taken back until they go out; a refused one can be sent again.

import { useState } from 'react';
import type { Outgoing } from '../items';

interface Props {
  outbox: Outgoing[];
  /** The session's process runs (a queued prompt goes out when the turn ends), else on the next resume. */
  running: boolean;
  onEdit: (clientId: string, text: string) => void;
  onRemove: (clientId: string) => void;
  onRetry: (clientId: string) => void;
}

export function stateText(o: Outgoing, running: boolean): string {
  switch (o.state) {
    case 'waiting':
      return 'Waiting for the connection: goes out when it is back';
    case 'sending':
      return 'Sending…';
    case 'queued':
      return running ? 'Queued: goes out when the current turn ends' : 'Queued: goes out when the session is resumed';
    case 'failed':
      return o.error ?? 'Not sent.';
  }
}

export function Outbox({ outbox, running, onEdit, onRemove, onRetry }: Props) {
  if (outbox.length === 0) return null;
  return (
    <div className="outbox" data-testid="outbox" aria-label="Prompts not sent yet" aria-live="polite">
      {outbox.map((o) => (
        <OutboxItem key={o.clientId} o={o} running={running} onEdit={onEdit} onRemove={onRemove} onRetry={onRetry} />
      ))}
    </div>
  );
}

function OutboxItem({ o, running, onEdit, onRemove, onRetry }: { o: Outgoing; running: boolean } & Omit<Props, 'outbox' | 'running'>) {
  const [editing, setEditing] = useState<string | null>(null);
  const editable = o.state === 'queued' || o.state === 'waiting' || o.state === 'failed';
  return (
    <div className={`outbox-item outbox-${o.state}`} data-testid="queued-prompt" data-state={o.state} data-client-id={o.clientId}>
      {editing === null ? (
        <div className="outbox-text" data-testid="queued-text">
          {o.text}
        </div>
      ) : (
        <textarea
          className="outbox-edit"
          data-testid="queued-edit-input"
          aria-label="Edit the queued prompt"
          value={editing}
          rows={Math.min(5, Math.max(2, editing.split('\n').length))}
          onChange={(e) => setEditing(e.target.value)}
        />
      )}
      <div className="outbox-foot">
        <span className={`outbox-state ${o.state === 'failed' ? 'is-error' : ''}`} data-testid="queued-state">
          {stateText(o, running)}
        </span>
        <span className="outbox-actions">
          {editing !== null ? (
            <>
              <button
                type="button"
                className="btn btn-small btn-primary"
                data-testid="queued-save"
                disabled={!editing.trim()}
                onClick={() => {
                  onEdit(o.clientId, editing.trim());
                  setEditing(null);
                }}
              >
                Save
              </button>
              <button type="button" className="btn btn-small" onClick={() => setEditing(null)}>
                Keep
              </button>
            </>
          ) : (
            <>
              {o.state === 'failed' && (
                <button type="button" className="btn btn-small btn-primary" data-testid="queued-retry" onClick={() => onRetry(o.clientId)}>
                  Send again
                </button>
              )}
              {editable && (
                <button type="button" className="btn btn-small" data-testid="queued-edit" onClick={() => setEditing(o.text)}>
                  Edit
                </button>
              )}
              <button type="button" className="btn btn-small" data-testid="queued-remove" onClick={() => onRemove(o.clientId)}>
                Remove
              </button>
            </>
          )}
        </span>
      </div>
    </div>
  );
}
