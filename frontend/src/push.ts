// Web Push, the page's half (docs/protocol.md "Web Push"): this device's id (made once, kept in
// localStorage), turning notifications on (permission, pushManager.subscribe with the server's VAPID key,
// POST /api/push/subscriptions), a test push, turning them off, and the visibility report the sockets send.

import { api } from './api';
import { newUuid } from './uuid';

const DEVICE_KEY = 'opcode-device-id';
const DEVICE_RE = /^[A-Za-z0-9._-]{1,128}$/;

let memoryId: string | null = null;

/** This browser profile's device id: made once, kept in `storage` (in memory when there is none). */
export function deviceId(storage: Pick<Storage, 'getItem' | 'setItem'> | null = safeLocalStorage()): string {
  try {
    const kept = storage?.getItem(DEVICE_KEY);
    if (kept && DEVICE_RE.test(kept)) return kept;
  } catch {
    /* storage not allowed */
  }
  const id = memoryId ?? newUuid();
  memoryId = id;
  try {
    storage?.setItem(DEVICE_KEY, id);
  } catch {
    /* kept in memory only */
  }
  return id;
}

function safeLocalStorage(): Storage | null {
  try {
    return typeof window === 'undefined' ? null : window.localStorage;
  } catch {
    return null;
  }
}

/** The page's report for each socket: `{"type":"visibility","device":D,"visible":bool}`. */
export function visibilityMessage(doc: Pick<Document, 'visibilityState'> = document, id = deviceId()) {
  return { type: 'visibility' as const, device: id, visible: doc.visibilityState === 'visible' };
}

/** base64url (padding optional) → bytes, for `applicationServerKey`. */
export function base64UrlToBytes(s: string): Uint8Array<ArrayBuffer> {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export interface PushEnv {
  notification: { permission: NotificationPermission; requestPermission: () => Promise<NotificationPermission> } | null;
  /** The service worker's registration once it is active; null: no service worker here. */
  registration: () => Promise<Pick<ServiceWorkerRegistration, 'pushManager'> | null>;
  secure: boolean;
}

export function browserPushEnv(): PushEnv {
  const hasSw = typeof navigator !== 'undefined' && 'serviceWorker' in navigator;
  return {
    notification: typeof Notification === 'undefined' ? null : Notification,
    registration: async () => (hasSw ? navigator.serviceWorker.ready : null),
    secure: typeof window !== 'undefined' && window.isSecureContext,
  };
}

/** Why notifications cannot work in this browser, or null when they can. */
export function pushUnavailable(env: PushEnv): string | null {
  if (!env.secure) return 'Notifications need HTTPS (or localhost): open opcode-web over https to use them.';
  if (!env.notification) return 'This browser has no notifications.';
  if (typeof window !== 'undefined' && !('PushManager' in window)) {
    return 'This browser has no Web Push (on an iPhone: add opcode to the home screen first, then open it from there).';
  }
  return null;
}

/** Keeps this device's id where the service worker reads it (the cache `opcode-device`), so its
 *  `pushsubscriptionchange` handler saves a renewed subscription under it. Best effort. */
export async function rememberDeviceForWorker(id = deviceId()): Promise<void> {
  try {
    if (typeof caches === 'undefined') return;
    const cache = await caches.open('opcode-device');
    await cache.put('/__opcode/device-id', new Response(id, { headers: { 'content-type': 'text/plain' } }));
  } catch {
    /* no Cache Storage here: a renewed subscription is saved when the page next starts */
  }
}

/** Whether this device has a push subscription in this browser (with the permission still granted); when it
 *  has, the server is told it again (idempotent: the browser may have renewed it). */
export async function pushSubscribed(env: PushEnv, id = deviceId()): Promise<boolean> {
  const reg = await env.registration();
  if (!reg?.pushManager || env.notification?.permission !== 'granted') return false;
  const sub = await reg.pushManager.getSubscription();
  if (!sub) return false;
  await rememberDeviceForWorker(id);
  await api.subscribePush(id, sub.toJSON()).catch(() => undefined);
  return true;
}

/** Turns notifications on for this device: asks the permission, subscribes with the server's key, tells the
 *  server. Throws with a sentence when it cannot. */
export async function enablePush(env: PushEnv, id = deviceId()): Promise<void> {
  if (!env.notification) throw new Error('This browser has no notifications.');
  const permission = env.notification.permission === 'granted' ? 'granted' : await env.notification.requestPermission();
  if (permission !== 'granted') throw new Error('Notifications are blocked for this site: allow them in the browser’s site settings.');
  const reg = await env.registration();
  if (!reg?.pushManager) throw new Error('The service worker is not running, so notifications cannot be received.');
  const { public_key } = await api.vapidPublicKey();
  const existing = await reg.pushManager.getSubscription();
  const sub = existing ?? (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(public_key) }));
  await api.subscribePush(id, sub.toJSON());
  await rememberDeviceForWorker(id);
}

/** Turns notifications off for this device (the browser's subscription too). */
export async function disablePush(env: PushEnv, id = deviceId()): Promise<void> {
  const reg = await env.registration();
  const sub = reg?.pushManager ? await reg.pushManager.getSubscription() : null;
  await api.unsubscribePush(id);
  if (sub) await sub.unsubscribe().catch(() => false);
  if (typeof caches !== 'undefined') await caches.delete('opcode-device').catch(() => false);
}

export async function testPush(id = deviceId()): Promise<void> {
  await api.testPush(id);
}
