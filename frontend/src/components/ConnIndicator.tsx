// The per-tab connection indicator: text is exactly connected / reconnecting / closed (e2e relies on it).

import type { ConnState } from '../connection';

export function connLabel(state: ConnState): 'connected' | 'reconnecting' | 'closed' {
  if (state === 'connected') return 'connected';
  if (state === 'closed') return 'closed';
  return 'reconnecting'; // connecting for the first time counts as "not connected yet"
}

export function ConnIndicator({ state }: { state: ConnState }) {
  const label = connLabel(state);
  return (
    // nothing to show once the link is closed (a finished run): a grey "closed" read like an error
    <span className={`conn conn-${label}`} title={state === 'connecting' ? 'connecting' : label} hidden={label === 'closed'}>
      <span className="conn-dot" aria-hidden="true" />
      <span data-testid="conn-state">{label}</span>
    </span>
  );
}
