// The address of what is shown: `#session=<id>` for a session's tab, `#runs` for the Runs view, `#usage` for
// the Usage view, `#agents` for the Agents pane, nothing for home. A reload, a bookmark or a notification's
// link (`/#session=<id>`) opens that session again: a run the server lists, or else any session whose events
// it has (on a cluster's replica, a run whose worker is gone).

import { api } from './api';
import type { Controller } from './controller';
import type { StartEvent } from './events';
import type { AppState } from './reducer';

export function hashFor(state: Pick<AppState, 'active' | 'pane' | 'sessions'>): string {
  if (state.pane) return `#${state.pane}`;
  const id = state.active ? state.sessions[state.active]?.sessionId : null;
  return id ? `#session=${encodeURIComponent(id)}` : '';
}

export function sessionFromHash(hash: string): string | null {
  const m = /^#session=([^&]+)$/.exec(hash);
  if (!m) return null;
  const id = decodeURIComponent(m[1]);
  return /^[0-9a-fA-F-]{36}$/.test(id) ? id : null;
}

/** Keeps the address bar in step with what is shown (replaceState: no history entry per tab switch). */
export function syncLocation(state: AppState, loc: Pick<Location, 'hash' | 'pathname' | 'search'> = window.location): void {
  const want = hashFor(state);
  if (loc.hash === want || (want === '' && loc.hash === '')) return;
  try {
    history.replaceState(history.state, '', `${loc.pathname}${loc.search}${want}`);
  } catch {
    /* not allowed (sandboxed frame) */
  }
}

/** Opens what the address names, once at start-up (after the remembered tabs are back). */
export async function openFromLocation(controller: Controller, hash: string = window.location.hash): Promise<void> {
  if (hash === '#runs') {
    controller.showRuns();
    return;
  }
  if (hash === '#usage') {
    controller.showUsage();
    return;
  }
  if (hash === '#agents') {
    controller.showAgents();
    return;
  }
  const id = sessionFromHash(hash);
  if (!id) return;
  if (controller.activateSession(id)) return;
  try {
    const run = (await api.running()).find((r) => r.session_id === id);
    if (run) {
      controller.attach(id, run.project_path, null);
      return;
    }
    // not in the list (on a cluster, the worker that ran it may be gone): its events may be known
    const start = (await api.output(id)).find((e): e is StartEvent => e.type === 'start');
    if (start) controller.attach(id, start.project_path, null);
  } catch {
    /* offline, or a session the server does not know: the remembered tabs are what we have */
  }
}
