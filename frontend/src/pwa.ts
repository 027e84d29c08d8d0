// Registers the service worker (`/sw.js`, made by the build: see vite.config.ts) that keeps the app shell and
// the last answers of the session lists for a phone without network. A new version of the server installs a
// new worker beside the old one; it takes over when the page is next loaded (reload), never mid-page, so
// old and new files are never mixed.

export function registerServiceWorker(nav: Navigator = navigator): void {
  if (!('serviceWorker' in nav) || typeof window === 'undefined' || !window.isSecureContext) return;
  if (import.meta.env.DEV) return; // the dev server serves modules, not the built shell
  const sw = nav.serviceWorker;
  window.addEventListener('load', () => {
    sw.register('/sw.js', { scope: '/' })
      .then((reg) => {
        // This page was loaded with index.html from the network (network first), so it already is the
        // new version: let a waiting worker take over now.
        if (reg.waiting && sw.controller) reg.waiting.postMessage({ type: 'SKIP_WAITING' });
      })
      .catch(() => {
        /* no service worker (private mode, or not allowed): the app works without it, online */
      });
  });
}
