// Entry point: builds the store and controller, installs the e2e debug hook, renders the app.

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './components/App';
import { dropAllSockets, nudgeAllLinks } from './connection';
import { AppContext } from './context';
import { Controller, wsBaseUrl } from './controller';
import { RunsFeed } from './feed';
import { registerServiceWorker } from './pwa';
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
  if (document.visibilityState === 'visible') wake();
});

registerServiceWorker();

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <AppContext.Provider value={{ store, controller, feed }}>
      <App />
    </AppContext.Provider>
  </StrictMode>,
);
