// React access to the app store and controller: a context plus selector hooks over useSyncExternalStore.

import { createContext, useContext, useSyncExternalStore } from 'react';
import type { Controller } from './controller';
import type { RunningSession } from './events';
import type { RunsFeed } from './feed';
import type { Action, AppState } from './reducer';
import type { Store } from './store';

export interface AppContextValue {
  store: Store<AppState, Action>;
  controller: Controller;
  /** The server's runs as last known (polled while the page is visible); absent in some tests. */
  feed?: RunsFeed;
}

export const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const v = useContext(AppContext);
  if (!v) throw new Error('AppContext missing');
  return v;
}

/** Re-renders when the selected slice changes (by reference). */
export function useAppState<T>(select: (s: AppState) => T): T {
  const { store } = useApp();
  return useSyncExternalStore(store.subscribe, () => select(store.getState()));
}

/** The server's runs as this page last knew them (null before the first answer, or without a feed). */
export function useRuns(): RunningSession[] | null {
  const { feed } = useApp();
  return useSyncExternalStore(
    (fn) => (feed ? feed.subscribe(fn) : () => {}),
    () => feed?.runs ?? null,
  );
}
