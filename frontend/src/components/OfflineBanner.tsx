// A thin bar while the server cannot be reached: what is shown is what was last known, and everything
// reconnects by itself (sockets retry with backoff; prompts and answers wait in the outbox).

import { useSyncExternalStore } from 'react';
import { connectivity } from '../api';

export function OfflineBanner() {
  const offline = useSyncExternalStore(
    (fn) => connectivity.subscribe(fn),
    () => connectivity.offline,
  );
  if (!offline) return null;
  return (
    <div className="offline-banner" data-testid="offline-banner" role="status">
      Offline: showing what was last known. It reconnects by itself; what you send waits and goes out then.
    </div>
  );
}
