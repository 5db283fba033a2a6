/**
 * Browser persistence of the identity in IndexedDB (database "safemeet", store "identity", see
 * db.js). CryptoKey objects are structured-cloneable, so the non-extractable private keys are
 * stored as keys, never as bytes. `backup` (when present) holds the private keys sealed under a
 * non-extractable AES-GCM key, for `Export identity` (see backup.js and docs/security.md).
 * Browser only (Node has no IndexedDB).
 * @module keystore
 */

import { clearAll, withStore } from './db.js';

const STORE = 'identity';
const RECORD = 'self';

/**
 * Save (or replace) the identity: {sigPrivate, sealPrivate, sigPublic, sealPublic, keys, number, backup}.
 * @param {import('./identity.js').Identity & {backup?: object|null}} identity
 * @returns {Promise<void>}
 */
export async function saveIdentity(identity) {
  const record = {
    sigPrivate: identity.sigPrivate,
    sealPrivate: identity.sealPrivate,
    sigPublic: identity.sigPublic,
    sealPublic: identity.sealPublic,
    keys: { sig: identity.keys.sig, seal: identity.keys.seal, bind: identity.keys.bind },
    number: identity.number ?? null,
    backup: identity.backup ?? null,
  };
  await withStore(STORE, 'readwrite', (store) => store.put(record, RECORD));
}

/**
 * Load the saved identity, or null if there is none.
 * @returns {Promise<import('./identity.js').Identity|null>}
 */
export async function loadIdentity() {
  const record = await withStore(STORE, 'readonly', (store) => store.get(RECORD));
  return record ?? null;
}

/**
 * Delete the saved identity (the private keys are gone for good).
 * @returns {Promise<void>}
 */
export async function deleteIdentity() {
  await withStore(STORE, 'readwrite', (store) => store.delete(RECORD));
}

/**
 * Delete the identity and every contact in one transaction.
 * @returns {Promise<void>}
 */
export async function wipeDevice() {
  await clearAll();
}
