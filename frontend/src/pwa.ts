// Registers the service worker (`/sw.js`, made by the build: see vite.config.ts) that keeps the app shell and
// the last answers of the session lists for a phone without network. A new version of the server installs a
// new worker beside the old one; it takes over only when a page running the new version's own files asks it
// to (a page loaded with the new index.html names its script, which the worker checks against its shell), never
// for a page still on the old files, so old and new files are never mixed.

/** The path of this page's own script (`/assets/index-<hash>.js`), which names its build. */
export function ownScript(url: string = import.meta.url): string {
  try {
    return new URL(url, 'http://x').pathname;
  } catch {
    return '';
  }
}

/** Tells `worker` (installed, waiting) to take over if it is this page's build. */
export function offerTakeOver(worker: Pick<ServiceWorker, 'postMessage'> | null | undefined, script = ownScript()): void {
  worker?.postMessage({ type: 'SKIP_WAITING', script });
}

export function registerServiceWorker(nav: Navigator = navigator): void {
  if (!('serviceWorker' in nav) || typeof window === 'undefined' || !window.isSecureContext) return;
  if (import.meta.env.DEV) return; // the dev server serves modules, not the built shell
  const sw = nav.serviceWorker;
  window.addEventListener('load', () => {
    sw.register('/sw.js', { scope: '/' })
      .then((reg) => {
        if (!sw.controller) return; // the first worker takes over by itself
        // A worker that finished installing before, or finishes now (the update check of this load), is offered
        // the page; it only takes over when it is this page's build.
        if (reg.waiting) offerTakeOver(reg.waiting);
        const whenInstalled = (next: ServiceWorker | null) =>
          next?.addEventListener('statechange', () => {
            if (next.state === 'installed') offerTakeOver(next);
          });
        reg.addEventListener('updatefound', () => whenInstalled(reg.installing));
        whenInstalled(reg.installing);
      })
      .catch(() => {
        /* no service worker (private mode, or not allowed): the app works without it, online */
      });
  });
}
