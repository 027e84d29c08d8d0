// Entry point: builds the store and controller, installs the e2e debug hook, renders the app.

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './components/App';
import { dropAllSockets, nudgeAllLinks, reportVisibilityAll, setVisibilityReporter } from './connection';
import { AppContext } from './context';
import { Controller, wsBaseUrl } from './controller';
import { RunsFeed } from './feed';
import { registerServiceWorker } from './pwa';
import { visibilityMessage } from './push';
import { openFromLocation } from './route';
import { initialState, reducer, type Action, type AppState } from './reducer';
import { createStore } from './store';
import './styles.css';

const store = createStore<AppState, Action>(reducer, initialState);
let storage: Storage | null = null;
try {
  storage = window.localStorage;
} catch {
  storage = null;
}
const controller = new Controller(store, { baseUrl: wsBaseUrl(), storage });
const feed = new RunsFeed();

declare global {
  interface Window {
    __opcodeDebug?: { dropSockets: () => number; state: () => AppState };
  }
}
window.__opcodeDebug = { dropSockets: dropAllSockets, state: store.getState };

// A phone waking up: reconnect at once instead of waiting out the backoff.
// What waits for the connection (prompts, answers) goes out as soon as it is back.
const wake = () => {
  nudgeAllLinks();
  void controller.flushWaiting();
  feed.refresh();
};
window.addEventListener('online', wake);
document.addEventListener('visibilitychange', () => {
  reportVisibilityAll();
  if (document.visibilityState === 'visible') wake();
});
// Web Push: each socket says whether this device is watching (no push while a visible page is).
setVisibilityReporter(() => visibilityMessage());
// A tapped notification focuses this page and names what to open (`#session=<id>`).
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.addEventListener('message', (e: MessageEvent) => {
    const d = e.data as { type?: string; hash?: unknown } | null;
    if (d?.type === 'opcode-open' && typeof d.hash === 'string') void openFromLocation(controller, d.hash);
  });
}

registerServiceWorker();

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <AppContext.Provider value={{ store, controller, feed }}>
      <App />
    </AppContext.Provider>
  </StrictMode>,
);
