// React access to the app store and controller: a context plus selector hooks over useSyncExternalStore.

import { createContext, useContext, useSyncExternalStore } from 'react';
import type { Controller } from './controller';
import type { Action, AppState } from './reducer';
import type { Store } from './store';

export interface AppContextValue {
  store: Store<AppState, Action>;
  controller: Controller;
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
