/**
 * Boot: load the identity from IndexedDB (or make and save an exportable one), connect to the
 * node, register, show our number, and keep registered (reconnecting, and failing over to the
 * deployment's other nodes: signaling.js NodeLink) until the identity card halts it (import or
 * delete). Optional settings come from `window.safemeetConfig` (tests set it with an init script):
 * `{ringTimeoutMs, connectTimeoutMs, offlineAfterMs}`.
 * @module main
 */

import { makeExportableIdentity } from './backup.js';
import { mountIdentity } from './identityui.js';
import { loadIdentity, saveIdentity } from './keystore.js';
import { NodeLink } from './signaling.js';
import { Phone } from './phone.js';
import { mountPrivacy } from './privacy.js';
import { mountTrust } from './trustui.js';
import { mountUi } from './ui.js';

/** What the Signaling status says per NodeLink state. */
const SIGNALING_TEXT = {
  connecting: 'Connecting…', online: 'Online', reconnecting: 'Reconnecting…', offline: 'Offline', stopped: 'Offline',
};

/**
 * The positive numbers among `keys` in `window.safemeetConfig`.
 * @param {string[]} keys
 * @returns {Record<string, number>}
 */
function readConfig(keys = ['ringTimeoutMs', 'connectTimeoutMs']) {
  const raw = globalThis.safemeetConfig ?? {};
  const config = {};
  for (const key of keys) {
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

/** Keep `link` running; every new registration goes to the phone, the number is kept up to date. */
function connectLink(identity, phone, ui, link) {
  link.addEventListener('state', (e) => ui.setConnection(e.detail.state, SIGNALING_TEXT[e.detail.state]));
  link.addEventListener('registered', (e) => {
    const { signaling } = e.detail;
    phone.attach(signaling); // before 'online' enables Call
    ui.setNumber(signaling.number);
    if (identity.number !== signaling.number) {
      identity.number = signaling.number;
      saveIdentity(identity).catch((err) => console.warn('number not saved:', err?.name));
    }
  });
}

async function boot() {
  const identity = await loadOrMakeIdentity();
  const phone = new Phone(identity, readConfig());
  const ui = mountUi(document, phone);
  if (identity.number) ui.setNumber(identity.number);
  mountTrust(document, phone);
  mountPrivacy(document, phone.privacy);
  const { offlineAfterMs } = readConfig(['offlineAfterMs']);
  const link = new NodeLink(identity, { home: location.origin, storage: globalThis.localStorage ?? null, offlineAfterMs });
  connectLink(identity, phone, ui, link);
  const session = {
    identity,
    signaling: () => link.current,
    halt: () => link.halt(),
    restart: () => link.run(),
  };
  mountIdentity(document, session);
  await link.run();
}

boot().catch((e) => {
  const conn = document.getElementById('conn');
  conn.dataset.state = 'offline';
  conn.textContent = 'This browser cannot run safemeet (it needs WebCrypto Ed25519 and X25519).';
  console.warn('boot failed:', e?.name, e?.message);
});
