// Web Push: the service worker's push / notificationclick handlers (the built template, run against a fake
// `self`), the settings panel's flow up to the subscribe call (stubbed pushManager), and the visibility
// report each socket sends.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NotificationsPanel } from './components/Notifications';
import { SessionLink, reportVisibilityAll, setVisibilityReporter, type SocketLike } from './connection';
import { base64UrlToBytes, deviceId, visibilityMessage, type PushEnv } from './push';

type Listener = (event: unknown) => void;

/** Runs the service worker's source with a fake `self`; returns its listeners and the fakes. */
function loadWorker(fetchImpl: (url: string, init: RequestInit) => Promise<Response>) {
  const source = readFileSync(join(__dirname, 'sw/sw-template.js'), 'utf8').replace('__VERSION__', 'test').replace('__SHELL_FILES__', '[]');
  const listeners: Record<string, Listener> = {};
  const shown: { title: string; options: Record<string, unknown> }[] = [];
  const opened: string[] = [];
  const posted: unknown[] = [];
  const windows: { url: string; postMessage: (m: unknown) => void; focus: () => Promise<unknown> }[] = [];
  const self = {
    location: new URL('https://opcode.test/sw.js'),
    addEventListener: (type: string, fn: Listener) => (listeners[type] = fn),
    registration: {
      showNotification: async (title: string, options: Record<string, unknown>) => void shown.push({ title, options }),
    },
    clients: {
      matchAll: async () => windows,
      openWindow: async (url: string) => void opened.push(url),
      claim: async () => {},
    },
    skipWaiting: async () => {},
  };
  new Function('self', 'caches', 'fetch', source)(self, {}, fetchImpl);
  const run = async (type: string, event: Record<string, unknown>) => {
    let done: Promise<unknown> = Promise.resolve();
    listeners[type]({ ...event, waitUntil: (p: Promise<unknown>) => (done = p) });
    await done;
  };
  const addWindow = (url: string) => windows.push({ url, postMessage: (m) => posted.push(m), focus: async () => null });
  return { run, shown, opened, posted, addWindow };
}

const permissionPayload = {
  v: 1,
  kind: 'permission_request',
  title: 'app: allow Bash?',
  body: 'echo hi > tool-ran.txt — write a file',
  tag: 'perm:r1',
  url: '/?session=11111111-2222-3333-4444-555555555555',
  session_id: '11111111-2222-3333-4444-555555555555',
  project: 'app',
  permission: { request_id: 'r1', tool_name: 'Bash', summary: 'echo hi', expires_at: 1, answer_url: '/api/sessions/s1/permissions/r1' },
  sent_at: 1,
};

describe('service worker: Web Push', () => {
  it('push shows the notification: title, body, tag, data, Allow / Deny for a permission request', async () => {
    const w = loadWorker(async () => new Response(''));
    await w.run('push', { data: { json: () => permissionPayload } });
    expect(w.shown).toHaveLength(1);
    const { title, options } = w.shown[0];
    expect(title).toBe('app: allow Bash?');
    expect(options).toMatchObject({
      body: 'echo hi > tool-ran.txt — write a file',
      tag: 'perm:r1',
      actions: [
        { action: 'allow', title: 'Allow' },
        { action: 'deny', title: 'Deny' },
      ],
      data: { kind: 'permission_request', url: '/#session=11111111-2222-3333-4444-555555555555', answer_url: '/api/sessions/s1/permissions/r1' },
    });
    await w.run('push', { data: { json: () => ({ v: 1, kind: 'finished', title: 'app: done', body: 'All good', tag: 'run:s', url: '/?session=s' }) } });
    expect(w.shown[1].options.actions).toBeUndefined();
    expect(w.shown[1].options.tag).toBe('run:s');
    // a payload that is not JSON still shows something
    await w.run('push', { data: { json: () => JSON.parse('{'), text: () => 'plain' } });
    expect(w.shown[2]).toMatchObject({ title: 'opcode', options: { body: 'plain' } });
  });

  it('Allow / Deny actions POST the answer (same-origin credentials) and close; a body tap opens the session', async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const w = loadWorker(async (url, init) => {
      calls.push({ url, init });
      return new Response('{}', { status: 200 });
    });
    await w.run('push', { data: { json: () => permissionPayload } });
    const note = (data: unknown) => ({ data, close: vi.fn() });
    const n1 = note(w.shown[0].options.data);
    await w.run('notificationclick', { notification: n1, action: 'allow' });
    expect(calls[0].url).toBe('/api/sessions/s1/permissions/r1');
    expect(calls[0].init).toMatchObject({ method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' } });
    expect(JSON.parse(calls[0].init.body as string)).toEqual({ behavior: 'allow' });
    expect(n1.close).toHaveBeenCalled();
    expect(w.opened).toEqual([]);

    const n2 = note(w.shown[0].options.data);
    await w.run('notificationclick', { notification: n2, action: 'deny' });
    expect(JSON.parse(calls[1].init.body as string)).toMatchObject({ behavior: 'deny' });
    expect(n2.close).toHaveBeenCalled();

    // the body: no page open → a new window on /#session=<id>
    await w.run('notificationclick', { notification: note(w.shown[0].options.data), action: '' });
    expect(w.opened).toEqual(['/#session=11111111-2222-3333-4444-555555555555']);
    // a page open → it is focused and told what to open
    w.addWindow('https://opcode.test/#runs');
    await w.run('notificationclick', { notification: note(w.shown[0].options.data), action: '' });
    expect(w.posted).toEqual([{ type: 'opcode-open', hash: '#session=11111111-2222-3333-4444-555555555555' }]);
    expect(w.opened).toHaveLength(1);
    expect(calls).toHaveLength(2);
  });

  it('an answer that cannot reach the server opens the session instead', async () => {
    const w = loadWorker(async () => {
      throw new TypeError('offline');
    });
    await w.run('push', { data: { json: () => permissionPayload } });
    await w.run('notificationclick', { notification: { data: w.shown[0].options.data, close: () => {} }, action: 'allow' });
    expect(w.opened).toEqual(['/#session=11111111-2222-3333-4444-555555555555']);
  });
});

describe('push settings', () => {
  let container: HTMLDivElement;
  let root: Root;
  beforeEach(() => {
    (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
    container = document.createElement('div');
    document.body.appendChild(container);
    root = createRoot(container);
    vi.stubGlobal('PushManager', class {});
    localStorage.clear();
  });
  afterEach(() => {
    act(() => root.unmount());
    container.remove();
    vi.unstubAllGlobals();
  });
  const q = (id: string) => container.querySelector(`[data-testid="${id}"]`) as HTMLElement | null;
  const settle = () =>
    act(async () => {
      for (let i = 0; i < 10; i++) await Promise.resolve();
    });

  it('a device id is made once and kept', () => {
    const id = deviceId(localStorage);
    expect(id).toMatch(/^[A-Za-z0-9._-]{1,128}$/);
    expect(deviceId(localStorage)).toBe(id);
    expect(localStorage.getItem('opcode-device-id')).toBe(id);
  });

  it('decodes the VAPID key (base64url without padding)', () => {
    expect([...base64UrlToBytes('AQID_-8')]).toEqual([1, 2, 3, 255, 239]);
  });

  it('enable: permission, subscribe with the server key, POST the subscription; test; turn off', async () => {
    const subJson = { endpoint: 'https://push.example/abc', expirationTime: null, keys: { p256dh: 'P', auth: 'A' } };
    let current: { toJSON: () => unknown; unsubscribe: () => Promise<boolean> } | null = null;
    const subscribe = vi.fn(async (_opts: PushSubscriptionOptionsInit) => {
      current = { toJSON: () => subJson, unsubscribe: vi.fn(async () => true) };
      return current;
    });
    const requestPermission = vi.fn(async () => 'granted' as NotificationPermission);
    const env: PushEnv = {
      secure: true,
      notification: { permission: 'default', requestPermission },
      registration: async () => ({ pushManager: { getSubscription: async () => current, subscribe } }) as unknown as ServiceWorkerRegistration,
    };
    const calls: { method: string; url: string; body: unknown }[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit) => {
        calls.push({ method: init.method ?? 'GET', url, body: init.body ? JSON.parse(init.body as string) : null });
        const data = url.endsWith('vapid-public-key') ? { public_key: 'AQID' } : url.endsWith('/test') ? { accepted: true } : init.method === 'DELETE' ? { deleted: true } : { device_id: 'x' };
        return new Response(JSON.stringify({ success: true, data, error: null }), { status: 200 });
      }),
    );
    const id = deviceId(localStorage);
    await act(async () => root.render(<NotificationsPanel env={env} />));
    await settle();
    expect(q('notifications-panel')?.getAttribute('data-status')).toBe('off');
    await act(async () => q('push-enable')!.click());
    await settle();
    expect(requestPermission).toHaveBeenCalledTimes(1);
    expect(subscribe).toHaveBeenCalledTimes(1);
    const opts = subscribe.mock.calls[0][0];
    expect(opts.userVisibleOnly).toBe(true);
    expect([...(opts.applicationServerKey as Uint8Array)]).toEqual([1, 2, 3]);
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['GET /api/push/vapid-public-key', 'POST /api/push/subscriptions']);
    expect(calls[1].body).toEqual({ device_id: id, subscription: subJson });
    expect(q('notifications-panel')?.getAttribute('data-status')).toBe('on');

    await act(async () => q('push-test')!.click());
    await settle();
    expect(calls[2]).toEqual({ method: 'POST', url: '/api/push/test', body: { device_id: id } });
    expect(q('push-note')?.textContent).toMatch(/Test sent/);

    await act(async () => q('push-disable')!.click());
    await settle();
    expect(calls[3]).toEqual({ method: 'DELETE', url: '/api/push/subscriptions', body: { device_id: id } });
    expect(q('notifications-panel')?.getAttribute('data-status')).toBe('off');
  });

  it('a page that starts with a subscription tells the server again', async () => {
    const subJson = { endpoint: 'https://push.example/abc', expirationTime: null, keys: { p256dh: 'P', auth: 'A' } };
    const env: PushEnv = {
      secure: true,
      notification: { permission: 'granted', requestPermission: async () => 'granted' },
      registration: async () => ({ pushManager: { getSubscription: async () => ({ toJSON: () => subJson }), subscribe: vi.fn() } }) as unknown as ServiceWorkerRegistration,
    };
    const fetchMock = vi.fn(async () => new Response(JSON.stringify({ success: true, data: { device_id: 'x' }, error: null })));
    vi.stubGlobal('fetch', fetchMock);
    const id = deviceId(localStorage);
    await act(async () => root.render(<NotificationsPanel env={env} />));
    await settle();
    expect(q('notifications-panel')?.getAttribute('data-status')).toBe('on');
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/push/subscriptions');
    expect(JSON.parse(init.body as string)).toEqual({ device_id: id, subscription: subJson });
  });

  it('a refused permission is a sentence, and nothing is subscribed', async () => {
    const subscribe = vi.fn();
    const env: PushEnv = {
      secure: true,
      notification: { permission: 'default', requestPermission: async () => 'denied' },
      registration: async () => ({ pushManager: { getSubscription: async () => null, subscribe } }) as unknown as ServiceWorkerRegistration,
    };
    await act(async () => root.render(<NotificationsPanel env={env} />));
    await settle();
    await act(async () => q('push-enable')!.click());
    await settle();
    expect(q('push-error')?.textContent).toMatch(/blocked/);
    expect(subscribe).not.toHaveBeenCalled();
  });

  it('without HTTPS it says why', async () => {
    const env: PushEnv = { secure: false, notification: null, registration: async () => null };
    await act(async () => root.render(<NotificationsPanel env={env} />));
    expect(q('notifications-panel')?.getAttribute('data-status')).toBe('unavailable');
    expect(q('push-enable')).toBeNull();
  });
});

describe('visibility reports', () => {
  class Sock implements SocketLike {
    readyState = 0;
    sent: string[] = [];
    onopen: ((ev: unknown) => void) | null = null;
    onmessage: ((ev: { data: unknown }) => void) | null = null;
    onclose: ((ev: { code: number; reason?: string }) => void) | null = null;
    onerror: ((ev: unknown) => void) | null = null;
    send(d: string) {
      this.sent.push(d);
    }
    close() {
      this.readyState = 3;
    }
  }
  afterEach(() => setVisibilityReporter(null));

  it('each socket reports right after it opens and on every visibility change', () => {
    let visible: DocumentVisibilityState = 'visible';
    setVisibilityReporter(() => visibilityMessage({ visibilityState: visible }, 'dev-1'));
    const socks: Sock[] = [];
    const link = new SessionLink({
      baseUrl: 'ws://x',
      sessionId: 's1',
      getLastSeq: () => -1,
      onEvents: () => {},
      onState: () => {},
      socketFactory: () => {
        const s = new Sock();
        socks.push(s);
        return s;
      },
      batchMs: 0,
    } as unknown as ConstructorParameters<typeof SessionLink>[0]);
    link.start();
    socks[0].readyState = 1;
    socks[0].onopen?.({});
    expect(socks[0].sent.map((m) => JSON.parse(m))).toEqual([{ type: 'visibility', device: 'dev-1', visible: true }]);
    visible = 'hidden';
    expect(reportVisibilityAll()).toBe(1);
    expect(JSON.parse(socks[0].sent[1])).toEqual({ type: 'visibility', device: 'dev-1', visible: false });
    link.stop();
    expect(reportVisibilityAll()).toBe(0);
  });
});
