// Settings: notifications on this device (Web Push). Turning them on asks the browser's permission,
// subscribes with the server's key and tells the server this device's subscription; "Send a test" asks the
// server for a test push; "Turn off" deletes the subscription.

import { useEffect, useState } from 'react';
import { errorSentence } from '../api';
import { browserPushEnv, disablePush, enablePush, pushSubscribed, pushUnavailable, testPush, type PushEnv } from '../push';

type Status = 'checking' | 'off' | 'on' | 'unavailable';

export function NotificationsPanel({ env = browserPushEnv() }: { env?: PushEnv }) {
  const unavailable = pushUnavailable(env);
  const [status, setStatus] = useState<Status>(unavailable ? 'unavailable' : 'checking');
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (unavailable) return;
    let gone = false;
    pushSubscribed(env)
      .then((on) => !gone && setStatus(on ? 'on' : 'off'))
      .catch(() => !gone && setStatus('off'));
    return () => {
      gone = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const act = async (what: () => Promise<void>, done: string, next?: Status) => {
    setBusy(true);
    setError(null);
    setNote(null);
    try {
      await what();
      if (next) setStatus(next);
      setNote(done);
    } catch (e) {
      setError(errorSentence(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="panel notifications" data-testid="notifications-panel" data-status={status} aria-label="Notifications">
      <div className="panel-head">
        <h2>Notifications</h2>
      </div>
      {status === 'unavailable' && <div className="muted small">{unavailable}</div>}
      {status === 'off' && (
        <>
          <div className="muted small">Get told on this device when a session needs your approval or is done (Allow / Deny from the notification).</div>
          <button type="button" className="btn btn-primary" data-testid="push-enable" disabled={busy} onClick={() => void act(() => enablePush(env), 'Notifications are on for this device.', 'on')}>
            Enable notifications on this device
          </button>
        </>
      )}
      {status === 'on' && (
        <div className="notifications-actions">
          <span className="small">On for this device</span>
          <button type="button" className="btn btn-small" data-testid="push-test" disabled={busy} onClick={() => void act(() => testPush(), 'Test sent: it should show in a moment.')}>
            Send a test
          </button>
          <button type="button" className="btn btn-small btn-ghost" data-testid="push-disable" disabled={busy} onClick={() => void act(() => disablePush(env), 'Notifications are off for this device.', 'off')}>
            Turn off
          </button>
        </div>
      )}
      {note && (
        <div className="small" data-testid="push-note" role="status">
          {note}
        </div>
      )}
      {error && (
        <div className="msg-error small" data-testid="push-error" role="alert">
          {error}
        </div>
      )}
    </section>
  );
}
