/**
 * Boot: load the identity from IndexedDB (or make and save an exportable one), connect to the
 * node, register, show our number, and keep the connection up until the identity card halts it
 * (import or delete). Optional settings come from
 * `window.safemeetConfig` (tests set it with an init script): `{ringTimeoutMs, connectTimeoutMs}`.
 * @module main
 */

import { makeExportableIdentity } from './backup.js';
import { mountIdentity } from './identityui.js';
import { loadIdentity, saveIdentity } from './keystore.js';
import { Signaling, nodeUrl } from './signaling.js';
import { Phone } from './phone.js';
import { mountPrivacy } from './privacy.js';
import { mountTrust } from './trustui.js';
import { mountUi } from './ui.js';

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 15000;

/** @returns {import('./phone.js').PhoneConfig} */
function readConfig() {
  const raw = globalThis.safemeetConfig ?? {};
  const config = {};
  for (const key of ['ringTimeoutMs', 'connectTimeoutMs']) {
    const ms = Number(raw[key]);
    if (Number.isFinite(ms) && ms > 0) config[key] = ms;
  }
  return config;
}

async function loadOrMakeIdentity() {
  const saved = await loadIdentity();
  if (saved) return saved;
  const identity = await makeExportableIdentity();
  await saveIdentity(identity);
  return identity;
}

async function connectForever(identity, phone, ui, session) {
  let delay = RETRY_MIN_MS;
  while (!session.halted) {
    ui.setConnection('connecting', 'Connecting…');
    try {
      const signaling = await Signaling.connect(nodeUrl(location), identity);
      if (session.halted) {
        signaling.close();
        break;
      }
      session.current = signaling;
      if (identity.number !== signaling.number) {
        identity.number = signaling.number;
        await saveIdentity(identity);
      }
      ui.setNumber(signaling.number);
      phone.attach(signaling);
      ui.setConnection('online', 'Online');
      delay = RETRY_MIN_MS;
      await new Promise((resolve) => signaling.addEventListener('close', resolve, { once: true }));
      session.current = null;
      if (session.halted) break;
      console.warn('node connection closed; reconnecting');
    } catch (e) {
      console.warn('cannot register at the node:', e?.code ?? e?.name);
    }
    ui.setConnection('offline', 'Offline, retrying…');
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, RETRY_MAX_MS);
  }
}

async function boot() {
  const identity = await loadOrMakeIdentity();
  const phone = new Phone(identity, readConfig());
  const ui = mountUi(document, phone);
  if (identity.number) ui.setNumber(identity.number);
  mountTrust(document, phone);
  mountPrivacy(document, phone.privacy);
  const session = {
    identity,
    halted: false,
    current: null,
    signaling: () => session.current,
    halt: () => { session.halted = true; },
    restart: () => {
      session.halted = false;
      if (!session.current) connectForever(identity, phone, ui, session);
    },
  };
  mountIdentity(document, session);
  await connectForever(identity, phone, ui, session);
  ui.setConnection('offline', 'Stopped');
}

boot().catch((e) => {
  const conn = document.getElementById('conn');
  conn.dataset.state = 'offline';
  conn.textContent = 'This browser cannot run safemeet (it needs WebCrypto Ed25519 and X25519).';
  console.warn('boot failed:', e?.name, e?.message);
});
