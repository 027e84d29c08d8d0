// The server's runs as this page last knew them (`/api/sessions/running`), shared by the home overview,
// the session lists and the waiting count in the title: asked every 10 s while the page is visible (and at
// once when it comes back), one request at a time. When the server cannot be reached the service worker
// answers with the last list it saw, so a phone without network still shows its sessions.

import { api } from './api';
import type { RunningSession } from './events';
import { RunsPoller } from './runs';

export const FEED_INTERVAL_MS = 10_000;

type Listener = () => void;

export class RunsFeed {
  runs: RunningSession[] | null = null;
  error: string | null = null;
  private readonly listeners = new Set<Listener>();
  private readonly poller: RunsPoller;
  private started = false;

  constructor(fetch: () => Promise<RunningSession[]> = api.running, intervalMs = FEED_INTERVAL_MS) {
    this.poller = new RunsPoller({
      fetch,
      intervalMs,
      onData: (runs) => {
        this.runs = runs;
        this.error = null;
        this.emit();
      },
      onError: (message) => {
        this.error = message;
        this.emit();
      },
    });
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    if (typeof document !== 'undefined') {
      if (document.visibilityState === 'hidden') this.poller.pause();
      document.addEventListener('visibilitychange', () => (document.visibilityState === 'hidden' ? this.poller.pause() : this.poller.resume()));
    }
    this.poller.start();
  }

  refresh(): void {
    this.poller.refresh();
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit() {
    for (const l of this.listeners) l();
  }
}
