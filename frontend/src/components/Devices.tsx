// Devices and security: every paired device (when and from where it was last seen; rename, revoke), "Pair a
// device" (a QR code of a one-time link, valid a few minutes), rotating the token, and the audit trail
// ("Activity": who started, answered, ended or cancelled what).

import { useCallback, useEffect, useState } from 'react';
import { api, errorSentence, type AuditEntry, type Device, type PairingLink } from '../api';

function when(unix: number): string {
  return new Date(unix * 1000).toLocaleString();
}

/** An SVG QR code from the server, as an image (no markup of the server's is put in the page). */
function Qr({ svg, label, testId }: { svg: string | null; label: string; testId: string }) {
  if (!svg) return null;
  return <img className="qr" data-testid={testId} alt={label} src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`} />;
}

function DeviceRow({ device, onChanged, onError }: { device: Device; onChanged: () => void; onError: (e: string | null) => void }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(device.name);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);

  const act = async (what: () => Promise<unknown>) => {
    setBusy(true);
    onError(null);
    try {
      await what();
      onChanged();
    } catch (e) {
      onError(errorSentence(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <li className="device-row" data-testid="device-row" data-device-id={device.id} data-current={device.current ? 'true' : 'false'}>
      <div className="device-main">
        {editing ? (
          <form
            className="device-rename"
            onSubmit={(e) => {
              e.preventDefault();
              void act(async () => {
                await api.renameDevice(device.id, name);
                setEditing(false);
              });
            }}
          >
            <input className="input" data-testid="device-name-input" value={name} maxLength={64} onChange={(e) => setName(e.target.value)} aria-label="Device name" />
            <button type="submit" className="btn btn-small" data-testid="device-name-save" disabled={busy}>
              Save
            </button>
          </form>
        ) : (
          <div className="device-name" data-testid="device-name">
            {device.name}
            {device.current && <span className="device-this" data-testid="device-current"> · this device</span>}
          </div>
        )}
        <div className="muted small">
          Last seen {when(device.last_seen_at)} from {device.last_seen_addr} · paired {when(device.paired_at)}
        </div>
      </div>
      <div className="device-actions">
        {!editing && (
          <button type="button" className="btn btn-small btn-ghost" data-testid="device-rename" onClick={() => setEditing(true)}>
            Rename
          </button>
        )}
        {confirming ? (
          <button type="button" className="btn btn-small btn-danger" data-testid="device-revoke-confirm" disabled={busy} onClick={() => void act(() => api.revokeDevice(device.id))}>
            Revoke {device.current ? 'this device' : 'it'}
          </button>
        ) : (
          <button type="button" className="btn btn-small btn-danger-outline" data-testid="device-revoke" onClick={() => setConfirming(true)}>
            Revoke
          </button>
        )}
      </div>
    </li>
  );
}

export function DevicesPage({ onClose, onActivity }: { onClose: () => void; onActivity: () => void }) {
  const [devices, setDevices] = useState<Device[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [link, setLink] = useState<PairingLink | null>(null);
  const [rotating, setRotating] = useState(false);
  const [rotated, setRotated] = useState<{ url: string; qr_svg: string | null } | null>(null);

  const load = useCallback(async () => {
    try {
      setDevices((await api.devices()).devices);
    } catch (e) {
      setError(errorSentence(e));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const pair = async () => {
    setError(null);
    try {
      setLink(await api.pairingLink());
    } catch (e) {
      setError(errorSentence(e));
    }
  };

  const rotate = async () => {
    setError(null);
    setRotating(false);
    try {
      setRotated(await api.rotateToken());
    } catch (e) {
      setError(errorSentence(e));
    }
  };

  return (
    <section className="security-page" data-testid="devices-page" aria-label="Devices">
      <div className="rules-head">
        <h2>Devices</h2>
        <div className="security-nav">
          <button type="button" className="btn btn-small" data-testid="activity-open" onClick={onActivity}>
            Activity
          </button>
          <button type="button" className="btn btn-small" data-testid="devices-close" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
      <p className="muted small">
        Each browser that opened the server's link or a pairing link has a credential of its own. Revoking one ends its open
        connections at once.
      </p>
      {error && (
        <div className="msg-error small" data-testid="devices-error" role="alert">
          {error}
        </div>
      )}
      {devices === null && !error && <p className="muted">Loading…</p>}
      {devices && (
        <ul className="list device-list" data-testid="device-list">
          {devices.map((d) => (
            <DeviceRow key={d.id} device={d} onChanged={() => void load()} onError={setError} />
          ))}
        </ul>
      )}
      <div className="panel">
        <div className="panel-head">
          <h2>Pair a device</h2>
        </div>
        <div className="muted small">A link for one browser, valid for a few minutes: scan the code with the phone, or open the link there.</div>
        <button type="button" className="btn btn-primary" data-testid="pair-device" onClick={() => void pair()}>
          {link ? 'Make a new link' : 'Pair a device'}
        </button>
        {link && (
          <div className="pairing" data-testid="pairing-link" data-url={link.url}>
            <Qr svg={link.qr_svg} label="QR code of the pairing link" testId="pairing-qr" />
            <code className="long small" data-testid="pairing-url">
              {link.url}
            </code>
            <div className="muted small">Valid until {new Date(link.expires_at * 1000).toLocaleTimeString()}, once.</div>
          </div>
        )}
      </div>
      <div className="panel">
        <div className="panel-head">
          <h2>Token</h2>
        </div>
        <div className="muted small">
          The token pairs browsers and lets the CLI and scripts in. Rotating it makes the old one stop working; paired devices stay
          paired.
        </div>
        {rotating ? (
          <button type="button" className="btn btn-danger" data-testid="rotate-token-confirm" onClick={() => void rotate()}>
            Rotate now: the old token stops working
          </button>
        ) : (
          <button type="button" className="btn btn-danger-outline" data-testid="rotate-token" onClick={() => setRotating(true)}>
            Rotate the token
          </button>
        )}
        {rotated && (
          <div className="pairing" data-testid="rotated-token">
            <Qr svg={rotated.qr_svg} label="QR code of the new token URL" testId="rotated-qr" />
            <code className="long small" data-testid="rotated-url">
              {rotated.url}
            </code>
            <div className="muted small">Shown once: the server keeps it in its data dir (the file token).</div>
          </div>
        )}
      </div>
    </section>
  );
}

const ACTIONS: Record<string, string> = {
  run_started: 'started a run',
  approval_answered: 'answered an approval',
  session_ended: 'ended a session',
  session_cancelled: 'cancelled a run',
  session_interrupted: 'interrupted a turn',
  device_paired: 'was paired',
  device_renamed: 'renamed a device',
  device_revoked: 'revoked a device',
  pairing_link_created: 'made a pairing link',
  token_rotated: 'rotated the token',
  file_written: 'wrote a file',
  file_renamed: 'renamed a file',
  file_deleted: 'deleted a file',
  git_committed: 'committed',
  git_discarded: 'discarded changes',
  git_switched: 'switched branch',
  terminal_opened: 'opened a terminal',
  claude_md_saved: 'saved a CLAUDE.md',
  mcp_server_added: 'added an MCP server',
  mcp_server_removed: 'removed an MCP server',
  session_forked: 'forked a session',
  files_rewound: 'restored files from a checkpoint',
};

export function AuditPage({ onClose, onDevices }: { onClose: () => void; onDevices: () => void }) {
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.audit(200).then(setEntries, (e) => setError(errorSentence(e)));
  }, []);
  return (
    <section className="security-page" data-testid="audit-page" aria-label="Activity">
      <div className="rules-head">
        <h2>Activity</h2>
        <div className="security-nav">
          <button type="button" className="btn btn-small" data-testid="devices-open-from-audit" onClick={onDevices}>
            Devices
          </button>
          <button type="button" className="btn btn-small" data-testid="audit-close" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
      <p className="muted small">Who did what, when and from where (never what was typed).</p>
      {error && (
        <div className="msg-error small" role="alert">
          {error}
        </div>
      )}
      {entries && entries.length === 0 && <p className="muted">Nothing yet.</p>}
      {entries && (
        <ul className="list audit-list">
          {entries.map((e) => (
            <li key={e.id} className="audit-row" data-testid="audit-row" data-action={e.action} data-actor-kind={e.actor_kind}>
              <div>
                <b>{e.actor_kind === 'token' ? 'The token' : e.actor}</b> {ACTIONS[e.action] ?? e.action}
                {e.target && <code className="long small"> {e.target}</code>}
              </div>
              <div className="muted small">
                {when(e.at)} · {e.addr}
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
